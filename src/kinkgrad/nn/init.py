"""Weight initializers (Keras names), all drawing from a seeded generator."""
from __future__ import annotations

import math

import numpy as np

from .. import random as _random


def _rng(seed):
    """A seed, a Generator (a layer passes one so its weight and bias are independent draws), or
    None for the global generator (``kg.random.manual_seed``)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed) if seed is not None else _random._global


def _fans(shape):
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]            # (in, out) for Dense kernels
    receptive = int(np.prod(shape[2:]))       # (out, in, k...) for conv kernels
    return shape[1] * receptive, shape[0] * receptive


def glorot_uniform(shape, seed=None, dtype=np.float32):
    fan_in, fan_out = _fans(shape)
    limit = math.sqrt(6 / (fan_in + fan_out))
    return _rng(seed).uniform(-limit, limit, shape).astype(dtype)


def glorot_normal(shape, seed=None, dtype=np.float32):
    fan_in, fan_out = _fans(shape)
    return (_rng(seed).standard_normal(shape) * math.sqrt(2 / (fan_in + fan_out))).astype(dtype)


def he_uniform(shape, seed=None, dtype=np.float32):
    fan_in, _ = _fans(shape)
    limit = math.sqrt(6 / fan_in)
    return _rng(seed).uniform(-limit, limit, shape).astype(dtype)


def he_normal(shape, seed=None, dtype=np.float32):
    fan_in, _ = _fans(shape)
    return (_rng(seed).standard_normal(shape) * math.sqrt(2 / fan_in)).astype(dtype)


def torch_uniform(shape, fan_in, seed=None, dtype=np.float32):
    """PyTorch's default for Linear/Conv: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return _rng(seed).uniform(-bound, bound, shape).astype(dtype)


def zeros(shape, seed=None, dtype=np.float32):
    return np.zeros(shape, dtype)


def ones(shape, seed=None, dtype=np.float32):
    return np.ones(shape, dtype)


INITIALIZERS = {"glorot_uniform": glorot_uniform, "glorot_normal": glorot_normal, "he_uniform": he_uniform,
                "he_normal": he_normal, "zeros": zeros, "ones": ones,
                "xavier_uniform": glorot_uniform, "xavier_normal": glorot_normal,
                "kaiming_uniform": he_uniform, "kaiming_normal": he_normal}


def get(name):
    if callable(name):
        return name
    if name not in INITIALIZERS:
        raise ValueError(f"unknown initializer {name!r}; choose one of {', '.join(INITIALIZERS)}")
    return INITIALIZERS[name]
