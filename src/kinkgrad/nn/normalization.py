"""Dropout and normalisation layers (their behaviour differs between training and evaluation)."""
from __future__ import annotations

import numpy as np

import kinkgrad as kg

from .. import ops
from .. import random as _random
from ._checks import flag, float_dtype, positive_int, real
from ._checks import seed as check_seed
from .layers import _input, _label
from .module import Module, Parameter


class Dropout(Module):
    """Zero each element with probability ``rate`` during training and scale the rest by 1/(1-rate).
    With ``seed`` the layer has its own generator, saved in checkpoints (resumed runs draw the same masks)."""

    def __init__(self, rate=0.5, seed=None):
        super().__init__()
        self.rate = real("Dropout", "rate", rate, low=0.0, high=1.0, high_open=True)
        self.seed = check_seed("Dropout", seed)
        self.rng = np.random.default_rng(seed) if seed is not None else None

    def forward(self, x):
        if not self.training or self.rate == 0:
            return x
        rng = self.rng if self.rng is not None else _random._global
        keep = (rng.random(x.shape) >= self.rate).astype(x.dtype) / (1 - self.rate)
        return x * keep

    def get_extra_state(self):
        return self.rng.bit_generator.state if self.rng is not None else None

    def set_extra_state(self, state):
        if state is not None and self.rng is not None:
            self.rng.bit_generator.state = state

    def get_config(self):
        return {"rate": self.rate, "seed": self.seed}


class _BatchNorm(Module):
    _buffers = ("running_mean", "running_var")
    layouts = {2: "(N, C)", 3: "(N, C, L)"}      # the input ranks PyTorch accepts for this layer

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, dtype="float32"):
        super().__init__()
        owner = type(self).__name__
        self.num_features = positive_int(owner, "num_features", num_features)
        self.eps = real(owner, "eps", eps, low=0.0, low_open=True)
        self.momentum = real(owner, "momentum", momentum, low=0.0, high=1.0)
        flag(owner, "affine", affine)
        self.dtype = float_dtype(owner, dtype).name
        self.weight = Parameter(np.ones(num_features, self.dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, self.dtype)) if affine else None
        self.running_mean = np.zeros(num_features, self.dtype)
        self.running_var = np.ones(num_features, self.dtype)

    def forward(self, x):
        x = _input(x, self)
        if x.ndim not in self.layouts:
            raise ValueError(f"{_label(self)}: expects input {' or '.join(self.layouts.values())}, got shape {x.shape}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{_label(self)}: expects {self.num_features} features on axis 1, got shape {x.shape}")
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, -1) + (1,) * (x.ndim - 2)
        if self.training:
            n = x.size // self.num_features
            if n <= 1:       # PyTorch's check and wording: one value per channel has no variance to normalise by
                raise ValueError(f"{_label(self)}: Expected more than 1 value per channel when training, got input "
                                 f"size {x.shape}; use a batch of 2 or more, or call model.eval() first")
            mean = ops.mean(x, axis=axes, keepdims=True)
            var = ops.mean((x - mean) ** 2, axis=axes, keepdims=True)
            with kg.no_grad():
                m = self.momentum
                dt = self.running_mean.dtype
                self.running_mean = ((1 - m) * self.running_mean + m * mean.data.reshape(-1)).astype(dt)
                unbiased = var.data.reshape(-1) * (n / (n - 1))
                self.running_var = ((1 - m) * self.running_var + m * unbiased).astype(dt)
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

    layouts = {4: "(N, C, H, W)"}


class LayerNorm(Module):
    """Normalise over the last ``len(normalized_shape)`` axes, with a learned scale and shift."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, dtype="float32"):
        super().__init__()
        shape = (normalized_shape,) if not isinstance(normalized_shape, (tuple, list)) else tuple(normalized_shape)
        self.normalized_shape = tuple(positive_int("LayerNorm", "normalized_shape", d) for d in shape)
        self.eps = real("LayerNorm", "eps", eps, low=0.0, low_open=True)
        flag("LayerNorm", "elementwise_affine", elementwise_affine)
        self.dtype = float_dtype("LayerNorm", dtype).name
        self.weight = Parameter(np.ones(self.normalized_shape, self.dtype)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(self.normalized_shape, self.dtype)) if elementwise_affine else None

    def forward(self, x):
        x = _input(x, self)
        k = len(self.normalized_shape)
        if tuple(x.shape[-k:]) != self.normalized_shape:
            raise ValueError(f"{_label(self)}: input shape {x.shape} does not end with {self.normalized_shape}")
        axes = tuple(range(x.ndim - k, x.ndim))
        mean = ops.mean(x, axis=axes, keepdims=True)
        var = ops.mean((x - mean) ** 2, axis=axes, keepdims=True)
        y = (x - mean) / ops.sqrt(var + self.eps)
        return y * self.weight + self.bias if self.weight is not None else y

    def get_config(self):
        return {"normalized_shape": self.normalized_shape, "eps": self.eps,
                "elementwise_affine": self.weight is not None, "dtype": self.dtype}
