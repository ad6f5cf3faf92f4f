"""Seeded random tensors: every function takes ``seed=`` or a ``np.random.Generator`` (``rng=``).

>>> a = normal((2,), seed=0); b = normal((2,), seed=0)
>>> bool((a.data == b.data).all())
True
"""
from __future__ import annotations

import numpy as np

from .creation import _dtype, _make

_global = np.random.default_rng()


def manual_seed(seed):
    """Reseed the generator used when neither ``seed`` nor ``rng`` is given."""
    global _global
    _global = np.random.default_rng(seed)


def _gen(seed, rng):
    if rng is not None and seed is not None:
        raise ValueError("pass either seed= or rng=, not both")
    if rng is not None:
        return rng
    return _global if seed is None else np.random.default_rng(seed)


def _size(shape):
    return (shape,) if isinstance(shape, int) else tuple(shape)


def normal(shape, mean=0.0, std=1.0, *, dtype=None, seed=None, rng=None, requires_grad=False):
    data = _gen(seed, rng).normal(mean, std, _size(shape)).astype(_dtype(dtype))
    return _make(data, requires_grad)


randn = normal


def uniform(shape, low=0.0, high=1.0, *, dtype=None, seed=None, rng=None, requires_grad=False):
    data = _gen(seed, rng).uniform(low, high, _size(shape)).astype(_dtype(dtype))
    return _make(data, requires_grad)


def rand(shape, *, dtype=None, seed=None, rng=None, requires_grad=False):
    return uniform(shape, dtype=dtype, seed=seed, rng=rng, requires_grad=requires_grad)


def randint(low, high, shape, *, seed=None, rng=None):
    return _make(_gen(seed, rng).integers(low, high, _size(shape)), False)


def permutation(n, *, seed=None, rng=None):
    return _make(_gen(seed, rng).permutation(n), False)


def get_state():
    """The state of the generator used when neither ``seed`` nor ``rng`` is given (a JSON-ready dict),
    so a checkpoint can resume a run that draws from it."""
    return _global.bit_generator.state


def set_state(state):
    """Restore a state from ``get_state()``."""
    _global.bit_generator.state = state
