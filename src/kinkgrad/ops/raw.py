"""The NumPy twin of the kinkgrad ops namespace, used by derivative rules in a plain backward pass
and in directional mode (the engine is handed both namespaces by ``kinkgrad.ops``).

Every name here exists in ``kinkgrad.ops`` with the same meaning (a test checks it), so one rule
text serves both the fast NumPy backward and the differentiable one used for higher order.
"""
from __future__ import annotations

import math

import numpy as np

from .._special import erf  # noqa: F401  (part of the rule namespace)
from ..kernels import col2im, col2im_rows, im2col, windows2d  # noqa: F401  (part of the rule namespace)

exp, log, sqrt, sin, cos, tanh = np.exp, np.log, np.sqrt, np.sin, np.cos, np.tanh
square, sign, abs, where = np.square, np.sign, np.abs, np.where
reshape, broadcast_to, expand_dims, swapaxes = np.reshape, np.broadcast_to, np.expand_dims, np.swapaxes
matmul, maximum, minimum, conj = np.matmul, np.maximum, np.minimum, np.conj
zeros_like, ones_like, flip, cumsum = np.zeros_like, np.ones_like, np.flip, np.cumsum
floor, trunc, isinf = np.floor, np.trunc, np.isinf


def sigmoid(x):
    return _sigmoid(x)


def _sigmoid(x):
    # numerically stable for both signs
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def sum(x, axis=None, keepdims=False):
    return np.sum(x, axis=axis, keepdims=keepdims)


def prod(x, axis=None, keepdims=False):
    return np.prod(x, axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    return np.mean(x, axis=axis, keepdims=keepdims)


def transpose(x, axes=None):
    return np.transpose(x, axes)


def cast(x, dtype):
    return np.asarray(x).astype(dtype, copy=False)


def sum_to(x, shape):
    """Sum ``x`` over the axes that broadcasting added or stretched, giving ``shape``."""
    x = np.asarray(x)
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and x.shape[i + lead] != 1)
    if axes and axes == tuple(range(len(axes))) and x.dtype in _BLAS_FLOATS and x.size >= 4096 \
            and x.flags.c_contiguous:
        # leading axes (a bias gradient): one matrix-vector product with a ones vector. NumPy
        # reduces axis 0 of a tall, narrow array in runs as short as a row: 9x slower for the
        # 50176 x 16 cotangent of a convolution's bias (0.81 ms vs 0.09 ms)
        rows = x.reshape(math.prod(x.shape[:len(axes)]), -1)
        total = np.ones(rows.shape[0], dtype=x.dtype) @ rows
        return total if total.shape == tuple(shape) else total.reshape(shape)
    if axes:
        x = x.sum(axis=axes, keepdims=True)
    return x.reshape(shape) if lead or x.shape != tuple(shape) else x


_BLAS_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def scatter_add(g, index, shape):
    """Zeros of ``shape`` with ``g`` added at ``index`` (repeated indices accumulate)."""
    out = np.zeros(shape, dtype=np.asarray(g).dtype)
    np.add.at(out, index, g)
    return out


def getitem(x, index):
    return x[index]


def take_along_axis(x, idx, axis):
    return np.take_along_axis(x, idx, axis)


def put_along_axis_add(g, idx, axis, shape):
    out = np.zeros(shape, dtype=np.asarray(g).dtype)
    if axis is None:
        np.add.at(out.reshape(-1), idx.reshape(-1), np.asarray(g).reshape(-1))
        return out
    ix = list(np.indices(idx.shape, sparse=True))
    ix[axis] = idx
    np.add.at(out, tuple(ix), g)
    return out


def pad(x, pad_width):
    return np.pad(x, pad_width)


def concatenate(xs, axis=0):
    return np.concatenate(xs, axis=axis)


def einsum(spec, *xs):
    return np.einsum(spec, *xs, optimize=len(xs) > 2)


def select_apply(t, rows, cols, vals, shape):
    """W @ t for the sparse W = (rows, cols, vals) of an order statistic, shaped ``shape``."""
    t = np.asarray(t)
    flat = np.bincount(rows, weights=vals * t.reshape(-1)[cols], minlength=int(np.prod(shape)))
    return flat.reshape(shape).astype(t.dtype, copy=False)


def select_transpose(g, rows, cols, vals, shape):
    """W.T @ g, shaped like the input ``shape``."""
    return select_apply(g, cols, rows, vals, shape)
