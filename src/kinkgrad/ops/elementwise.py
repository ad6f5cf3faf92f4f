"""Smooth elementwise primitives: arithmetic, exponentials, trigonometry, comparisons.

Each op states its partial derivatives once (``∂out/∂x`` as a function of ``out`` and the inputs);
reverse and forward mode are both generated from that one statement.
"""
from __future__ import annotations

import math

import numpy as np

from .._special import erf as _erf_kernel
from ..autodiff.primitive import Primitive
from ..kinks.declare import Kink
from ._declare import comparison, elementwise, public

# -- arithmetic -------------------------------------------------------------------------------
add = public(Primitive("add", np.add,
                vjp=(lambda m, g, out, x, y: g, lambda m, g, out, x, y: g),
                jvp=(lambda m, t, out, x, y: t, lambda m, t, out, x, y: t),
                doc="x + y (broadcasting)."), "x, y")
subtract = public(Primitive("subtract", np.subtract,
                     vjp=(lambda m, g, out, x, y: g, lambda m, g, out, x, y: -g),
                     jvp=(lambda m, t, out, x, y: t, lambda m, t, out, x, y: -t),
                     doc="x - y (broadcasting)."), "x, y")
negative = public(Primitive("negative", np.negative, vjp=lambda m, g, out, x: -g, linear=True, doc="-x."), "x")
multiply = elementwise("multiply", np.multiply,
                       lambda m, out, x, y: y,
                       lambda m, out, x, y: x,
                       doc="x * y (broadcasting).", signature="x, y")
def _over_zero(x, y):
    """d(x/y)/dx = 1/y at y = 0: the infinity signed like the zero (IEEE 1/+0 = inf, 1/-0 = -inf)."""
    with np.errstate(divide="ignore"):
        return np.divide(1.0, y)


