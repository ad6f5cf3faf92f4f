"""Nonsmooth elementwise primitives: each states its kinks; the resolver decides values there.

Every derivative formula below yields the ``default`` convention at the kink (the minimum-norm
element of the Clarke interval: relu'(0) = 0, abs'(0) = 0, ties split evenly, clip'(bound) = 0),
so the default policy needs no kink detection at all; the declarations give the one-sided
derivatives that every other policy is computed from.
"""
from __future__ import annotations

import numpy as np

from ..kinks.declare import Kink, at_point, difference_switch
from ..kinks.docs import documents
from ._declare import elementwise

_AT0, _DIST0 = at_point(0.0)


def _zero_kink(left, right, kind="kink"):
    return Kink(_AT0, left=left, right=right, kind=kind, where="x = 0", distance=_DIST0)


abs = elementwise(
    "abs", np.abs, lambda m, out, x: m.sign(x), kinks=_zero_kink(-1.0, 1.0), doc="|x|.", signature="x")

relu = elementwise(
    "relu", lambda x: np.maximum(x, 0), lambda m, out, x: x > 0, kinks=_zero_kink(0.0, 1.0), doc="max(x, 0).",
    signature="x")


def _leaky_kernel(x, negative_slope=0.01):
    return np.where(x >= 0, x, x * np.asarray(negative_slope, dtype=x.dtype))


def _leaky_deriv(m, out, x, negative_slope=0.01):
    # at 0 the Clarke interval is [slope, 1] (or [1, slope]); its minimum-norm element is clip(slope, 0, 1)
    at0 = min(max(negative_slope, 0.0), 1.0)
    return m.where(x > 0, 1.0, m.where(x < 0, negative_slope, at0))


leaky_relu = elementwise(
    "leaky_relu", _leaky_kernel, _leaky_deriv,
    kinks=_zero_kink(lambda x, negative_slope=0.01: negative_slope, 1.0),
    doc="x if x >= 0 else negative_slope * x; at 0 the default derivative is clip(negative_slope, 0, 1), the "
        "minimum-norm one-sided slope.", signature="x, negative_slope=0.01")

sign = elementwise(
    "sign", np.sign, lambda m, out, x: 0 * x, kinks=_zero_kink(0.0, 0.0, kind="jump"), piecewise_constant=True,
    doc="-1, 0 or 1; derivative 0 everywhere it exists.", signature="x")


def _heaviside_kernel(x, value=0.5):
    return np.heaviside(x, np.asarray(value, dtype=x.dtype)).astype(x.dtype, copy=False)


heaviside = elementwise(
    "heaviside", _heaviside_kernel, lambda m, out, x, value=0.5: 0 * x,
    kinks=_zero_kink(0.0, 0.0, kind="jump"), piecewise_constant=True,
    doc="The unit step (``value`` at 0); derivative 0 everywhere it exists.", signature="x, value=0.5")


def _flat(m, out, x):
    return 0 * x


def _dist_integer(x):
    return np.abs(x - np.round(x))


def _dist_half(x):
    return np.abs(np.abs(x - np.floor(x)) - 0.5)


floor = elementwise("floor", np.floor, _flat, piecewise_constant=True,
                    kinks=Kink(lambda x: x == np.floor(x), kind="jump", where="x integer", distance=_dist_integer),
                    doc="Round down; derivative 0 everywhere it exists.", signature="x")
ceil = elementwise("ceil", np.ceil, _flat, piecewise_constant=True,
                   kinks=Kink(lambda x: x == np.floor(x), kind="jump", where="x integer", distance=_dist_integer),
                   doc="Round up; derivative 0 everywhere it exists.", signature="x")
trunc = elementwise("trunc", np.trunc, _flat, piecewise_constant=True,
                    kinks=Kink(lambda x: (x == np.floor(x)) & (x != 0), kind="jump", where="x nonzero integer",
                               distance=_dist_integer),
                    doc="Round toward 0; derivative 0 everywhere it exists.", signature="x")
round = elementwise("round", np.round, _flat, piecewise_constant=True,
                    kinks=Kink(lambda x: x - np.floor(x) == 0.5, kind="jump", where="x half-integer",
                               distance=_dist_half),
                    doc="Round half to even; derivative 0 everywhere it exists.", signature="x")


# -- ties between two arguments -------------------------------------------------------------------
def _tie(x, y):
    return x == y


def _tie_distance(x, y):
    return np.abs(x - y)


maximum = elementwise(
    "maximum", np.maximum,
    lambda m, out, x, y: (x > y) + 0.5 * (x == y),
    lambda m, out, x, y: (x < y) + 0.5 * (x == y),
    kinks=Kink(_tie, 0.0, 1.0, kind="tie", where="x = y", distance=_tie_distance, switch=difference_switch),
    doc="Elementwise max.", signature="x, y")
