"""Kink-aware derivative checking: ``gradcheck``, exact one-sided derivatives, Clarke intervals.

A plain finite-difference check fails at a kink even when the derivative rule is right, because
there is no single derivative to compare with. ``gradcheck`` detects kinks (from the audit of the
AD pass and from one-sided differences that disagree, as Chainer's check does) and there checks
what can be checked: that the AD value lies in the coordinate-wise hull of the gradients of f at
points x + t v just beside x (the limiting gradients that generate the Clarke subdifferential).
"""
from __future__ import annotations

import numpy as np

from .autodiff.directional import seed_directions, tensor_dirs
from .autodiff.transforms import grad
from .kinks.audit import audit
from .kinks.policy import current
from .kinks.policy import kinks as kink_scope
from .tensor import Tensor


class GradcheckError(AssertionError):
    """Raised by ``gradcheck`` when a derivative rule disagrees with finite differences."""


class GradcheckResult:
    """What ``gradcheck`` found: ``passed``, the AD and numerical values, and kink details."""

    def __init__(self, passed, ad, numeric, at_kink, kink_ops, semantics, messages):
        self.passed = passed
        self.ad = ad
        self.numeric = numeric
        self.at_kink = at_kink
        self.kink_ops = kink_ops
        self.semantics = semantics
        self.messages = messages

    def __bool__(self):
        return self.passed

    def __repr__(self):
        state = "passed" if self.passed else "FAILED"
        where = f" at a kink of {', '.join(self.kink_ops)}" if self.at_kink else ""
        return f"<gradcheck {state}{where} ({self.semantics})" + "".join(f"\n  {m}" for m in self.messages) + ">"


def _as64(x):
    return np.array(x.data if isinstance(x, Tensor) else x, dtype=np.float64)


def _scalarized(f, nargs, shapes, w):
    """phi(flat) = <w, f(*args)>: one scalar function of all inputs, flattened and concatenated."""
    splits = np.cumsum([int(np.prod(s)) for s in shapes])[:-1]

    def phi_np(flat):
        parts = np.split(flat, splits)
        y = f(*[p.reshape(s) for p, s in zip(parts, shapes)])
        return float(np.sum(np.asarray(y.data if isinstance(y, Tensor) else y, dtype=np.float64) * w))

    return phi_np


def _fd_gradient(phi, x, h):
    g = np.empty_like(x)
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = h
        g[j] = (phi(x + e) - phi(x - e)) / (2 * h)
    return g


