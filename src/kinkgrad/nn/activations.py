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


def _activation_layer(name, fn_name, **defaults):
    def __init__(self, **kw):
        Module.__init__(self)
        self.kw = {**defaults, **kw}
        try:                                   # unknown argument names fail here, not at the first batch
            with kg.no_grad():
                ACTIVATIONS[fn_name](np.zeros((1, 2), np.float32), **self.kw)
        except TypeError as e:
            raise TypeError(f"{name}: invalid arguments {self.kw}: {e}") from None
        except ValueError:
            pass                               # a value that depends on the input's shape (an axis) is checked later

    def forward(self, x):
        return ACTIVATIONS[fn_name](x, **self.kw)

    def get_config(self):
        return dict(self.kw)

    return type(name, (Module,), {"__init__": __init__, "forward": forward, "get_config": get_config,
                                  "__doc__": f"The {fn_name} activation as a layer.", "__module__": __name__})


ReLU = _activation_layer("ReLU", "relu")
LeakyReLU = _activation_layer("LeakyReLU", "leaky_relu")
ELU = _activation_layer("ELU", "elu")
SELU = _activation_layer("SELU", "selu")
CELU = _activation_layer("CELU", "celu")
GELU = _activation_layer("GELU", "gelu")
SiLU = _activation_layer("SiLU", "silu")
Swish = SiLU
Mish = _activation_layer("Mish", "mish")
Softplus = _activation_layer("Softplus", "softplus")
Sigmoid = _activation_layer("Sigmoid", "sigmoid")
Tanh = _activation_layer("Tanh", "tanh")
ReLU6 = _activation_layer("ReLU6", "relu6")
Hardtanh = _activation_layer("Hardtanh", "hardtanh")
Hardswish = _activation_layer("Hardswish", "hardswish")
Hardsigmoid = _activation_layer("Hardsigmoid", "hardsigmoid")
Softmax = _activation_layer("Softmax", "softmax")