minimum = elementwise(
    "minimum", np.minimum,
    lambda m, out, x, y: (x < y) + 0.5 * (x == y),
    lambda m, out, x, y: (x > y) + 0.5 * (x == y),
    kinks=Kink(_tie, 1.0, 0.0, kind="tie", where="x = y", distance=_tie_distance, switch=difference_switch),
    doc="Elementwise min.", signature="x, y")


# -- clamps: clip (tensor or scalar bounds), hardtanh, relu6 ------------------------------------------
def _clip_kernel(x, lo, hi):
    out = x
    if lo is not None:
        out = np.maximum(out, lo)
    if hi is not None:
        out = np.minimum(out, hi)
    return out


def _inside(x, lo, hi):
    inside = None
    if lo is not None:
        inside = x > lo
    if hi is not None:
        inside = (x < hi) if inside is None else inside & (x < hi)
    return inside


def _at_bound(x, lo, hi, **_):
    at = np.zeros(np.shape(x), dtype=bool)
    if lo is not None:
        at = at | (x == lo)
    if hi is not None:
        at = at | (x == hi)
    return at


def _bound_distance(x, lo, hi, **_):
    d = np.full(np.shape(x), np.inf)
    if lo is not None:
        d = np.minimum(d, np.abs(x - lo))
    if hi is not None:
        d = np.minimum(d, np.abs(x - hi))
    return d


def _clip_left(x, lo, hi, **_):
    # just below the lower bound the output is flat; just below the upper bound it follows x
    at_lo = (x == lo) if lo is not None else False
    at_hi = (x == hi) if hi is not None else False
    return np.where(at_hi & ~np.asarray(at_lo), 1.0, 0.0)


def _clip_right(x, lo, hi, **_):
    at_lo = (x == lo) if lo is not None else False
    at_hi = (x == hi) if hi is not None else False
    return np.where(at_lo & ~np.asarray(at_hi), 1.0, 0.0)


def _clip_switch(i, ts, xs, params):
    """x moves to its 'right' piece as it grows relative to the bound it sits on."""
    x, lo, hi = xs
    t = [0.0 if v is None else np.asarray(v) for v in ts]
    on_lo = (x == lo) if lo is not None else np.zeros(np.shape(x), dtype=bool)
    return np.where(on_lo, t[0] - t[1], t[0] - t[2])


_CLAMP_KINK = Kink(_at_bound, _clip_left, _clip_right, where="x = a_min or x = a_max", distance=_bound_distance,
                   switch=_clip_switch)

clip = elementwise(
    "clip", _clip_kernel,
    lambda m, out, x, lo, hi: _inside(x, lo, hi) + 0 * x,
    lambda m, out, x, lo, hi: (x < lo) + 0 * x,
    lambda m, out, x, lo, hi: (x > hi) + 0 * x,
    kinks=(_CLAMP_KINK, None, None),
    doc="Clamp x to [a_min, a_max] (either may be None; tensors broadcast).", signature="x, a_min=None, a_max=None")


def _param_clamp(name, doc):
    def kernel(x, lo, hi):
        return np.clip(x, np.asarray(lo, x.dtype), np.asarray(hi, x.dtype))

    return elementwise(
        name, kernel, lambda m, out, x, lo, hi: ((x > lo) & (x < hi)) + 0 * x,
        kinks=Kink(lambda x, lo, hi: _at_bound(x, lo, hi), lambda x, lo, hi: _clip_left(x, lo, hi),
                   lambda x, lo, hi: _clip_right(x, lo, hi), where="x at a bound",
                   distance=lambda x, lo, hi: _bound_distance(x, lo, hi)),
        doc=doc)


_hardtanh = _param_clamp("hardtanh", "clip(x, min_val, max_val).")
_relu6 = _param_clamp("relu6", "min(max(x, 0), 6).")


@documents("hardtanh")
def hardtanh(x, min_val=-1.0, max_val=1.0):
    """clip(x, min_val, max_val) as its own op (frameworks disagree on it and on clip separately)."""
    return _hardtanh(x, lo=float(min_val), hi=float(max_val))


@documents("relu6")
def relu6(x):
    """min(max(x, 0), 6)."""
    return _relu6(x, lo=0.0, hi=6.0)


# -- hard activations and shrinkage ---------------------------------------------------------------
_AT3 = (lambda x: (x == -3) | (x == 3))
_DIST3 = (lambda x: np.minimum(np.abs(x + 3), np.abs(x - 3)))


def _hardswish_kernel(x):
    return x * np.clip(x + 3, 0, 6) / 6


