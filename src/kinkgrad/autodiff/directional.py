"""Directional mode: certified generalized gradients (Kakade & Lee 2018; Khan & Barton's
lexicographic derivatives).

Every differentiated input gets probing directions v1, v2, ... (random, seeded, or given). At a kink
the resolver picks the piece active on x + t v1 for small t > 0 by the sign of the switching
quantity's tangent, looking at v2 where that is exactly 0, and so on; comparisons decide ties the
same way. The reverse pass uses those choices, so the gradient is that of one smooth piece of f
agreeing with f on a set touching x: an element of the Bouligand (so Clarke) subdifferential.
``relu(x) - relu(-x)`` gets 1.

Tangents are computed on demand, only for ops that sit on a kink or a tie, by running the recorded
graph's own rules forward on NumPy (memoized per node): away from kinks it costs nothing more.
"""
from __future__ import annotations

import sys

import numpy as np

from ..context import running, running_op
from ..kinks.policy import current
from ..kinks.resolve import first_nonzero_sign
from ..tensor import Tensor
from . import primitive
from .primitive import Node, Rules, apply

MAX_DEPTH = 3     # kg.grad retries with up to this many directions while some kink stays undecided
_NONE = ()        # memo marker: this node's output has no tangent (it does not depend on the inputs)


def seed_directions(t, policy, first=None):
    """Attach probing directions to a transform's input; ``first`` is the user's direction."""
    dirs = [policy.rng.standard_normal(t.data.shape).astype(t.data.dtype) for _ in range(policy.depth)]
    if first is not None:
        first = np.asarray(getattr(first, "data", first), dtype=t.data.dtype)
        if first.shape != t.data.shape:
            raise ValueError(f"grad(kinks='directional'): direction has shape {first.shape} but the input has "
                             f"shape {t.data.shape}")
        dirs[0] = first
    t._dir = (policy, dirs)


def _leaf_dirs(t):
    """A leaf's directions; one that requires grad and has none yet gets fresh seeded ones (this is
    how ``loss.backward()`` inside ``kg.kinks("directional")`` works)."""
    if t._dir is None and t.requires_grad and t.data.dtype.kind == "f":
        seed_directions(t, current())
    return t._dir[1] if t._dir is not None else None


def _ref_dirs(ref):
    if type(ref) is Node:
        return ref.dirs_out if ref.dirs_out is not _NONE else None
    return _leaf_dirs(ref) if ref is not None else None


def node_input_dirs(node):
    """The tangents of ``node``'s inputs along each direction, computing any that are missing."""
    if node.dirs is None:
        stack = [p for p in node.parents if type(p) is Node and p.dirs_out is None]
        while stack:
            missing = [p for p in stack[-1].parents if type(p) is Node and p.dirs_out is None]
            if missing:
                stack.extend(missing)
            else:
                n = stack.pop()
                if n.dirs_out is None:      # (a node reached twice is computed once)
                    _compute(n)
        node.dirs = [_ref_dirs(p) for p in node.parents]
    return node.dirs


def _compute(n):
    """A node's output tangents along every direction, from its primitive's own rules on NumPy;
    elementwise ops also keep the partials they resolved, which the backward pass reuses."""
    dirs = [_ref_dirs(p) for p in n.parents]
    if n.xs is None:
        raise RuntimeError(f"directional mode: {n.prim.name}'s saved values were already freed; run the "
                           "forward and backward passes inside the same kg.kinks('directional') block")
    n.dirs = dirs
    if all(d is None for d in dirs) or not n.prim.differentiable:
        n.dirs_out = _NONE
        return
    prim, xs, out = n.prim, n.xs, n.out
    m = Rules.numpy
    with running_op(running().site, lambda: dirs):
        if prim.derivs is not None:
            n.partials = {i: prim.partial(i, m, out, xs, xs, n.params, directions=dirs)
                          for i, d in enumerate(dirs) if d is not None and prim.derivs[i] is not None}
        K = max(len(d) for d in dirs if d is not None)
        n.dirs_out = [_as_output_tangent(prim.tangent(m, [d[k] if d is not None else None for d in dirs], out, xs,
                                                      n.params, xs, n.partials), out) for k in range(K)]


def tensor_dirs(a):
    """A value's tangents along the probing directions (None: it does not depend on them)."""
    if not isinstance(a, Tensor):
        return None
    if a.node is not None and a.node.dirs_out is None:
        node_input_dirs(a.node)
        _compute(a.node)
    return _ref_dirs(a.node if a.node is not None else a)


def apply_directional(prim, args, params):
    """Values that jump at a point are taken on the piece active along the directions: comparisons
    at exact equality, and step-like ops (sign, floor, round, heaviside...) at their jumps."""
    out = apply(prim, args, params, directional_values=False)
    if prim.tie_break is not None:
        return _compare(prim, args, out)
    return _jump(prim, args, params, out)


def _compare(prim, args, out):
    xs = [a.data if isinstance(a, Tensor) else np.asarray(a) for a in args]
    tie = xs[0] == (xs[1] if len(xs) > 1 else 0)
    if not np.any(tie):
        return out
    da, db = tensor_dirs(args[0]), tensor_dirs(args[1]) if len(args) > 1 else None
    if da is None and db is None:
        return out
    K = len(da if da is not None else db)
    diffs = [np.asarray(da[k] if da is not None else 0.0) - np.asarray(db[k] if db is not None else 0.0)
             for k in range(K)]
    out.data = np.where(tie, prim.tie_break(_decide(prim.name, tie, diffs)), out.data)
    return out


def _jump(prim, args, params, out):
    """sign(0) along v > 0 is 1, floor(1) along v < 0 is 0: evaluate the kernel one ulp toward the
    direction at the jump points."""
    x = args[0] if args else None
    if not isinstance(x, Tensor) or prim.kinks is None:
        return out
    kink = prim.kinks[0] if isinstance(prim.kinks, tuple) else prim.kinks
    if kink is None or kink.kind != "jump":
        return out
    xs = [a.data if isinstance(a, Tensor) else a for a in args]
    at = np.asarray(kink.at(*xs, **params))
    if not at.any():
        return out
    dirs = tensor_dirs(x)
    if dirs is None:
        return out
    step = _decide(prim.name, at, dirs)
    nudged = np.where(step > 0, np.nextafter(xs[0], np.inf), np.where(step < 0, np.nextafter(xs[0], -np.inf), xs[0]))
    out.data = np.asarray(prim.kernel(nudged, *xs[1:], **params)).astype(out.data.dtype, copy=False)
    return out


def _decide(op, mask, tangents):
    """The sign of the first nonzero tangent at each point of ``mask`` (0 elsewhere); the audit counts
    which direction decided each point."""
    sign, counts = first_nonzero_sign([np.broadcast_to(t, mask.shape)[mask] for t in tangents])
    audit = current().audit
    if audit is not None and len(sign):
        audit.record_directional(op, running().site, counts, len(sign))
    full = np.zeros(mask.shape)
    full[mask] = sign
    return full


def _as_output_tangent(t, out):
    t = np.asarray(t if t is not None else np.zeros_like(out))
    if t.shape != out.shape:
        t = np.broadcast_to(t, out.shape)
    return t.astype(out.dtype, copy=False)


primitive.DIRECTIONAL[0] = sys.modules[__name__]
