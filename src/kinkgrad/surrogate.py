"""Surrogate gradients for the step function (spiking networks, binarized activations).

``kg.surrogate.heaviside(x, grad=..., slope=...)`` returns the step exactly (1 where x > 0, else 0)
and backpropagates the derivative of a smooth stand-in. Shapes and default scales follow snnTorch,
SpikingJelly and Norse:

| grad | derivative used in backward | default |
|---|---|---|
| ``"sigmoid"`` | k s(kx)(1 - s(kx)), s the logistic | k = 25 (snnTorch ``sigmoid``) |
| ``"fast_sigmoid"`` | 1 / (k abs(x) + 1)^2 (SuperSpike) | k = 25 (snnTorch ``fast_sigmoid``; Norse ``super``: 100) |
| ``"atan"`` | (a / 2) / (1 + (pi a x / 2)^2) | a = 2 (snnTorch ``ATan``, SpikingJelly ``ATan``) |
| ``"triangle"`` | k max(0, 1 - k abs(x)) | k = 1 (unit area) |
| ``"rectangle"`` | k where abs(x) < 1 / (2k), else 0 | k = 1 (unit area, STBP) |
| ``"identity"`` | 1 (the plain straight-through estimator) | |

The forward value is bit-exact the hard step; the derivative is a rule of its own (forward and
reverse mode, and differentiable again). The audit tags gradients through it ``surrogate``.
"""
from __future__ import annotations

import math

import numpy as np

from .autodiff.primitive import Primitive
from .custom import _note_surrogate
from .ops import raw

DEFAULT_SLOPE = {"sigmoid": 25.0, "fast_sigmoid": 25.0, "atan": 2.0, "triangle": 1.0, "rectangle": 1.0,
                 "identity": 1.0}


def _derivative(m, x, kind, slope):
    k = slope
    if kind == "sigmoid":
        s = m.sigmoid(k * x)
        return k * s * (1 - s)
    if kind == "fast_sigmoid":
        return 1.0 / (k * m.abs(x) + 1.0) ** 2
    if kind == "atan":
        return (k / 2) / (1 + (math.pi / 2 * k * x) ** 2)
    if kind == "triangle":
        return k * m.maximum(1 - k * m.abs(x), 0.0)
    if kind == "rectangle":
        return m.where(m.abs(x) < 1 / (2 * k), k, 0.0) + 0 * x
    if kind == "identity":
        return 1.0 + 0 * x
    raise ValueError(kind)


def _deriv(m, out, x, kind, slope):
    _note_surrogate()
    return _derivative(m, x, kind, slope)


_STEP = Primitive("surrogate_heaviside", lambda x, kind, slope: (x > 0).astype(x.dtype),
                  derivs=(_deriv,), doc="the unit step with a surrogate derivative")


def heaviside(x, grad="fast_sigmoid", slope=None):
    """The step 1[x > 0] with the surrogate derivative ``grad`` (see the module table)."""
    if grad not in DEFAULT_SLOPE:
        raise ValueError(f"surrogate.heaviside: grad={grad!r}; choose one of {', '.join(DEFAULT_SLOPE)}")
    k = DEFAULT_SLOPE[grad] if slope is None else float(slope)
    if k <= 0:
        raise ValueError(f"surrogate.heaviside: slope must be > 0, got {slope}")
    return _STEP(x, kind=grad, slope=k)


step = heaviside


def derivative(x, grad="fast_sigmoid", slope=None):
    """The surrogate derivative itself, as a NumPy array (for plots and checks)."""
    if grad not in DEFAULT_SLOPE:
        raise ValueError(f"surrogate.derivative: grad={grad!r}; choose one of {', '.join(DEFAULT_SLOPE)}")
    k = DEFAULT_SLOPE[grad] if slope is None else float(slope)
    return np.asarray(_derivative(raw, np.asarray(x, dtype=float), grad, k))
