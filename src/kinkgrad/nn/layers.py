"""Layers with weights or shapes: Input, Dense/Linear, convolutions, pooling, Flatten, Embedding."""
from __future__ import annotations

import numpy as np

from .. import ops
from .. import random as _random
from ..tensor import Tensor, as_tensor
from . import init as initializers
from . import regularizers
from ._checks import flag, float_dtype, int_tuple, is_int, nonnegative_int, positive_int, sample_shape
from ._checks import seed as check_seed
from .activations import ACTIVATIONS, activation_name, get_activation
from .module import Module, Parameter


def _label(layer):
    return f"{type(layer).__name__} '{layer.name}'" if layer._name else type(layer).__name__


def _input(x, layer, kinds="f"):
    """The layer's input as a Tensor; non-float data is refused with the conversion to make."""
    x = x if isinstance(x, Tensor) else as_tensor(np.asarray(x))
    if x.data.dtype.kind not in kinds:
        want = "floating-point" if kinds == "f" else "integer"
        raise TypeError(f"{_label(layer)}: expects {want} input, got dtype {x.dtype}; convert it, e.g. "
                        f"X.astype('{'float32' if kinds == 'f' else 'int64'}')")
    if x.ndim == 0:
        raise ValueError(f"{_label(layer)}: expects a batch (a first, sample axis), got a 0-d input")
    return x


def _initializer(owner, name, spec):
    try:
        initializers.get(spec)
    except ValueError as e:
        raise ValueError(f"{owner}: {name}: {e}") from None
    return spec


def _reg_config(reg):
    return regularizers.serialize(reg) if isinstance(reg, regularizers.Regularizer) else reg


class _Regularized:
    """Keras' weight and activity regularizers, for layers with a kernel and a bias."""

    def _init_regularizers(self, owner, kernel_regularizer, bias_regularizer, activity_regularizer):
        self.kernel_regularizer = regularizers.get(kernel_regularizer, owner, "kernel_regularizer")
        self.bias_regularizer = regularizers.get(bias_regularizer, owner, "bias_regularizer")
        self.activity_regularizer = regularizers.get(activity_regularizer, owner, "activity_regularizer")

    def _activity(self, out):
        """Record the activity penalty of this output, divided by the batch size (tf.keras 2's
        convention, which makes its strength independent of the batch size)."""
        if self.activity_regularizer is not None:
            self._activity_loss = self.activity_regularizer(out) / max(len(out), 1)
        return out

    def _regularizer_config(self):
        return {k: _reg_config(getattr(self, k)) for k in ("kernel_regularizer", "bias_regularizer",
                                                            "activity_regularizer") if getattr(self, k) is not None}


class Input(Module):
    """The shape (and dtype) of one sample, first in a Sequential (Keras' ``keras.Input``): the model is
    built at once, and every batch is checked against it. ``None`` marks an axis of any length."""

    def __init__(self, shape, dtype="float32"):
        super().__init__()
        dims = (shape,) if is_int(shape) else tuple(shape) if isinstance(shape, (tuple, list)) else None
        if not dims or not all(d is None or (is_int(d) and d > 0) for d in dims):
            raise TypeError(f"Input: shape must be one sample's shape, a tuple of positive ints (None for any length), "
                            f"got {shape!r}")
        self.shape = tuple(None if d is None else int(d) for d in dims)
        self.dtype = np.dtype(dtype)
        self.input_dtype = self.dtype

    @property
    def input_shape(self):
        return tuple(1 if d is None else d for d in self.shape)

    def forward(self, x):
        got = tuple(np.shape(getattr(x, "data", x)))[1:]
        if len(got) != len(self.shape) or any(d is not None and d != g for d, g in zip(self.shape, got)):
            raise ValueError(f"Input: the model expects samples of shape {self.shape}, got a batch of shape "
                             f"{tuple(np.shape(getattr(x, 'data', x)))}")
        return x

    def get_config(self):
        return {"shape": list(self.shape), "dtype": self.dtype.name}