def gradcheck(f, *inputs, eps=1e-6, atol=1e-6, rtol=1e-5, kinks=None, probes=None, seed=0, raise_exception=True):
    """Compare kinkgrad's derivative of ``f`` at ``inputs`` with finite differences, in float64.

    Away from kinks: AD must match central differences (``atol + rtol * |fd|``). Where ``f`` has
    a kink (the AD pass hit one, or one-sided differences disagree), the AD value must lie in the
    coordinate-wise hull of the gradients at ``probes`` points x + t v beside x, and the result
    names the op(s) at the kink and the rule that decided. Non-scalar outputs are contracted with
    a fixed random cotangent. ``probes`` (default 32 + 8 per input element) random points are used
    at a kink, plus the coordinate directions. ``seed`` fixes the probes and, with
    ``kinks="directional"``, the probing directions. Returns a ``GradcheckResult``; raises
    ``GradcheckError`` on failure unless ``raise_exception=False``. A NaN or inf derivative fails
    wherever the finite differences are finite.
    """
    rng = np.random.default_rng(seed)
    xs = [_as64(x) for x in inputs]
    shapes = [x.shape for x in xs]
    y0 = f(*[Tensor._wrap(x.copy()) for x in xs])
    w = rng.uniform(0.5, 1.5, np.shape(y0.data if isinstance(y0, Tensor) else y0))
    phi = _scalarized(f, len(xs), shapes, w)
    flat = np.concatenate([x.ravel() for x in xs]) if xs else np.zeros(0)

    def loss(*args):
        return (f(*args) * w).sum()

    with audit() as report:
        ad_parts = grad(loss, argnums=tuple(range(len(xs))), kinks=kinks,
                        seed=seed if kinks == "directional" else None)(*xs)
    ad = np.concatenate([np.asarray(g.data, dtype=np.float64).ravel() for g in ad_parts])
    fd = _fd_gradient(phi, flat, eps)
    base = phi(flat)
    one_l = np.array([(base - phi(flat - eps * e)) / eps for e in np.eye(flat.size)])
    one_r = np.array([(phi(flat + eps * e) - base) / eps for e in np.eye(flat.size)])
    scale = np.maximum(1.0, np.abs(fd))
    kinked_fd = np.abs(one_r - one_l) > 1e3 * eps * scale + 10 * atol
    hits = [r for r in report.rows.values() if r["at_kink"]]
    at_kink = bool(hits) or bool(kinked_fd.any())
    kink_ops = sorted({r["op"] for r in hits})
    messages = []
    if not at_kink:
        bad = ~(np.abs(ad - fd) <= atol + rtol * np.abs(fd))        # NaN fails too
        passed = not bad.any()
        if not passed:
            j = int(np.argmax(np.abs(ad - fd)))
            messages.append(f"element {j}: AD {ad[j]!r} vs central difference {fd[j]!r}")
    else:
        t = np.sqrt(eps) * max(1.0, float(np.max(np.abs(flat))) if flat.size else 1.0)
        near = []
        n_probes = probes if probes is not None else 32 + 8 * flat.size
        dirs = [rng.standard_normal(flat.size) for _ in range(n_probes)] + list(np.eye(flat.size)) + \
            list(-np.eye(flat.size))
        for v in dirs:
            v = v / np.linalg.norm(v)
            near.append(_fd_gradient(phi, flat + t * v, min(eps, t / 100)))
        near = np.array(near)
        lo, hi = near.min(axis=0), near.max(axis=0)
        tol = atol + rtol * np.maximum(np.abs(lo), np.abs(hi)) + 1e-4 * np.maximum(1.0, np.abs(hi - lo))
        bad = ~((ad >= lo - tol) & (ad <= hi + tol))              # NaN fails too
        passed = not bad.any()
        rules = sorted({r["rule"] for r in hits})
        messages.append(f"kink at {', '.join(kink_ops) or 'an op the audit did not see'}"
                        + (f" decided by rule {', '.join(rules)}" if rules else ""))
        if not passed:
            j = int(np.argmax(np.maximum(lo - ad, ad - hi)))
            messages.append(f"element {j}: AD {ad[j]!r} lies outside [{lo[j]!r}, {hi[j]!r}], the range of the "
                            "gradients just beside the kink")
    result = GradcheckResult(passed, ad, fd, at_kink, kink_ops, report.semantics, messages)
    if not passed and raise_exception:
        raise GradcheckError(repr(result))
    return result


def one_sided(f, x, direction):
    """Exact one-sided directional derivatives ``(left, right)`` of ``f`` at ``x`` along ``direction``:
    right = lim_{t->0+} (f(x + t d) - f(x)) / t, left = lim_{t->0+} (f(x) - f(x - t d)) / t.

    Computed by directional mode's forward pass (no finite differences): exact for
    piecewise-smooth programs built from kinkgrad ops.
    """
    x = _as64(x)
    d = np.broadcast_to(np.asarray(getattr(direction, "data", direction), dtype=np.float64), x.shape)
    right = _directional_derivative(f, x, d)
    left = -_directional_derivative(f, x, -d)
    return left, right


def _directional_derivative(f, x, d):
    with kink_scope("directional", seed=0):
        t = Tensor._wrap(x.copy())
        t.requires_grad = True
        seed_directions(t, current(), d)
        y = f(t)
        dirs = tensor_dirs(y) if isinstance(y, Tensor) else None
    if dirs is None:
        return np.zeros(np.shape(getattr(y, "data", y)))
    out = dirs[0]
    return out.item() if np.ndim(out) == 0 else out


def clarke_interval(f, x):
    """The Clarke generalized derivative of a scalar function of one variable at ``x``: the
    interval between its one-sided derivatives (exact for piecewise-smooth f)."""
    left, right = one_sided(f, np.float64(x), 1.0)
    return (min(left, right), max(left, right))
