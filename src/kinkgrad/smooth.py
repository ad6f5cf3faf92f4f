"""Smooth twins of the nonsmooth ops: each has a scale (``eps`` or ``tau``), a documented error
bound against the hard op, and converges to it as the scale goes to 0 — at the kink, to the hard
op's ``default`` convention (derivative 0 for abs, relu and clip at the kink; an even split for
max at a tie; the value at the jump for sign and heaviside).

| twin | formula | error vs the hard op |
|---|---|---|
| ``abs(x, eps)`` | sqrt(x^2 + eps^2) - eps | at most eps |
| ``relu(x, eps)`` | 0 for x <= 0, x^2 / (2 eps) up to eps, x - eps/2 beyond | at most eps / 2 |
| ``max(x, tau, axis)`` / ``min`` | tau logsumexp(x / tau) | between 0 and tau log n |
| ``maximum(a, b, tau)`` / ``minimum`` | the same over two arguments | at most tau log 2 |
| ``clip(x, lo, hi, eps)`` | lo + relu(x - lo) - relu(x - hi + eps), smooth relus | at most eps |
| ``sign(x, eps)`` | tanh(x / eps) | at most 2 e^(-2 abs(x) / eps) away from 0 |
| ``heaviside(x, eps)`` | sigmoid(x / eps) | at most e^(-abs(x) / eps) away from 0 |
| ``rank(x, tau)`` | 1/2 + sum_j sigmoid((x_i - x_j) / tau) (ranks from 1) | at most (n-1) sigmoid(-gap / tau) |
| ``sort(x, tau)`` | NeuralSort: P x, P a row-stochastic relaxation of the sort permutation | 0 as tau -> 0 |

``sparsemax`` is not a twin but a true kinked op (a projection onto the simplex); its kinks are
where an element sits exactly on the support's threshold.
"""
from __future__ import annotations

import numpy as np

from . import ops
from .autodiff.primitive import Primitive
from .kinks.declare import Kink
from .kinks.docs import documents
from .kinks.policy import current
from .kinks.resolve import effective_rule, kink_value


def _positive(name, v):
    if not v > 0:
        raise ValueError(f"smooth.{name}: the scale must be > 0, got {v}")


def abs(x, eps=1e-3):
    """sqrt(x^2 + eps^2) - eps: |error| <= eps, slope 0 at 0 (abs's default)."""
    _positive("abs", eps)
    return ops.sqrt(x * x + eps * eps) - eps


def relu(x, eps=1e-3):
    """The Huber-smoothed relu: 0 below 0, x^2/(2 eps) on [0, eps], x - eps/2 beyond.
    Continuously differentiable, slope 0 at 0 (relu's default); error <= eps / 2."""
    _positive("relu", eps)
    r = ops.relu(x)
    return ops.where(x < eps, r * r / (2 * eps), x - eps / 2)


def max(x, tau=1e-2, axis=None, keepdims=False):
    """tau * logsumexp(x / tau): between max(x) and max(x) + tau log n; ties split evenly."""
    _positive("max", tau)
    return tau * ops.logsumexp(x / tau, axis=axis, keepdims=keepdims)


def min(x, tau=1e-2, axis=None, keepdims=False):
    """-smooth.max(-x): between min(x) - tau log n and min(x)."""
    return -max(-x, tau, axis, keepdims)


def maximum(a, b, tau=1e-2):
    """Smooth max of two tensors: within tau log 2 of maximum(a, b); 1/2 each at a tie."""
    return max(ops.stack([a + 0 * b, b + 0 * a]), tau, axis=0)


def minimum(a, b, tau=1e-2):
    """Smooth min of two tensors: within tau log 2 of minimum(a, b)."""
    return -maximum(-a, -b, tau)


def clip(x, lo, hi, eps=1e-3):
    """lo + relu(x - lo) - relu(x - hi + eps) with smooth relus (the upper bend ends at hi, the lower
    one starts at lo): error <= eps, slope 0 at both bounds (clip's default there)."""
    if not lo + eps < hi:
        raise ValueError(f"smooth.clip: needs lo + eps < hi, got lo={lo}, hi={hi}, eps={eps}")
    return lo + relu(x - lo, eps) - relu(x - hi + eps, eps)


def sign(x, eps=1e-2):
    """tanh(x / eps): 0 at 0 like sign; |error| <= 2 exp(-2 |x| / eps) elsewhere."""
    _positive("sign", eps)
    return ops.tanh(x / eps)


def heaviside(x, eps=1e-2):
    """sigmoid(x / eps): 1/2 at 0 (heaviside's default value); |error| <= exp(-|x| / eps) elsewhere."""
    _positive("heaviside", eps)
    return ops.sigmoid(x / eps)


