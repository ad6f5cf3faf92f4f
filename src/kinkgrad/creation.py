"""Tensor factories with NumPy names; floating results default to float32 like PyTorch."""
from __future__ import annotations

import numpy as np

from .tensor import Tensor

_DEFAULT_FLOAT = np.float32


def _make(data, requires_grad):
    t = Tensor._wrap(data)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _dtype(dtype, default=_DEFAULT_FLOAT):
    return np.dtype(default if dtype is None else dtype)


def _shape(shape, op):
    """A shape given as ints or as one tuple/list, checked: non-negative ints."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in shape):
        raise TypeError(f"{op}: a shape is made of ints, got {shape!r}")
    if any(n < 0 for n in shape):
        raise ValueError(f"{op}: negative dimension in shape {tuple(int(n) for n in shape)}")
    return tuple(int(n) for n in shape)


def zeros(*shape, dtype=None, requires_grad=False):
    return _make(np.zeros(_shape(shape, "zeros"), _dtype(dtype)), requires_grad)


def ones(*shape, dtype=None, requires_grad=False):
    return _make(np.ones(_shape(shape, "ones"), _dtype(dtype)), requires_grad)


def full(shape, fill_value, dtype=None, requires_grad=False):
    shape = _shape((shape,) if isinstance(shape, (int, np.integer)) else (shape,), "full")
    return _make(np.full(shape, fill_value, _dtype(dtype)), requires_grad)


def empty(*shape, dtype=None, requires_grad=False):
    return _make(np.empty(_shape(shape, "empty"), _dtype(dtype)), requires_grad)


def _like(x, dtype):
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    return data, (data.dtype if dtype is None else np.dtype(dtype))


def zeros_like(x, dtype=None, requires_grad=False):
    data, dt = _like(x, dtype)
    return _make(np.zeros(data.shape, dt), requires_grad)


def ones_like(x, dtype=None, requires_grad=False):
    data, dt = _like(x, dtype)
    return _make(np.ones(data.shape, dt), requires_grad)


def full_like(x, fill_value, dtype=None, requires_grad=False):
    data, dt = _like(x, dtype)
    return _make(np.full(data.shape, fill_value, dt), requires_grad)


def arange(start, stop=None, step=1, dtype=None, requires_grad=False):
    """Like ``np.arange``; integer arguments give int64, any float gives float32 unless ``dtype``."""
    if step == 0:
        raise ValueError("arange: step must not be 0")
    data = np.arange(start, stop, step) if stop is not None else np.arange(start)
    if dtype is not None:
        data = data.astype(dtype)
    elif data.dtype.kind == "f":
        data = data.astype(_DEFAULT_FLOAT)
    return _make(data, requires_grad)


def linspace(start, stop, num=50, dtype=None, requires_grad=False):
    return _make(np.linspace(start, stop, num, dtype=_dtype(dtype)), requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False):
    return _make(np.eye(n, m, dtype=_dtype(dtype)), requires_grad)


__all__ = ["zeros", "ones", "full", "empty", "zeros_like", "ones_like", "full_like", "arange",
           "linspace", "eye"]
