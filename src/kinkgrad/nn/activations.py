"""Activations by name and as layers (``Activation("relu")``, ``ReLU()``, ``LeakyReLU(negative_slope=0.3)``)."""
from __future__ import annotations

import numpy as np

import kinkgrad as kg

from .. import ops
from .module import Module


def linear(x):
    """The identity (Keras' ``activation=None`` / ``"linear"``)."""
    return x


ACTIVATIONS = {
    "relu": ops.relu, "leaky_relu": ops.leaky_relu, "elu": ops.elu, "selu": ops.selu, "celu": ops.celu,
    "gelu": ops.gelu, "silu": ops.silu, "swish": ops.silu, "mish": ops.mish, "softplus": ops.softplus,
    "softsign": ops.softsign, "sigmoid": ops.sigmoid, "tanh": ops.tanh, "relu6": ops.relu6,
    "hardtanh": ops.hardtanh, "hard_tanh": ops.hardtanh, "hardswish": ops.hardswish, "hard_swish": ops.hardswish,
    "hardsigmoid": ops.hardsigmoid, "hard_sigmoid": ops.hardsigmoid, "softmax": ops.softmax,
    "log_softmax": ops.log_softmax, "linear": linear, None: linear,
}


def get_activation(name, owner="activation"):
    """The function for a name (or a callable, returned unchanged)."""
    if callable(name):
        return name
    if not isinstance(name, str) and name is not None:
        raise TypeError(f"{owner}: activation must be a name such as 'relu' or a function, got {name!r} "
                        f"({type(name).__name__})")
    if name not in ACTIVATIONS:
        names = ", ".join(k for k in ACTIVATIONS if k)
        raise ValueError(f"{owner}: unknown activation {name!r}; choose one of {names}")
    return ACTIVATIONS[name]


def activation_name(activation):
    """What a config stores: the name; a function stays a function (``from_config`` in the same process
    works; ``model.save`` refuses it by name rather than silently saving a linear layer)."""
    return activation


class Activation(Module):
    """Apply a named activation (``"relu"``, ``"gelu"``, ...) or a function."""

    def __init__(self, activation):
        super().__init__()
        get_activation(activation, "Activation")
        self.activation = activation

    def forward(self, x):
        fn = self.activation if callable(self.activation) else ACTIVATIONS[self.activation]
        return fn(x)

    def get_config(self):
        return {"activation": activation_name(self.activation)}


class ActivationLayer(Module):
    """An activation function as a layer; each subclass names its function in ``function`` and spells out
    that function's options in its own ``__init__`` (so help(), IDEs and ``get_config`` all see them)."""

    function = None

    def __init__(self, **options):
        super().__init__()
        self.kw = options
        name = type(self).__name__
        try:                                   # unknown argument names fail here, not at the first batch
            with kg.no_grad():
                ACTIVATIONS[self.function](np.zeros((1, 2), np.float32), **options)
        except TypeError as e:
            raise TypeError(f"{name}: invalid arguments {options}: {e}") from None
        except ValueError:
            pass                               # a value that depends on the input's shape (an axis) is checked later

    def forward(self, x):
        return ACTIVATIONS[self.function](x, **self.kw)

    def get_config(self):
        return dict(self.kw)


class ReLU(ActivationLayer):
    """max(x, 0) as a layer (its kink at 0 follows the kink policy)."""
    function = "relu"


class LeakyReLU(ActivationLayer):
    """x for x >= 0, ``negative_slope * x`` below."""
    function = "leaky_relu"

    def __init__(self, negative_slope=0.01):
        super().__init__(negative_slope=negative_slope)


class ELU(ActivationLayer):
    """x for x > 0, ``alpha * (e^x - 1)`` below."""
    function = "elu"

    def __init__(self, alpha=1.0):
        super().__init__(alpha=alpha)


class SELU(ActivationLayer):
    """The scaled ELU with the self-normalizing constants."""
    function = "selu"


class CELU(ActivationLayer):
    """max(0, x) + min(0, alpha (e^(x / alpha) - 1))."""
    function = "celu"

    def __init__(self, alpha=1.0):
        super().__init__(alpha=alpha)


class GELU(ActivationLayer):
    """x Phi(x); ``approximate="tanh"`` for the tanh approximation."""
    function = "gelu"

    def __init__(self, approximate="none"):
        super().__init__(approximate=approximate)


class SiLU(ActivationLayer):
    """x sigmoid(x) (also called swish)."""
    function = "silu"


Swish = SiLU


class Mish(ActivationLayer):
    """x tanh(softplus(x))."""
    function = "mish"


class Softplus(ActivationLayer):
    """log(1 + e^(beta x)) / beta; ``threshold`` as PyTorch's."""
    function = "softplus"

    def __init__(self, beta=1.0, threshold=None):
        super().__init__(beta=beta, threshold=threshold)


class Sigmoid(ActivationLayer):
    """1 / (1 + e^-x)."""
    function = "sigmoid"


class Tanh(ActivationLayer):
    """tanh(x)."""
    function = "tanh"


class ReLU6(ActivationLayer):
    """min(max(x, 0), 6) (kinks at 0 and 6)."""
    function = "relu6"


class Hardtanh(ActivationLayer):
    """x clipped to [min_val, max_val]."""
    function = "hardtanh"

    def __init__(self, min_val=-1.0, max_val=1.0):
        super().__init__(min_val=min_val, max_val=max_val)


class Hardswish(ActivationLayer):
    """x relu6(x + 3) / 6."""
    function = "hardswish"


class Hardsigmoid(ActivationLayer):
    """relu6(x + 3) / 6."""
    function = "hardsigmoid"


class Softmax(ActivationLayer):
    """softmax over ``axis``."""
    function = "softmax"

    def __init__(self, axis=-1):
        super().__init__(axis=axis)
