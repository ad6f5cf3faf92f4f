"""Nonsmooth elementwise primitives: each states its kinks; the resolver decides values there.

Every derivative formula below yields the ``default`` convention at the kink (the minimum-norm
element of the Clarke interval: relu'(0) = 0, abs'(0) = 0, ties split evenly, clip'(bound) = 0),
so the default policy needs no kink detection at all; the declarations give the one-sided
derivatives every other policy is computed from.
"""
from __future__ import annotations

import numpy as np

from ..kinks.declare import Kink
from ._declare import elementwise


def _at_zero(x, *rest, **params):
    return x == 0


abs = elementwise(
    "abs", np.abs, lambda m, out, x: m.sign(x),
    kinks=Kink(_at_zero, left=-1.0, right=1.0, where="x = 0"),
    doc="|x|. Kink: x = 0, one-sided slopes -1 / +1; default 0.")

relu = elementwise(
    "relu", lambda x: np.maximum(x, 0), lambda m, out, x: x > 0,
    kinks=Kink(_at_zero, left=0.0, right=1.0, where="x = 0"),
    doc="max(x, 0). Kink: x = 0, one-sided slopes 0 / 1; default 0.")


def _leaky_kernel(x, negative_slope=0.01):
    return np.where(x >= 0, x, x * np.asarray(negative_slope, dtype=x.dtype))


def _leaky_deriv(m, out, x, negative_slope=0.01):
    # at 0 the Clarke interval is [slope, 1]; its minimum-norm element is the slope (0 <= slope <= 1)
    return m.where(x > 0, 1.0, negative_slope)


leaky_relu = elementwise(
    "leaky_relu", _leaky_kernel, _leaky_deriv,
    kinks=Kink(_at_zero, left=lambda x, negative_slope=0.01: negative_slope, right=1.0, where="x = 0"),
    doc="x if x >= 0 else slope * x. Kink: x = 0, slopes slope / 1; default slope.")

sign = elementwise(
    "sign", np.sign, lambda m, out, x: 0 * x,
    kinks=Kink(_at_zero, left=0.0, right=0.0, kind="jump", where="x = 0"),
    piecewise_constant=True,
    doc="-1, 0 or 1. Jump at x = 0; derivative 0 everywhere it exists.")


def _at_integer(x):
    return x == np.floor(x)


def _at_half(x):
    return x - np.floor(x) == 0.5


def _flat(m, out, x):
    return 0 * x


floor = elementwise("floor", np.floor, _flat, piecewise_constant=True,
                    kinks=Kink(_at_integer, 0.0, 0.0, kind="jump", where="x integer"),
                    doc="Round down. Jumps at integers; derivative 0.")
ceil = elementwise("ceil", np.ceil, _flat, piecewise_constant=True,
                   kinks=Kink(_at_integer, 0.0, 0.0, kind="jump", where="x integer"),
                   doc="Round up. Jumps at integers; derivative 0.")
trunc = elementwise("trunc", np.trunc, _flat, piecewise_constant=True,
                    kinks=Kink(lambda x: (x == np.floor(x)) & (x != 0), 0.0, 0.0, kind="jump",
                               where="x nonzero integer"),
                    doc="Round toward 0. Jumps at nonzero integers; derivative 0.")
round = elementwise("round", np.round, _flat, piecewise_constant=True,
                    kinks=Kink(_at_half, 0.0, 0.0, kind="jump", where="x half-integer"),
                    doc="Round half to even. Jumps at half-integers; derivative 0.")


def _tie(x, y):
    return x == y


maximum = elementwise(
    "maximum", np.maximum,
    lambda m, out, x, y: (x > y) + 0.5 * (x == y),
    lambda m, out, x, y: (x < y) + 0.5 * (x == y),
    kinks=(Kink(_tie, left=0.0, right=1.0, kind="tie", where="x = y"),
           Kink(_tie, left=0.0, right=1.0, kind="tie", where="x = y")),
    doc="Elementwise max. Tie at x = y: each side gets 1/2 by default.")
minimum = elementwise(
    "minimum", np.minimum,
    lambda m, out, x, y: (x < y) + 0.5 * (x == y),
    lambda m, out, x, y: (x > y) + 0.5 * (x == y),
    kinks=(Kink(_tie, left=1.0, right=0.0, kind="tie", where="x = y"),
           Kink(_tie, left=1.0, right=0.0, kind="tie", where="x = y")),
    doc="Elementwise min. Tie at x = y: each side gets 1/2 by default.")


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


def _at_bound(x, lo, hi):
    at = np.zeros(np.shape(x), dtype=bool)
    if lo is not None:
        at = at | (x == lo)
    if hi is not None:
        at = at | (x == hi)
    return at


def _clip_dx_left(x, lo, hi):
    # just below the lower bound the output is flat; just below the upper bound it follows x
    at_lo = (x == lo) if lo is not None else False
    at_hi = (x == hi) if hi is not None else False
    return np.where(at_hi & ~np.asarray(at_lo), 1.0, 0.0)


def _clip_dx_right(x, lo, hi):
    at_lo = (x == lo) if lo is not None else False
    at_hi = (x == hi) if hi is not None else False
    return np.where(at_lo & ~np.asarray(at_hi), 1.0, 0.0)


clip = elementwise(
    "clip", _clip_kernel,
    lambda m, out, x, lo, hi: _inside(x, lo, hi) + 0 * x,
    lambda m, out, x, lo, hi: (x < lo) + 0 * x,
    lambda m, out, x, lo, hi: (x > hi) + 0 * x,
    kinks=(Kink(_at_bound, _clip_dx_left, _clip_dx_right, where="x = lo or x = hi"), None, None),
    doc="Clamp x to [lo, hi] (either may be None). Kinks at the bounds; default derivative 0 there.")