class Dense(Module, _Regularized):
    """Keras' Dense: ``activation(x @ kernel + bias)`` on the last axis. The input size comes from
    ``input_shape``/``input_dim``, from the model (``Sequential`` with a known input), or from the first call."""

    _regularized = (("kernel_regularizer", "kernel"), ("bias_regularizer", "bias"))

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 input_shape=None, input_dim=None, seed=None, dtype="float32"):
        super().__init__()
        owner = "Dense"
        self.units = positive_int(owner, "units", units)
        get_activation(activation, owner)
        self.activation = activation
        self.use_bias = flag(owner, "use_bias", use_bias)
        self.kernel_initializer = _initializer(owner, "kernel_initializer", kernel_initializer)
        self.bias_initializer = _initializer(owner, "bias_initializer", bias_initializer)
        self._init_regularizers(owner, kernel_regularizer, bias_regularizer, activity_regularizer)
        self.seed, self.dtype = check_seed(owner, seed), float_dtype(owner, dtype)
        self.kernel = self.bias = None
        if input_shape is not None:
            self.input_shape = sample_shape(owner, input_shape)
        elif input_dim is not None:
            self.input_shape = (positive_int(owner, "input_dim", input_dim),)
        else:
            self.input_shape = None
        if self.input_shape:
            self._make_weights(self.input_shape[-1])

    def _has_weights(self):
        return self.kernel is not None

    def build(self, input_shape, dtype=None):
        """Create the weights for inputs of ``input_shape`` (an int: the feature count)."""
        n_in = input_shape if is_int(input_shape) else sample_shape("Dense.build", input_shape)[-1]
        if self.kernel is None:
            self._make_weights(int(n_in))
        elif self.kernel.shape[0] != n_in:
            raise ValueError(f"{_label(self)}: built for {self.kernel.shape[0]} input features, asked to build for "
                             f"{n_in}")
        return self

    def _make_weights(self, n_in):
        rng = initializers._rng(self.seed)
        self.kernel = Parameter(initializers.get(self.kernel_initializer)((n_in, self.units), rng, self.dtype))
        if self.use_bias:
            self.bias = Parameter(initializers.get(self.bias_initializer)((self.units,), rng, self.dtype))

    def forward(self, x):
        x = _input(x, self)
        if self.kernel is None:
            self._make_weights(x.shape[-1])
        elif x.shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"{_label(self)}: input has {x.shape[-1]} features (shape {x.shape}) but the layer was "
                             f"built for {self.kernel.shape[0]}")
        fn = self.activation if callable(self.activation) else ACTIVATIONS[self.activation]
        return self._activity(fn(ops.affine(x, self.kernel, self.bias)))

    def get_config(self):
        return {"units": self.units, "activation": activation_name(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": self.kernel_initializer, "bias_initializer": self.bias_initializer,
                "seed": self.seed, "dtype": self.dtype.name, **self._regularizer_config(),
                **({"input_shape": tuple(self.input_shape)} if self.input_shape else {})}


class Linear(Module, _Regularized):
    """PyTorch's Linear: ``x @ weight.T + bias`` with ``weight`` of shape (out, in) and PyTorch's
    default uniform initialisation."""

    _regularized = (("kernel_regularizer", "weight"), ("bias_regularizer", "bias"))

    def __init__(self, in_features, out_features, bias=True, seed=None, dtype="float32", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None):
        super().__init__()
        owner = "Linear"
        self.in_features = positive_int(owner, "in_features", in_features)
        self.out_features = positive_int(owner, "out_features", out_features)
        flag(owner, "bias", bias)
        self.seed, self.dtype = check_seed(owner, seed), float_dtype(owner, dtype).name
        self._init_regularizers(owner, kernel_regularizer, bias_regularizer, activity_regularizer)
        rng = initializers._rng(seed)
        uniform = initializers.torch_uniform
        self.weight = Parameter(uniform((out_features, in_features), in_features, rng, self.dtype))
        self.bias = Parameter(uniform((out_features,), in_features, rng, self.dtype)) if bias else None

    def forward(self, x):
        x = _input(x, self)
        if x.shape[-1] != self.in_features:
            raise ValueError(f"{_label(self)}: input has {x.shape[-1]} features (shape {x.shape}), expected "
                             f"{self.in_features}")
        return self._activity(ops.affine(x, self.weight.T, self.bias))

    def get_config(self):
        return {"in_features": self.in_features, "out_features": self.out_features, "bias": self.bias is not None,
                "seed": self.seed, "dtype": self.dtype, **self._regularizer_config()}


# -- convolutions and pooling ---------------------------------------------------------------------------
class _Conv(Module, _Regularized):
    """What the convolutions share: PyTorch's argument names, defaults and initialisation."""

    dims = 2
    _regularized = (("kernel_regularizer", "weight"), ("bias_regularizer", "bias"))

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True,
                 seed=None, dtype="float32", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None):
        super().__init__()
        owner = type(self).__name__
        self.in_channels = positive_int(owner, "in_channels", in_channels)
        self.out_channels = positive_int(owner, "out_channels", out_channels)
        flag(owner, "bias", bias)
        self.seed, self.dtype = check_seed(owner, seed), float_dtype(owner, dtype).name
        self.kernel_size = self._norm(owner, "kernel_size", kernel_size)
        self.stride = self._norm(owner, "stride", stride)
        self.padding = self._norm(owner, "padding", padding, 0)
        self.dilation = self._norm(owner, "dilation", dilation)
        self._init_regularizers(owner, kernel_regularizer, bias_regularizer, activity_regularizer)
        kshape = self.kernel_size if self.dims == 2 else (self.kernel_size,)
        fan_in = self.in_channels * int(np.prod(kshape))
        rng = initializers._rng(seed)
        self.weight = Parameter(initializers.torch_uniform((out_channels, in_channels) + kshape, fan_in, rng,
                                                           self.dtype))
        self.bias = Parameter(initializers.torch_uniform((out_channels,), fan_in, rng, self.dtype)) if bias else None

    def _norm(self, owner, name, value, minimum=1):
        return int_tuple(owner, name, value, 2, minimum)

    def get_config(self):
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding,
                "dilation": self.dilation, "bias": self.bias is not None, "seed": self.seed, "dtype": self.dtype,
                **self._regularizer_config()}


