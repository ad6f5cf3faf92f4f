"""The preset tables: what each named convention assigns at each op's kinks, ties and singular points.

A preset is a table ``op name -> rule``; ops missing from a table follow the preset's base rule.
Rules:

* ``"default"``: the minimum-norm element of the local Clarke set (kinks), an even split (ties),
  the true one-sided limit (singular points);
* ``"left"`` / ``"right"`` / ``"mid"``: the one-sided derivatives or their average. For ties these
  are coordinate-wise: moving one tied element up (right) makes it win alone;
* ``"split"`` / ``"first"`` / ``"last"``: ties share evenly, or go to the first / last candidate
  (in the op's order, e.g. index order for ``max``, stable order for ``sort``);
* ``"zero"``, ``"nan"``, ``"random"``, ``"raise"``, ``"limit"``; a number (the derivative there);
* a dict ``{kink label: rule}`` when an op has several kinks; or a function
  ``rule(left, right, xs, params) -> value`` for a convention no word describes.

The ``torch``, ``jax`` and ``tensorflow`` tables reproduce what PyTorch 2.13, JAX 0.10 and
TensorFlow 2.21 return at these points (measured, see the test-suite's oracle data), their
inconsistencies included; every entry says where it comes from.
"""
from __future__ import annotations

import numpy as np


def _float32_of_left(left, right, xs, params):
    """The left slope rounded to float32.

    TensorFlow stores leaky_relu's alpha as a float32 attribute: even in float64 the slope at 0
    is float32(alpha) = 0.009999999776482582 for alpha = 0.01."""
    return float(np.float32(left))


def _pow_nan_at_p0(left, right, xs, params):
    """NaN where p = 0, else the limit.

    TensorFlow's pow rule computes p * x**(p-1): at x = 0 that is 0 * inf = NaN for p = 0
    (the limit, p * inf, elsewhere)."""
    p = xs[1]
    return np.where(np.asarray(p) == 0, np.nan, right)


def _pow_nan_at_float_p0(left, right, xs, params):
    """NaN for a float exponent 0, else the limit.

    JAX differentiates ``x ** 0`` with a Python-int exponent by integer_pow (derivative 0 at
    x = 0), but a float exponent by pow, whose rule computes 0 * 0**-1 = NaN."""
    p = xs[1]
    if isinstance(p, (int, np.integer)) and not isinstance(p, bool):
        return right
    return np.where(np.asarray(p) == 0, np.nan, right)


BASE = {
    "default": "default", "left": "left", "right": "right", "mid": "mid", "zero": "zero",
    "nan": "nan", "random": "random", "raise": "raise",
    "torch": "default", "jax": "default", "tensorflow": "default", "directional": "directional",
}

DESCRIPTIONS = {
    "default": "minimum-norm element of the local Clarke set: relu'(0)=0, abs'(0)=0, ties split evenly, "
               "clip'(bound)=0, leaky_relu'(0)=slope, selu'(0)=smaller slope, norm'(0)=0",
    "torch": "PyTorch 2.13 on CPU, as measured, both modes",
    "jax": "JAX 0.10, as measured, both modes",
    "tensorflow": "TensorFlow 2.21 / Keras 3, as measured, both modes",
    "left": "one-sided derivative from the left (ties: the tied element moved down loses)",
    "right": "one-sided derivative from the right (ties: the tied element moved up wins)",
    "mid": "average of the left and right one-sided derivatives",
    "zero": "0 at every kink and tie",
    "nan": "NaN at every kink and tie (shows where a result depends on a convention)",
    "random": "a random element of the Clarke set per element (seeded: kg.kinks('random', seed=0))",
    "raise": "raise KinkError at the first kink reached: op, element index, value, the line that made the op",
    "directional": "certified generalized gradient: the piece active along a seeded random direction",
}

TABLES = {
    "torch": {
        "abs": "default",              # sgn(x) * g: 0 at 0
        "leaky_relu": "left",          # x > 0 ? g : g * slope
        "prelu": "left",               # x > 0 ? g : g * weight (as leaky_relu)
        "hardtanh": "default",         # 0 at both bounds (unlike clamp)
        "relu6": "default",
        "elu": "left",                 # negative branch taken at 0: alpha * exp(0)
        "selu": "left",                # 1.7581 at 0
        "clip": 1.0,                   # clamp passes the gradient at its bounds (x >= min & x <= max)
        "maximum": "split", "minimum": "split",
        "max": "split", "min": "split", "max.indices": "first", "min.indices": "first",
        "sort": "torch",               # tied values as the CPU introsort leaves them (stable up to 16)
        "topk": "torch",               # order of tied picks follows the CPU selection algorithm
        "median": "torch",             # lower median: shared by its ties (full), the stable-first one (axis)
        "quantile": "torch",           # it sorts the same way
        "cummax": "last", "cummin": "last",   # the running index moves to the latest tie
        "max_pool2d": "first",
        "power": "default",            # d/dx x**0 = 0 at 0
        "norm": "default",             # 0 at the zero vector
        "std": "default",              # 0 where all elements are equal
    },
    "jax": {
        "abs": "right",                # select(x >= 0, 1, -1): 1 at 0 (and at -0.0)
        "leaky_relu": "right",         # where(x >= 0, ...): 1 at 0
        "hardtanh": 1.0,               # 1 at both bounds
        "relu6": "default",
        "elu": "left", "selu": "left",
        "clip": "mid",                 # clip = minimum(maximum(x, lo), hi): the tie splits, 1/2
        "maximum": "split", "minimum": "split",
        "max": "split", "min": "split",
        "sort": "first", "topk": "first",
        "median": "linear",            # quantile(x, 0.5) with linear interpolation on a stable sort
        "quantile": "first",
        "cummax": "split", "cummin": "split",
        "max_pool2d": "first",
        "power": _pow_nan_at_float_p0,   # d/dx x**0.0 at 0 is NaN, x**0 (Python int) is 0
        "norm": "nan",                 # x / ||x|| at 0
        "std": "nan",                  # sqrt(var): 0 * inf where all elements are equal
    },
    "tensorflow": {
        "abs": "default",
        "leaky_relu": _float32_of_left,
        "hardtanh": 1.0,               # clip_by_value passes the gradient at its bounds
        "relu6": "default",
        "elu": "right", "selu": "right",   # 1.0507 at 0
        "clip": 1.0,
        "maximum": "first", "minimum": "first",   # ties go entirely to the first argument
        "max": "split", "min": "split",
        "sort": "first", "topk": "first",
        "quantile": "first",
        "max_pool2d": "first",
        "power": _pow_nan_at_p0,       # 0 * 0**-1 at x = 0, p = 0, for every exponent type
        "norm": "nan",
        "std": "nan",                  # sqrt(reduce_variance): 0 * inf where all elements are equal
    },
}
