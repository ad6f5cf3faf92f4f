"""Layers: Dense/Linear, convolutions, pooling, normalization, dropout, embedding, activations."""
from __future__ import annotations

import numpy as np

from .. import ops
from .. import random as _random
from ..context import no_grad
from ..tensor import Tensor, as_tensor
from . import init as initializers
from .module import Module, Parameter

# -- activations ------------------------------------------------------------------------------------
ACTIVATIONS = {
    "relu": ops.relu, "leaky_relu": ops.leaky_relu, "elu": ops.elu, "selu": ops.selu, "celu": ops.celu,
    "gelu": ops.gelu, "silu": ops.silu, "swish": ops.silu, "mish": ops.mish, "softplus": ops.softplus,
    "softsign": ops.softsign, "sigmoid": ops.sigmoid, "tanh": ops.tanh, "relu6": ops.relu6,
    "hardtanh": ops.hardtanh, "hard_tanh": ops.hardtanh, "hardswish": ops.hardswish, "hard_swish": ops.hardswish,
    "hardsigmoid": ops.hardsigmoid, "hard_sigmoid": ops.hardsigmoid, "softmax": ops.softmax,
    "log_softmax": ops.log_softmax, "linear": lambda x: x, None: lambda x: x,
}


def get_activation(name):
    if callable(name):
        return name
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(k for k in ACTIVATIONS if k)}")
    return ACTIVATIONS[name]


def _input(x, layer):
    x = x if isinstance(x, Tensor) else as_tensor(np.asarray(x))
    if x.data.dtype.kind not in "f":
        raise TypeError(f"{layer}: expects floating-point input, got dtype {x.dtype}; convert it, e.g. "
                        "X.astype('float32')")
    return x


class Activation(Module):
    """Apply a named activation (``"relu"``, ``"gelu"``, ...) or a function."""

    def __init__(self, activation):
        super().__init__()
        self.activation = activation
        self.fn = get_activation(activation)

    def forward(self, x):
        return self.fn(x)

    def get_config(self):
        return {"activation": self.activation if isinstance(self.activation, str) else None}


def _activation_layer(name, fn_name, **defaults):
    def __init__(self, **kw):
        Module.__init__(self)
        self.kw = {**defaults, **kw}

    def forward(self, x):
        return ACTIVATIONS[fn_name](x, **self.kw)

    def get_config(self):
        return dict(self.kw)

    return type(name, (Module,), {"__init__": __init__, "forward": forward, "get_config": get_config,
                                  "__doc__": f"The {fn_name} activation as a layer."})


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


# -- dense ------------------------------------------------------------------------------------------
class Dense(Module):
    """Keras' Dense: ``activation(x @ kernel + bias)`` on the last axis; the input size is found on
    the first call (or given by ``input_shape``/``input_dim``)."""

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", input_shape=None, input_dim=None, seed=None, dtype="float32"):
        super().__init__()
        if not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"Dense: units must be a positive int, got {units!r}")
        self.units = int(units)
        self.activation = activation
        self.fn = get_activation(activation)
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.seed, self.dtype = seed, np.dtype(dtype)
        self.kernel = self.bias = None
        n_in = input_dim if input_dim is not None else (input_shape[-1] if input_shape else None)
        self.input_shape = input_shape
        if n_in is not None:
            self.build(n_in)

    def build(self, n_in):
        rng = initializers._rng(self.seed)
        self.kernel = Parameter(initializers.get(self.kernel_initializer)((n_in, self.units), rng, self.dtype))
        if self.use_bias:
            self.bias = Parameter(initializers.get(self.bias_initializer)((self.units,), rng, self.dtype))

    def forward(self, x):
        x = _input(x, "Dense")
        if self.kernel is None:
            self.build(x.shape[-1])
        if x.shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"Dense: input has {x.shape[-1]} features (shape {x.shape}) but the layer was built "
                             f"for {self.kernel.shape[0]}")
        return self.fn(ops.affine(x, self.kernel, self.bias))

    def get_config(self):
        return {"units": self.units, "activation": self.activation if isinstance(self.activation, str) else None,
                "use_bias": self.use_bias, "kernel_initializer": self.kernel_initializer,
                "bias_initializer": self.bias_initializer, "seed": self.seed, "dtype": self.dtype.name,
                **({"input_shape": tuple(self.input_shape)} if self.input_shape else {})}


