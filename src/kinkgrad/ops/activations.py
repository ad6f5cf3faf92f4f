"""Activation functions under their ``torch.nn.functional`` names.

Smooth ones are compositions (they inherit exact derivatives); ones with a kink whose default
would come out wrong by composition are primitives with a kink declaration.
"""
from __future__ import annotations

import math

import numpy as np

from ..kinks.declare import Kink
from ..kinks.docs import documents
from ._declare import elementwise
from .elementwise import erf, expm1, sigmoid, softplus, tanh
from .nonsmooth import (
    abs,
    hardshrink,
    hardsigmoid,
    hardswish,
    hardtanh,
    maximum,
    minimum,
    relu,
    relu6,
    softshrink,
    threshold,
)

_SELU_ALPHA = 1.6732632423543772
_SELU_SCALE = 1.0507009873554805


def silu(x):
    """x * sigmoid(x) (a.k.a. swish)."""
    return x * sigmoid(x)


swish = silu


def gelu(x, approximate="none"):
    """x * Phi(x) (exact, with erf) or the tanh approximation (``approximate="tanh"``)."""
    if approximate == "tanh":
        return 0.5 * x * (1 + tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)))
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return 0.5 * x * (1 + erf(x * (1 / math.sqrt(2))))


def mish(x):
    """x * tanh(softplus(x))."""
    return x * tanh(softplus(x))


def softsign(x):
    """x / (1 + |x|)."""
    return x / (1 + abs(x))


def _elu_kernel(x, alpha=1.0, scale=1.0):
    neg = scale * alpha * np.expm1(np.minimum(x, 0))
    return np.where(x > 0, scale * x, neg).astype(x.dtype, copy=False)


def _elu_deriv(m, out, x, alpha=1.0, scale=1.0):
    # left slope at 0 is scale*alpha, right slope scale; the formula gives their min-norm element
    left = scale * alpha * m.exp(m.minimum(x, 0.0))
    at0 = min(abs(scale * alpha), abs(scale)) * (1 if scale * alpha >= 0 else -1)
    return m.where(x > 0, scale, m.where(x < 0, left, at0))


def _elu_prim(name):
    return elementwise(
        name, _elu_kernel, _elu_deriv,
        kinks=Kink(lambda x, alpha=1.0, scale=1.0: (x == 0) & (alpha != 1.0),
                   left=lambda x, alpha=1.0, scale=1.0: scale * alpha,
                   right=lambda x, alpha=1.0, scale=1.0: scale, where="x = 0 (when alpha != 1)",
                   distance=lambda x, alpha=1.0, scale=1.0: np.abs(x)),
        doc=f"{name}: scale * (x if x > 0 else alpha (e^x - 1)).")


_elu = _elu_prim("elu")
_selu = _elu_prim("selu")


@documents("elu")
def elu(x, alpha=1.0):
    """x for x > 0, alpha (e^x - 1) otherwise (a kink at 0 unless alpha = 1)."""
    return _elu(x, alpha=float(alpha), scale=1.0)


@documents("selu")
def selu(x):
    """scale * elu(x, alpha) with the self-normalising constants (one-sided slopes 1.758 / 1.051 at 0)."""
    return _selu(x, alpha=_SELU_ALPHA, scale=_SELU_SCALE)


def celu(x, alpha=1.0):
    """max(x, 0) + alpha * expm1(min(x, 0) / alpha), written the Keras way.

    Continuously differentiable (slope 1 at 0) for every alpha; the two ties at x = 0 make the
    value at 0 follow the tie rule: 1/2 + 1/2 = 1 when ties split, 2 when ties go to the first
    argument (what TensorFlow / Keras report).
    """
    return maximum(x, 0.0) + alpha * expm1(minimum(x, 0.0) / alpha)


def _prelu_deriv_x(m, out, x, weight):
    # at 0 the Clarke interval lies between the slopes weight and 1; its minimum-norm element is
    # clip(weight, 0, 1), as for leaky_relu
    at0 = m.minimum(m.maximum(weight, 0.0), 1.0)
    return m.where(x > 0, 1.0, m.where(x < 0, weight, at0))


def _prelu_at0(x, weight):
    return np.broadcast_to(x == 0, np.broadcast_shapes(np.shape(x), np.shape(weight)))


prelu = elementwise(
    "prelu", lambda x, weight: np.where(x >= 0, x, x * weight).astype(np.result_type(x, weight), copy=False),
    _prelu_deriv_x, lambda m, out, x, weight: m.where(x < 0, x, 0.0),
    kinks=(Kink(_prelu_at0, left=lambda x, weight: weight, right=1.0, where="x = 0",
                distance=lambda x, weight: np.abs(x)), None),
    doc="x if x >= 0 else weight * x with a learned slope (broadcast against x): PyTorch's prelu, ONNX's "
        "PRelu; at 0 the default derivative is clip(weight, 0, 1), the minimum-norm one-sided slope.",
    signature="x, weight")


__all__ = ["silu", "swish", "gelu", "mish", "softsign", "elu", "selu", "celu", "relu6", "hardtanh", "relu",
           "sigmoid", "tanh", "softplus", "hardswish", "hardsigmoid", "softshrink", "hardshrink", "threshold",
           "prelu"]
