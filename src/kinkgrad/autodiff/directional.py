"""Directional mode: certified generalized gradients (Kakade & Lee 2018; Khan & Barton's
lexicographic derivatives).

The forward pass carries, next to every value, its tangents along a few probing directions
v1, v2, ... (random, seeded, or given). At a kink the resolver picks the piece that is active on
x + t v1 for small t > 0, by the sign of the tangent of the op's switching quantity; where that
tangent is exactly 0 it looks at v2, and so on (the lexicographic rule); every tangent then goes
through the chosen piece. Comparisons decide equality the same way, so ``where`` follows.
The reverse pass reads those choices back, so the gradient returned is the gradient of one smooth
piece of f that agrees with f on a set touching x: an element of the Bouligand (so Clarke)
subdifferential for piecewise-smooth programs. ``relu(x) - relu(-x)`` gets 1 at 0.

Tangents here are plain arrays computed by the same derivative rules run on NumPy, not a second
differentiable trace, which keeps the cost a small constant factor over a plain gradient.
"""
from __future__ import annotations

import numpy as np

from ..kinks.policy import _POLICY
from ..tensor import Tensor
from . import rawops
from .sites import running

DEPTH = 2   # probing directions: the first decides almost surely, the second breaks exact ties


def directions_of(a, policy):
    """The tangents of ``a`` along the probing directions of the active directional run, or None.

    A leaf that requires grad and has none yet gets fresh random directions from the policy's
    seeded generator (this is how ``loss.backward()`` inside ``kg.kinks("directional")`` works).
    """
    d = a._dir
    if d is not None and d[0] is policy:
        return d[1]
    if a.requires_grad and a.node is None and a.data.dtype.kind == "f":
        dirs = [policy.rng.standard_normal(a.data.shape).astype(a.data.dtype) for _ in range(DEPTH)]
        a._dir = (policy, dirs)
        return dirs
    return None


def seed_directions(t, policy, first=None):
    """Attach probing directions to a transform's input; ``first`` is the user's direction."""
    dirs = [policy.rng.standard_normal(t.data.shape).astype(t.data.dtype) for _ in range(DEPTH)]
    if first is not None:
        first = np.asarray(getattr(first, "data", first), dtype=t.data.dtype)
        if first.shape != t.data.shape:
            raise ValueError(f"grad(kinks='directional'): direction has shape {first.shape} but the input has "
                             f"shape {t.data.shape}")
        dirs[0] = first
    t._dir = (policy, dirs)


def first_nonzero_sign(switches):
    """Elementwise sign of the first nonzero entry of ``switches`` (a list of arrays): +1 / -1, 0 if all 0.
    Also returns how many elements were decided by the first direction and by later ones."""
    sign = np.zeros(np.broadcast_shapes(*[np.shape(s) for s in switches]))
    undecided = np.ones(sign.shape, dtype=bool)
    counts = []
    for s in switches:
        sg = np.sign(np.broadcast_to(s, sign.shape))
        take = undecided & (sg != 0)
        sign = np.where(take, sg, sign)
        counts.append(int(np.count_nonzero(take)))
        undecided &= ~take
    return sign, counts


def apply_directional(prim, args, params):
    from .primitive import apply

    policy = _POLICY.get()
    dirs = [directions_of(a, policy) if isinstance(a, Tensor) else None for a in args]
    out = apply(prim, args, params, plain=True)
    if not any(d is not None for d in dirs):
        return out
    xs = tuple(a.data if isinstance(a, Tensor) else a for a in args)
    if prim.tie_break is not None:
        out.data = _break_ties(prim, xs, out.data, dirs)
        return out
    if not prim.differentiable or out.data.dtype.kind != "f":
        return out
    running.dirs = dirs
    try:
        tangents = _tangents(prim, dirs, out.data, xs, params)
    finally:
        running.dirs = None
    out._dir = (policy, tangents)
    if out.node is not None:
        out.node.dirs = dirs
    return out


def _break_ties(prim, xs, out, dirs):
    """A comparison at exact equality: decided by the first nonzero tangent difference."""
    a, b = np.asarray(xs[0]), np.asarray(xs[1]) if len(xs) > 1 else 0.0
    tie = a == b
    if not np.any(tie):
        return out
    zero = 0.0
    da = dirs[0] if dirs[0] is not None else [zero] * DEPTH
    db = dirs[1] if len(dirs) > 1 and dirs[1] is not None else [zero] * DEPTH
    sign, _ = first_nonzero_sign([np.asarray(ta) - np.asarray(tb) for ta, tb in zip(da, db)])
    return np.where(tie, prim.tie_break(sign), out)


def _tangents(prim, dirs, out, xs, params):
    """The output's tangent along each direction, from the primitive's own rules run on NumPy."""
    from .primitive import _masked_product, _resolve

    m = rawops
    result = []
    if prim.derivs is not None:
        partials = {}
        for i, d in enumerate(dirs):
            if d is None or prim.derivs[i] is None:
                continue
            p = prim.derivs[i](m, out, *xs, **params)
            if prim.kinks is not None:
                p = _resolve(prim, i, p, m, xs, params, None, None, dirs)
            partials[i] = p
        for k in range(DEPTH):
            total = None
            for i, p in partials.items():
                term = _masked_product(m, dirs[i][k], p) if prim.singular else dirs[i][k] * p
                total = term if total is None else total + term
            result.append(_fit(total, out))
        return result
    for k in range(DEPTH):
        ts = [d[k] if d is not None else None for d in dirs]
        if prim.variadic and prim.jvps is not None:
            result.append(_fit(prim.jvps[0](m, ts, out, *xs, **params), out))
            continue
        total = None
        for i, t in enumerate(ts):
            if t is None:
                continue
            if prim.linear:
                a = list(xs)
                a[i] = t
                term = prim.impl(*a, **params)
            elif prim.jvps is not None and i < len(prim.jvps) and prim.jvps[i] is not None:
                term = prim.jvps[i](m, t, out, *xs, **params)
            else:
                raise NotImplementedError(f"{prim.name}: no forward rule for argument {i}, so directional "
                                          "mode cannot follow it")
            total = term if total is None else total + term
        result.append(_fit(total, out))
    return result


def _fit(t, out):
    t = np.asarray(t if t is not None else np.zeros_like(out))
    if t.shape != out.shape:
        t = np.broadcast_to(t, out.shape)
    return t.astype(out.dtype, copy=False)