hardswish = elementwise(
    "hardswish", _hardswish_kernel,
    lambda m, out, x: m.where(x <= -3, 0.0, m.where(x >= 3, 1.0, (2 * x + 3) / 6)),
    kinks=Kink(_AT3, lambda x: np.where(x < 0, 0.0, 1.5), lambda x: np.where(x < 0, -0.5, 1.0),
               where="x = -3 or x = 3", distance=_DIST3),
    doc="x * relu6(x + 3) / 6. One-sided derivatives 0 / -0.5 at -3 and 1.5 / 1 at 3.", signature="x")

hardsigmoid = elementwise(
    "hardsigmoid", lambda x: np.clip(x / 6 + 0.5, 0, 1),
    lambda m, out, x: ((x > -3) & (x < 3)) * (1 / 6) + 0 * x,
    kinks=Kink(_AT3, lambda x: np.where(x < 0, 0.0, 1 / 6), lambda x: np.where(x < 0, 1 / 6, 0.0),
               where="x = -3 or x = 3", distance=_DIST3),
    doc="relu6(x + 3) / 6. One-sided derivatives 0 / 1/6 at -3 and 1/6 / 0 at 3.", signature="x")


def _at_lambd(x, lambd=0.5):
    return (x == lambd) | (x == -lambd)


def _dist_lambd(x, lambd=0.5):
    return np.abs(np.abs(x) - lambd)


softshrink = elementwise(
    "softshrink", lambda x, lambd=0.5: np.where(x > lambd, x - lambd, np.where(x < -lambd, x + lambd, 0 * x)),
    lambda m, out, x, lambd=0.5: ((x > lambd) | (x < -lambd)) + 0 * x,
    kinks=Kink(_at_lambd, lambda x, lambd=0.5: np.where(x < 0, 1.0, 0.0),
               lambda x, lambd=0.5: np.where(x < 0, 0.0, 1.0), where="|x| = lambd", distance=_dist_lambd),
    doc="Shrink toward 0 by lambd.", signature="x, lambd=0.5")

hardshrink = elementwise(
    "hardshrink", lambda x, lambd=0.5: np.where((x > lambd) | (x < -lambd), x, 0 * x),
    lambda m, out, x, lambd=0.5: ((x > lambd) | (x < -lambd)) + 0 * x,
    kinks=Kink(_at_lambd, lambda x, lambd=0.5: np.where(x < 0, 1.0, 0.0),
               lambda x, lambd=0.5: np.where(x < 0, 0.0, 1.0), kind="jump", where="|x| = lambd",
               distance=_dist_lambd),
    doc="x where |x| > lambd, else 0.", signature="x, lambd=0.5")

threshold = elementwise(
    "threshold", lambda x, threshold, value: np.where(x > threshold, x, np.asarray(value, x.dtype)),
    lambda m, out, x, threshold, value: (x > threshold) + 0 * x,
    kinks=Kink(lambda x, threshold, value: x == threshold, 0.0, 1.0, kind="jump", where="x = threshold",
               distance=lambda x, threshold, value: np.abs(x - threshold)),
    doc="x where x > threshold, else value.", signature="x, threshold, value")


# -- modular arithmetic ---------------------------------------------------------------------------
def _at_multiple(x, y):
    return np.mod(x, y) == 0


def _quotient_side(rounding, side):
    """d/dy of x - y * rounding(x / y) on one side of a point where x / y is an integer q: moving y to
    that side moves x / y by -x / y**2 times the step, and rounding takes q or its neighbour there."""
    def slope(x, y):
        q = np.round(np.asarray(x, dtype=float) / y)
        drift = -np.sign(x) * side                  # the sign in which x / y moves
        if rounding is np.floor:
            lands = np.where(drift < 0, q - 1, q)
        else:                                       # trunc: toward 0
            lands = np.where((drift < 0) & (q > 0), q - 1, np.where((drift > 0) & (q < 0), q + 1, q))
        return -lands
    return slope


mod = elementwise(
    "mod", np.mod, lambda m, out, x, y: 1 + 0 * x, lambda m, out, x, y: -m.floor(x / y),
    kinks=(Kink(_at_multiple, 1.0, 1.0, kind="jump", where="x a multiple of y"),
           Kink(_at_multiple, _quotient_side(np.floor, -1), _quotient_side(np.floor, 1), kind="jump",
                where="x a multiple of y")),
    doc="x mod y with the sign of y (Python's %, NumPy's mod).", signature="x, y")
remainder = mod
fmod = elementwise(
    "fmod", np.fmod, lambda m, out, x, y: 1 + 0 * x, lambda m, out, x, y: -m.trunc(x / y),
    kinks=(Kink(lambda x, y: (np.fmod(x, y) == 0) & (x != 0), 1.0, 1.0, kind="jump", where="x a nonzero multiple of y"),
           Kink(lambda x, y: (np.fmod(x, y) == 0) & (x != 0), _quotient_side(np.trunc, -1),
                _quotient_side(np.trunc, 1), kind="jump", where="x a nonzero multiple of y")),
    doc="C-style remainder with the sign of x.", signature="x, y")
