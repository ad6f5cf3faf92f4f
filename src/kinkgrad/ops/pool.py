"""Pooling: the windows are a linear view of the input; max pooling reduces them with a tie-aware
max, average pooling with a mean.

Ties inside a window (two equal maxima) are decided by the ``max_pool2d`` rule: every framework
gives the first element of the window; kinkgrad's default splits evenly.
"""
from __future__ import annotations

import numpy as np

from ..autodiff.primitive import Primitive
from ..kernels import col2im as _col2im_kernel
from ..kernels import reduce_small_axes
from ..kernels import windows2d as _windows2d_kernel
from ..kinks.docs import documents
from ._declare import int_pair, public, shape_of
from .index import getitem
from .reduce import _extreme, mean
from .shape import pad, reshape


def _windows_transpose(m, g, out, x, k, s, d=(1, 1)):
    """Scatter each window's cotangent back to where it came from (overlaps accumulate)."""
    return m.col2im(g, shape_of(x), k, s, d)


windows2d = public(Primitive("windows2d", _windows2d_kernel, vjp=_windows_transpose, linear=True,
                             doc="Sliding kh x kw windows with stride s over the last two axes."),
                   "x, k, s, d=(1, 1)")
col2im = public(Primitive("col2im", _col2im_kernel,
                          vjp=lambda m, gg, out, g, shape, k, s, d=(1, 1): m.windows2d(gg, k, s, d), linear=True,
                          doc="The transpose of windows2d: sum window values back onto the image."),
                "g, shape, k, s, d=(1, 1)")

def _window_max(x, axis, keepdims):
    return reduce_small_axes(np.maximum, x, axis, keepdims)


_pool_max = _extreme("max_pool2d", _window_max, True)


def _pool(x, kernel_size, stride, padding, op, pad_value, reduce):
    """What the poolings share: (C, H, W) or (N, C, H, W) input, padding with ``pad_value``, and the
    windows as extra axes that ``reduce(windows, axes)`` collapses. Non-overlapping windows are a
    reshape (a view, no copy); overlapping ones a read-only strided view (windows2d)."""
    k = int_pair(kernel_size, "kernel_size", op)
    s = int_pair(stride if stride is not None else k, "stride", op)
    shape = tuple(shape_of(x))
    if len(shape) not in (3, 4):
        raise ValueError(f"{op}: expects (N, C, H, W) or (C, H, W), got shape {shape}")
    x4 = reshape(x, (1,) + shape) if len(shape) == 3 else x
    p = int_pair(padding, "padding", op, minimum=0)
    if p != (0, 0):
        x4 = pad(x4, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])), value=pad_value)
    h, w = shape_of(x4)[2:]
    if h < k[0] or w < k[1]:
        raise ValueError(f"{op}: window {k} is larger than the (padded) input {h}x{w}")
    if s == k:
        n, c = shape_of(x4)[:2]
        oh, ow = h // k[0], w // k[1]
        if (oh * k[0], ow * k[1]) != (h, w):          # the rows and columns no window covers
            x4 = getitem(x4, (slice(None), slice(None), slice(0, oh * k[0]), slice(0, ow * k[1])))
        out = reduce(reshape(x4, (n, c, oh, k[0], ow, k[1])), (3, 5))
    else:
        out = reduce(windows2d(x4, k=k, s=s), (4, 5))
    return reshape(out, tuple(shape_of(out)[1:])) if len(shape) == 3 else out


@documents("max_pool2d")
def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max over ``kernel_size`` windows of an (N, C, H, W) or (C, H, W) tensor (PyTorch's layout).

    Ties within a window: the ``max_pool2d`` kink rule (default: split evenly; the ``torch``,
    ``jax`` and ``tensorflow`` presets: the first element of the window).
    """
    return _pool(x, kernel_size, stride, padding, "max_pool2d", -np.inf,
                 lambda v, axes: _pool_max(v, axis=axes, keepdims=False))


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Mean over ``kernel_size`` windows of an (N, C, H, W) or (C, H, W) tensor (zero padding counts)."""
    return _pool(x, kernel_size, stride, padding, "avg_pool2d", 0.0, lambda v, axes: mean(v, axis=axes))