class Conv2d(_Conv):
    """2-D convolution on (N, C, H, W) (PyTorch's layout and defaults): stride, padding, dilation."""

    def forward(self, x):
        x = _input(x, self)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"{_label(self)}: expects input (N, {self.in_channels}, H, W), got shape {x.shape}")
        return self._activity(ops.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation))


class Conv1d(_Conv):
    """1-D convolution on (N, C, L) (PyTorch's layout), as a 2-D convolution of height 1."""

    dims = 1

    def _norm(self, owner, name, value, minimum=1):
        return positive_int(owner, name, value) if minimum else nonnegative_int(owner, name, value)

    def forward(self, x):
        x = _input(x, self)
        if x.ndim != 3 or x.shape[1] != self.in_channels:
            raise ValueError(f"{_label(self)}: expects input (N, {self.in_channels}, L), got shape {x.shape}")
        y = ops.conv2d(ops.expand_dims(x, 2), ops.expand_dims(self.weight, 2), self.bias, (1, self.stride),
                       (0, self.padding), (1, self.dilation))
        return self._activity(ops.squeeze(y, 2))


class MaxPool2d(Module):
    """Max pooling; ties in a window follow the ``max_pool2d`` kink rule (``torch`` preset: the first
    element, like every framework; ``default``: split evenly)."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        owner = type(self).__name__
        int_tuple(owner, "kernel_size", kernel_size, 2)
        if stride is not None:
            int_tuple(owner, "stride", stride, 2)
        int_tuple(owner, "padding", padding, 2, 0)
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def _check(self, x):
        x = _input(x, self)
        if x.ndim != 4:
            raise ValueError(f"{_label(self)}: expects input (N, C, H, W), got shape {x.shape}")
        return x

    def forward(self, x):
        return ops.max_pool2d(self._check(x), self.kernel_size, self.stride, self.padding)

    def get_config(self):
        return {"kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding}


class AvgPool2d(MaxPool2d):
    """Average pooling (zero padding counts in the mean)."""

    def forward(self, x):
        return ops.avg_pool2d(self._check(x), self.kernel_size, self.stride, self.padding)


class Flatten(Module):
    """Flatten every axis after the first (the batch axis)."""

    def forward(self, x):
        x = _input(x, self)
        return ops.reshape(x, (x.shape[0], -1))


class Embedding(Module):
    """A lookup table: integer indices -> rows of ``weight`` (repeated indices accumulate gradients)."""

    input_dtype = np.dtype(np.int64)

    def __init__(self, num_embeddings, embedding_dim, seed=None, dtype="float32"):
        super().__init__()
        owner = "Embedding"
        self.num_embeddings = positive_int(owner, "num_embeddings", num_embeddings)
        self.embedding_dim = positive_int(owner, "embedding_dim", embedding_dim)
        self.seed, self.dtype = check_seed(owner, seed), float_dtype(owner, dtype).name
        rng = np.random.default_rng(seed) if seed is not None else _random._global
        self.weight = Parameter(rng.standard_normal((num_embeddings, embedding_dim)).astype(self.dtype))

    def forward(self, idx):
        idx = np.asarray(getattr(idx, "data", idx))
        if idx.dtype.kind not in "iu":
            raise TypeError(f"{_label(self)}: indices must be integers, got dtype {idx.dtype}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_embeddings):
            raise IndexError(f"{_label(self)}: indices must lie in [0, {self.num_embeddings}), got min {idx.min()}, "
                             f"max {idx.max()}")
        return self.weight[idx]

    def get_config(self):
        return {"num_embeddings": self.num_embeddings, "embedding_dim": self.embedding_dim, "seed": self.seed,
                "dtype": self.dtype}