def rank(x, tau=1e-2):
    """Soft ranks (1 = smallest) of a vector: 1/2 + sum_j sigmoid((x_i - x_j) / tau). Tied values get
    the average of their ranks; the error is at most (n - 1) sigmoid(-gap / tau), gap the smallest
    distance between two values."""
    _positive("rank", tau)
    d = ops.expand_dims(x, -1) - ops.expand_dims(x, -2)
    return 0.5 + ops.sum(ops.sigmoid(d / tau), axis=-1)


def sort(x, tau=1e-2, descending=False):
    """NeuralSort (Grover et al. 2019): P x with P = softmax(((n + 1 - 2i) x - A 1) / tau), A the
    matrix of |x_i - x_j|. Converges to the sorted vector as tau -> 0 (ties: equal values, any order)."""
    _positive("sort", tau)
    n = x.shape[-1]
    pair = ops.abs(ops.expand_dims(x, -1) - ops.expand_dims(x, -2))
    b = ops.sum(pair, axis=-1)
    scale = (n + 1 - 2 * np.arange(1, n + 1, dtype=np.float64)).astype(x.dtype)
    scores = ops.expand_dims(scale, -1) * ops.expand_dims(x, -2) - ops.expand_dims(b, -2)
    p = ops.softmax(scores / tau, axis=-1)
    out = ops.matmul(p, ops.expand_dims(x, -1))[..., 0]        # descending
    return out if descending else ops.flip(out, axis=-1)


# -- sparsemax: a true kinked op -----------------------------------------------------------------------
def _sparsemax_kernel(z, axis):
    zs = np.flip(np.sort(z, axis=axis), axis=axis)
    n = z.shape[axis]
    k = np.arange(1, n + 1).reshape([-1 if a == axis % z.ndim else 1 for a in range(z.ndim)])
    cs = np.cumsum(zs, axis=axis)
    support = 1 + k * zs > cs
    ks = np.sum(support, axis=axis, keepdims=True)
    tau = (np.take_along_axis(cs, ks - 1, axis=axis) - 1) / ks
    return np.maximum(z - tau, 0)


_SPARSEMAX_KINK = Kink(lambda z: None, 0.0, 1.0, kind="kink", where="an element exactly at the threshold")


def _project(m, g, s, axis):
    """The Jacobian of sparsemax with support ``s`` applied to ``g`` (it is symmetric)."""
    gs = g * s
    return gs - s * m.sum(gs, axis=axis, keepdims=True) / np.sum(s, axis=axis, keepdims=True)


def _sparsemax_vjp(m, g, out, z, axis):
    """Elements sitting exactly on the threshold (out == 0 but z - tau == 0) are a kink between two
    pieces: the smaller support (``left``, the default: its Jacobian has the smaller norm) and the
    support that includes them (``right``). A number v gives (1 - v) left + v right; ``zero`` and
    ``nan`` mark the entries where the two pieces differ."""
    zr, outr = np.asarray(getattr(z, "data", z)), np.asarray(getattr(out, "data", out))
    s = outr > 0
    tau = np.max(np.where(s, zr - outr, -np.inf), axis=axis, keepdims=True)
    on_edge = (outr == 0) & (zr == tau)
    small = _project(m, g, s.astype(zr.dtype), axis)
    if not on_edge.any():
        return small
    v = kink_value("sparsemax", _SPARSEMAX_KINK, 0.0, 1.0, zr.shape, (zr,), mask=on_edge)
    if v is None or isinstance(v, str):
        return small
    large = _project(m, g, (s | on_edge).astype(zr.dtype), axis)
    rule = effective_rule(current(), "sparsemax", _SPARSEMAX_KINK)
    if rule in ("zero", "nan"):
        differ = np.asarray(getattr(small, "data", small)) != np.asarray(getattr(large, "data", large))
        return m.where(differ, 0.0 if rule == "zero" else np.nan, small)
    return small * (1 - v) + large * v


_sparsemax = Primitive("sparsemax", _sparsemax_kernel, vjp=_sparsemax_vjp, jvp=_sparsemax_vjp,
                       kinks=_SPARSEMAX_KINK, doc="Euclidean projection onto the probability simplex")


@documents("sparsemax")
def sparsemax(z, axis=-1):
    """Sparsemax (Martins & Astudillo 2016): the Euclidean projection of z onto the simplex; sparse
    probabilities. Jacobian diag(s) - s s^T / |s| on the support s. Kinks where an element sits exactly
    on the threshold; the default leaves it out of the support, ``kinks(sparsemax="right")`` puts it in."""
    nd = len(z.shape) if hasattr(z, "shape") else np.ndim(z)
    return _sparsemax(z, axis=axis % nd)