def _minus_x_over_zero(x, y):
    """d(x/y)/dy = -x/y**2 at y = 0: -inf where x > 0, +inf where x < 0, NaN (0/0) where x = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.divide(-np.asarray(x, dtype=float), np.square(y))


divide = elementwise("divide", np.true_divide,
                     lambda m, out, x, y: 1 / y,
                     lambda m, out, x, y: -out / y, singular=True,
                     kinks=(Kink(lambda x, y: y == 0, _over_zero, _over_zero, kind="singular", where="y = 0"),
                            Kink(lambda x, y: y == 0, _minus_x_over_zero, _minus_x_over_zero, kind="singular",
                                 where="y = 0")),
                     doc="x / y (broadcasting).", signature="x, y")


def _pow_dx(m, out, x, p):
    if isinstance(p, (int, float)):
        return 0 * x if p == 0 else p * x ** (p - 1)
    # p == 0 gives 0 even at x == 0 (0 * 0**-1 would be NaN)
    return m.where(p == 0, 0.0, p * x ** m.where(p == 0, 1.0, p - 1))


def _pow_dp(m, out, x, p):
    # d/dp x**p = x**p log x; taken as 0 at x == 0 (the limit for p > 0), and log never sees 0
    safe = m.where(x == 0, 1.0, x)
    return m.where(x == 0, 0.0, out * m.log(safe))


def _pow_at0(x, p):
    return (x == 0) & (p < 1)


def _pow_slope_at0(x, p):
    """d/dx x**p at x = 0: 0 for p = 0 (x**0 = 1 is flat), p * inf for p < 1 (the right-hand limit, also
    used as the left one: a NaN there, though x**0.5 has no left side, would make forward-mode
    derivatives with respect to p NaN, since a zero tangent times a NaN partial stays NaN)."""
    return np.where(p == 0, 0.0, np.multiply(p, np.inf))


power = elementwise("power", np.power, _pow_dx, _pow_dp, singular=True,
                    kinks=(Kink(_pow_at0, _pow_slope_at0, _pow_slope_at0, kind="singular",
                                where="x = 0 with p < 1"), None),
                    doc="x ** p; d/dx = p x^(p-1), d/dp = x^p log x (0 at x = 0).", signature="x, y")
reciprocal = elementwise("reciprocal", np.reciprocal, lambda m, out, x: -out * out, singular=True,
                         kinks=Kink(lambda x: x == 0, -np.inf, -np.inf, kind="singular", where="x = 0"),
                         doc="1 / x; singular at 0.", signature="x")
square = elementwise("square", np.square, lambda m, out, x: 2 * x, doc="x ** 2.", signature="x")

# -- exponentials and logarithms --------------------------------------------------------------
exp = elementwise("exp", np.exp, lambda m, out, x: out, doc="e ** x.", signature="x")
expm1 = elementwise("expm1", np.expm1, lambda m, out, x: out + 1, doc="e ** x - 1, accurate near 0.",
                    signature="x")
log = elementwise("log", np.log, lambda m, out, x: 1 / x, singular=True,
                  kinks=Kink(lambda x: x == 0, np.nan, np.inf, kind="singular", where="x = 0"),
                  doc="Natural logarithm.", signature="x")
log1p = elementwise("log1p", np.log1p, lambda m, out, x: 1 / (1 + x), singular=True,
                    kinks=Kink(lambda x: x == -1, np.nan, np.inf, kind="singular", where="x = -1"),
                    doc="log(1 + x), accurate near 0.", signature="x")
sqrt = elementwise("sqrt", np.sqrt, lambda m, out, x: 0.5 / out, singular=True,
                   kinks=Kink(lambda x: x == 0, np.nan, np.inf, kind="singular", where="x = 0"),
                   doc="Square root; d/dx = 1 / (2 sqrt x), +inf at 0 (a singular point).", signature="x")

# -- trigonometric and hyperbolic -------------------------------------------------------------
sin = elementwise("sin", np.sin, lambda m, out, x: m.cos(x), doc="Sine.", signature="x")
cos = elementwise("cos", np.cos, lambda m, out, x: -m.sin(x), doc="Cosine.", signature="x")
tan = elementwise("tan", np.tan, lambda m, out, x: 1 + out * out, doc="Tangent.", signature="x")
tanh = elementwise("tanh", np.tanh, lambda m, out, x: 1 - out * out, doc="Hyperbolic tangent.", signature="x")


def _sigmoid_kernel(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(np.result_type(x, np.float16), copy=False)


sigmoid = elementwise("sigmoid", _sigmoid_kernel, lambda m, out, x: out * (1 - out),
                      doc="1 / (1 + e^-x), stable for large |x|.", signature="x")


def _softplus_kernel(x, beta=1.0, threshold=None):
    out = (np.logaddexp(0, beta * x) / beta).astype(np.result_type(x, np.float16), copy=False)
    return out if threshold is None else np.where(beta * x > threshold, x, out)


def _softplus_deriv(m, out, x, beta=1.0, threshold=None):
    d = m.sigmoid(beta * x)
    return d if threshold is None else m.where(beta * x > threshold, 1.0, d)


_softplus = elementwise("softplus", _softplus_kernel, _softplus_deriv,
                        doc="log(1 + e^(beta x)) / beta; derivative sigmoid(beta x).")


def softplus(x, beta=1.0, threshold=None):
    """log(1 + e^(beta x)) / beta, exact by default. ``threshold=20`` switches to the identity where
    beta * x > threshold, as PyTorch does (value and slope then jump by ~2e-9 there)."""
    return _softplus(x, beta=beta, threshold=threshold)

_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
erf = elementwise("erf", _erf_kernel, lambda m, out, x: _TWO_OVER_SQRT_PI * m.exp(-x * x),
                  doc="Error function; d/dx = 2/sqrt(pi) e^(-x^2).", signature="x")

copy = public(Primitive("copy", lambda x: np.array(x, copy=True), vjp=lambda m, g, out, x: g, linear=True,
                        doc="A fresh copy of x (Tensor.clone); the gradient passes through."), "x")

# -- dtype ------------------------------------------------------------------------------------
cast = public(Primitive("cast", lambda x, dtype: np.asarray(x).astype(dtype, copy=False),
                        vjp=lambda m, g, out, x, dtype: g, linear=True,
                        doc="Convert to another dtype (the engine casts the gradient back)."), "x, dtype")

# -- comparisons (no derivative: boolean, piecewise constant) ---------------------------------
greater = comparison("greater", np.greater, lambda s: s > 0)
greater_equal = comparison("greater_equal", np.greater_equal, lambda s: s >= 0)
less = comparison("less", np.less, lambda s: s < 0)
less_equal = comparison("less_equal", np.less_equal, lambda s: s <= 0)
equal = comparison("equal", np.equal, lambda s: s == 0)
not_equal = comparison("not_equal", np.not_equal, lambda s: s != 0)
logical_and = comparison("logical_and", np.logical_and)
logical_or = comparison("logical_or", np.logical_or)
logical_not = comparison("logical_not", np.logical_not, signature="x")
isnan = comparison("isnan", np.isnan, signature="x")
isfinite = comparison("isfinite", np.isfinite, signature="x")
isinf = comparison("isinf", np.isinf, signature="x")