class Linear(Module):
    """PyTorch's Linear: ``x @ weight.T + bias`` with ``weight`` of shape (out, in) and PyTorch's
    default uniform initialisation."""

    def __init__(self, in_features, out_features, bias=True, seed=None, dtype="float32"):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.seed, self.dtype = seed, np.dtype(dtype).name
        rng = initializers._rng(seed)
        self.weight = Parameter(initializers.torch_uniform((out_features, in_features), in_features, rng, dtype))
        self.bias = Parameter(initializers.torch_uniform((out_features,), in_features, rng, dtype)) if bias else None

    def forward(self, x):
        x = _input(x, "Linear")
        if x.shape[-1] != self.in_features:
            raise ValueError(f"Linear: input has {x.shape[-1]} features (shape {x.shape}), expected {self.in_features}")
        return ops.affine(x, self.weight.T, self.bias)

    def get_config(self):
        return {"in_features": self.in_features, "out_features": self.out_features, "bias": self.bias is not None,
                "seed": self.seed, "dtype": self.dtype}


# -- convolutions and pooling ---------------------------------------------------------------------------
def _pair(v):
    return (v, v) if isinstance(v, (int, np.integer)) else tuple(v)


class _Conv(Module):
    """What the convolutions share: PyTorch's argument names, defaults and initialisation."""

    dims = 2
    _norm = staticmethod(_pair)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True,
                 seed=None, dtype="float32"):
        super().__init__()
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.seed, self.dtype = seed, np.dtype(dtype).name
        self.kernel_size, self.stride = self._norm(kernel_size), self._norm(stride)
        self.padding, self.dilation = self._norm(padding), self._norm(dilation)
        kshape = self.kernel_size if self.dims == 2 else (self.kernel_size,)
        fan_in = self.in_channels * int(np.prod(kshape))
        rng = initializers._rng(seed)
        self.weight = Parameter(initializers.torch_uniform((out_channels, in_channels) + kshape, fan_in, rng, dtype))
        self.bias = Parameter(initializers.torch_uniform((out_channels,), fan_in, rng, dtype)) if bias else None

    def get_config(self):
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding,
                "dilation": self.dilation, "bias": self.bias is not None, "seed": self.seed, "dtype": self.dtype}


class Conv2d(_Conv):
    """2-D convolution on (N, C, H, W) (PyTorch's layout and defaults): stride, padding, dilation."""

    def forward(self, x):
        x = _input(x, "Conv2d")
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2d: expects input (N, {self.in_channels}, H, W), got shape {x.shape}")
        return ops.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)


class Conv1d(_Conv):
    """1-D convolution on (N, C, L) (PyTorch's layout), as a 2-D convolution of height 1."""

    dims = 1
    _norm = staticmethod(int)

    def forward(self, x):
        x = _input(x, "Conv1d")
        if x.ndim != 3 or x.shape[1] != self.in_channels:
            raise ValueError(f"Conv1d: expects input (N, {self.in_channels}, L), got shape {x.shape}")
        y = ops.conv2d(ops.expand_dims(x, 2), ops.expand_dims(self.weight, 2), self.bias, (1, self.stride),
                       (0, self.padding), (1, self.dilation))
        return ops.squeeze(y, 2)


