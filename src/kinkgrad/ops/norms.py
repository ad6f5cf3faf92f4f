"""Vector and matrix norms; the 2-norm is a primitive so its derivative at 0 is declared, not NaN."""
from __future__ import annotations

import math

import numpy as np

from ..autodiff.primitive import Primitive
from ..context import running, running_directions
from ..kinks.declare import Kink
from ..kinks.docs import documents
from ..kinks.policy import current
from ..kinks.resolve import kink_value
from ..tensor import Tensor
from ._declare import ndim_of, normalize_axis, shape_of
from .nonsmooth import abs
from .reduce import _kept_shape, _unreduce, max, mean, min, sum


def _p_kernel(x, axis, keepdims, p=2.0):
    if p == 2:
        return np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims))
    return np.sum(np.abs(x) ** p, axis=axis, keepdims=keepdims) ** (1.0 / p)


def _whole_vector_zero(x, axis=None, keepdims=False):
    return np.broadcast_to(np.all(np.asarray(x) == 0, axis=axis, keepdims=True), np.shape(x))


_ZERO = Kink(_whole_vector_zero, -1.0, 1.0, kind="kink", where="x = 0 (the whole vector)")
_FLAT = Kink(_whole_vector_zero, -1.0, 1.0, kind="kink", where="all elements equal (zero spread)")


def _p_direction(m, out, x, axis, keepdims, g=None, op="norm", kink=_ZERO, p=2.0):
    """The gradient of ||x||_p: sign(x) |x|^(p-1) / ||x||^(p-1) (x / ||x|| for p = 2); at the zero
    vector the subdifferential is the dual norm's unit ball, and the policy picks the value (default:
    its centre, 0, as PyTorch; the ``jax`` / ``tensorflow`` presets give NaN like 0/0 there)."""
    outk = out if keepdims else m.reshape(out, _kept_shape(shape_of(x), axis))
    raw = (outk.data if isinstance(outk, Tensor) else np.asarray(outk)) == 0
    at0 = 0.0
    if raw.any():
        xr = x.data if isinstance(x, Tensor) else np.asarray(x)
        v = kink_value(op, kink, -1.0, 1.0, xr.shape, (xr,), mask=np.broadcast_to(raw, xr.shape),
                       g=None if g is None else getattr(g, "data", g))
        at0 = 0.0 if v is None else (_along_direction(xr.shape, axis, op, p) if isinstance(v, str) else v)
    safe = m.where(outk == 0, 1.0, outk)
    if p == 2:
        return m.where(outk == 0, at0, x / safe)
    return m.where(outk == 0, at0, m.sign(x) * (m.abs(x) / safe) ** (p - 1.0))


def _along_direction(shape, axis, op, p=2.0):
    """Directional mode at the zero vector: near 0 + t v the norm is smooth with gradient
    sign(v) |v|^(p-1) / ||v||^(p-1) (the first probing direction with a nonzero part along the
    reduced axes)."""
    found = running_directions()
    dirs = found[0] if found and found[0] is not None else []
    out = np.zeros(shape)
    done = np.zeros(_kept_shape(shape, axis), dtype=bool)
    counts = []
    for t in dirs:
        t = np.asarray(t, dtype=float)
        n = _p_kernel(t, axis, True, p)
        use = ~done & (n > 0)
        out = np.where(use, np.sign(t) * (np.abs(t) / np.where(n > 0, n, 1.0)) ** (p - 1.0), out)
        done |= use
        counts.append(int(np.count_nonzero(use)))
    _record_certified(op, counts, int(done.size))
    return out


def _record_certified(op, counts, total):
    audit = current().audit
    if audit is not None:
        audit.record_directional(op, running().site, counts, total)


def _norm_prim(name, kink, doc):
    """The p-norm (p >= 1) of its input as a primitive named ``name`` (the norm itself, and the
    standard deviation's 2-norm of the centred input), so its kink at 0 is declared, not 0/0."""
    def vjp(m, g, out, x, axis, keepdims, p=2.0):
        gu = _unreduce(m, g, shape_of(x), axis, keepdims)
        return gu * _p_direction(m, out, x, axis, keepdims, gu, name, kink, p)

    def jvp(m, t, out, x, axis, keepdims, p=2.0):
        d = _p_direction(m, out, x, axis, keepdims, None, name, kink, p)
        policy = current()
        if policy.preset in ("jax", "tensorflow") and name not in policy.overrides:
            return m.sum(t * d, axis=axis, keepdims=keepdims)    # their 0 * NaN spreads, as measured
        # kinkgrad's 'nan' marks the zero vectors; a direction that does not move one owes it nothing
        return m.sum(m.where(t == 0, 0.0, t * d), axis=axis, keepdims=keepdims)

    return Primitive(name, _p_kernel, vjp=vjp, jvp=jvp, kinks=kink, doc=doc)


_norm = _norm_prim("norm", _ZERO, "p-norm, p >= 1 (Euclidean / Frobenius for p = 2); at the zero vector the\n"
                   "subdifferential is the dual norm's unit ball.")
_spread = _norm_prim("std", _FLAT, "The norm of the centred input (the standard deviation before scaling).")


@documents("std")
def std(x, axis=None, keepdims=False, ddof=0):
    """Standard deviation over ``axis`` with ``ddof`` delta degrees of freedom (NumPy's convention):
    ||x - mean(x)|| / sqrt(n - ddof). Where all elements are equal it is a kink of a norm (not a
    0/0): the default and PyTorch give 0 there."""
    axes = normalize_axis(axis, ndim_of(x, "std"), "std")
    n = 1
    for a in axes:
        n *= shape_of(x)[a]
    if n - ddof <= 0:
        raise ValueError(f"std: {n} element(s) along axis {axis} with ddof={ddof} leaves no degrees of freedom")
    return _spread(x - mean(x, axis=axes, keepdims=True), axis=axes, keepdims=bool(keepdims)) / math.sqrt(n - ddof)


@documents("norm")
def norm(x, ord=None, axis=None, keepdims=False):
    """Vector norms (ord None/2, 1, inf, -inf, p) and the Frobenius norm, like ``np.linalg.norm``."""
    n = ndim_of(x)
    axes = normalize_axis(axis, n, "norm")
    if ord in (None, 2, "fro") and (ord != 2 or len(axes) == 1):
        return _norm(x, axis=axes, keepdims=bool(keepdims))
    if len(axes) != 1:
        raise NotImplementedError(f"norm: ord={ord!r} over {len(axes)} axes (matrix norms other than 'fro')")
    if ord == 1:
        return sum(abs(x), axis=axes, keepdims=keepdims)
    if ord in (np.inf, float("inf")):
        return max(abs(x), axis=axes, keepdims=keepdims)
    if ord in (-np.inf, float("-inf")):
        return min(abs(x), axis=axes, keepdims=keepdims)
    if isinstance(ord, (int, float)) and ord > 1:
        return _norm(x, axis=axes, keepdims=bool(keepdims), p=float(ord))
    if isinstance(ord, (int, float)) and ord > 0:
        return sum(abs(x) ** ord, axis=axes, keepdims=keepdims) ** (1.0 / ord)
    raise ValueError(f"norm: unsupported ord={ord!r}")