class MaxPool2d(Module):
    """Max pooling; ties in a window follow the ``max_pool2d`` kink rule (``torch`` preset: the first
    element, like every framework; ``default``: split evenly)."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x):
        return ops.max_pool2d(_input(x, "MaxPool2d"), self.kernel_size, self.stride, self.padding)

    def get_config(self):
        return {"kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding}


class AvgPool2d(MaxPool2d):
    """Average pooling (zero padding counts in the mean)."""

    def forward(self, x):
        return ops.avg_pool2d(_input(x, "AvgPool2d"), self.kernel_size, self.stride, self.padding)


class Flatten(Module):
    """Flatten every axis after the first (the batch axis)."""

    def forward(self, x):
        x = _input(x, "Flatten")
        return ops.reshape(x, (x.shape[0], -1))


# -- regularisation and normalisation -------------------------------------------------------------------
class Dropout(Module):
    """Zero each element with probability ``rate`` during training and scale the rest by 1/(1-rate)."""

    def __init__(self, rate=0.5, seed=None):
        super().__init__()
        if not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate}")
        self.rate, self.seed = float(rate), seed
        self.rng = np.random.default_rng(seed) if seed is not None else None

    def forward(self, x):
        if not self.training or self.rate == 0:
            return x
        rng = self.rng if self.rng is not None else _random._global
        keep = (rng.random(x.shape) >= self.rate).astype(x.dtype) / (1 - self.rate)
        return x * keep

    def get_config(self):
        return {"rate": self.rate, "seed": self.seed}


class _BatchNorm(Module):
    _buffers = ("running_mean", "running_var")

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, dtype="float32"):
        super().__init__()
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), float(momentum)
        self.dtype = np.dtype(dtype).name
        self.weight = Parameter(np.ones(num_features, dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype)) if affine else None
        self.running_mean = np.zeros(num_features, dtype)
        self.running_var = np.ones(num_features, dtype)

    def _shape(self, x):
        return (1, -1) + (1,) * (x.ndim - 2)

    def forward(self, x):
        x = _input(x, type(self).__name__)
        if x.ndim < 2 or x.shape[1] != self.num_features:
            raise ValueError(
                f"{type(self).__name__}: expects {self.num_features} features on axis 1, got shape {x.shape}")
        axes = (0,) + tuple(range(2, x.ndim))
        shape = self._shape(x)
        if self.training:
            mean = ops.mean(x, axis=axes, keepdims=True)
            var = ops.mean((x - mean) ** 2, axis=axes, keepdims=True)
            n = x.size // self.num_features
            with no_grad():
                m = self.momentum
                new_mean = (1 - m) * self.running_mean + m * mean.data.reshape(-1)
                self.running_mean = new_mean.astype(self.running_mean.dtype)
                unbiased = var.data.reshape(-1) * (n / max(n - 1, 1))
                self.running_var = ((1 - m) * self.running_var + m * unbiased).astype(self.running_var.dtype)
        else:
            mean = self.running_mean.reshape(shape)
            var = self.running_var.reshape(shape)
        y = (x - mean) / ops.sqrt(var + self.eps)
        if self.weight is not None:
            y = y * ops.reshape(self.weight, shape) + ops.reshape(self.bias, shape)
        return y

    def get_config(self):
        return {"num_features": self.num_features, "eps": self.eps, "momentum": self.momentum,
                "affine": self.weight is not None, "dtype": self.dtype}


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over (N, C) or (N, C, L)."""


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over (N, C, H, W)."""


class LayerNorm(Module):
    """Normalise over the last ``len(normalized_shape)`` axes, with a learned scale and shift."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, dtype="float32"):
        super().__init__()
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps = float(eps)
        self.dtype = np.dtype(dtype).name
        self.weight = Parameter(np.ones(self.normalized_shape, dtype)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(self.normalized_shape, dtype)) if elementwise_affine else None

    def forward(self, x):
        x = _input(x, "LayerNorm")
        k = len(self.normalized_shape)
        if tuple(x.shape[-k:]) != self.normalized_shape:
            raise ValueError(f"LayerNorm: input shape {x.shape} does not end with {self.normalized_shape}")
        axes = tuple(range(x.ndim - k, x.ndim))
        mean = ops.mean(x, axis=axes, keepdims=True)
        var = ops.mean((x - mean) ** 2, axis=axes, keepdims=True)
        y = (x - mean) / ops.sqrt(var + self.eps)
        return y * self.weight + self.bias if self.weight is not None else y

    def get_config(self):
        return {"normalized_shape": self.normalized_shape, "eps": self.eps,
                "elementwise_affine": self.weight is not None, "dtype": self.dtype}


class Embedding(Module):
    """A lookup table: integer indices -> rows of ``weight`` (repeated indices accumulate gradients)."""

    def __init__(self, num_embeddings, embedding_dim, seed=None, dtype="float32"):
        super().__init__()
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.seed, self.dtype = seed, np.dtype(dtype).name
        rng = np.random.default_rng(seed) if seed is not None else _random._global
        self.weight = Parameter(rng.standard_normal((num_embeddings, embedding_dim)).astype(dtype))

    def forward(self, idx):
        idx = np.asarray(getattr(idx, "data", idx))
        if idx.dtype.kind not in "iu":
            raise TypeError(f"Embedding: indices must be integers, got dtype {idx.dtype}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_embeddings):
            raise IndexError(f"Embedding: indices must lie in [0, {self.num_embeddings}), got min {idx.min()}, "
                             f"max {idx.max()}")
        return self.weight[idx]

    def get_config(self):
        return {"num_embeddings": self.num_embeddings, "embedding_dim": self.embedding_dim, "seed": self.seed,
                "dtype": self.dtype}
