"""Windowed maximum (max pooling): the windows are a linear view; the max is a tie-aware reduction.

Ties inside a window (two equal maxima) are decided by the ``max_pool2d`` rule: every framework
gives the first element of the window; kinkgrad's default splits evenly.
"""
from __future__ import annotations

import numpy as np

from ..autodiff import rawops
from ..autodiff.primitive import Primitive
from ..kernels import reduce_small_axes
from ._declare import int_pair, shape_of
from .reduce import _extreme


def _windows_transpose(m, g, out, x, k, s, d=(1, 1)):
    """Scatter each window's cotangent back to where it came from (overlaps accumulate)."""
    return m.col2im(g, shape_of(x), k, s, d)


windows2d = Primitive("windows2d", rawops.windows2d, vjp=_windows_transpose, linear=True,
                      doc="Sliding kh x kw windows with stride s over the last two axes.")
col2im = Primitive("col2im", rawops.col2im,
                   vjp=lambda m, gg, out, g, shape, k, s, d=(1, 1): m.windows2d(gg, k, s, d), linear=True,
                   doc="The transpose of windows2d: sum window values back onto the image.")

def _window_max(x, axis, keepdims):
    return reduce_small_axes(np.maximum, x, axis, keepdims)


_pool_max = _extreme("max_pool2d", _window_max, True)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max over ``kernel_size`` windows of an (N, C, H, W) or (C, H, W) tensor (PyTorch's layout).

    Ties within a window: the ``max_pool2d`` kink rule (default: split evenly; the ``torch``,
    ``jax`` and ``tensorflow`` presets: the first element of the window).
    """
    from .shape import pad, reshape

    k = int_pair(kernel_size, "kernel_size", "max_pool2d")
    s = int_pair(stride if stride is not None else k, "stride", "max_pool2d")
    shape = tuple(shape_of(x))
    if len(shape) not in (3, 4):
        raise ValueError(f"max_pool2d: expects (N, C, H, W) or (C, H, W), got shape {shape}")
    x4 = reshape(x, (1,) + shape) if len(shape) == 3 else x
    p = int_pair(padding, "padding", "max_pool2d", minimum=0)
    if p != (0, 0):
        x4 = pad(x4, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])), value=-np.inf)
    h, w = shape_of(x4)[2:]
    if h < k[0] or w < k[1]:
        raise ValueError(f"max_pool2d: window {k} is larger than the (padded) input {h}x{w}")
    if s == k:
        # non-overlapping windows are a reshape (a view, no copy): max over the two window axes
        from .index import getitem

        n, c = shape_of(x4)[:2]
        oh, ow = h // k[0], w // k[1]
        if (oh * k[0], ow * k[1]) != (h, w):
            x4 = getitem(x4, (slice(None), slice(None), slice(0, oh * k[0]), slice(0, ow * k[1])))
        out = _pool_max(reshape(x4, (n, c, oh, k[0], ow, k[1])), axis=(3, 5), keepdims=False)
    else:
        win = windows2d(x4, k=k, s=s)
        win = reshape(win, tuple(shape_of(win)[:4]) + (k[0] * k[1],))
        out = _pool_max(win, axis=(4,), keepdims=False)
    return reshape(out, tuple(shape_of(out)[1:])) if len(shape) == 3 else out


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Mean over ``kernel_size`` windows of an (N, C, H, W) or (C, H, W) tensor (zero padding counts)."""
    from .reduce import mean
    from .shape import pad, reshape

    k = int_pair(kernel_size, "kernel_size", "avg_pool2d")
    s = int_pair(stride if stride is not None else k, "stride", "avg_pool2d")
    shape = tuple(shape_of(x))
    if len(shape) not in (3, 4):
        raise ValueError(f"avg_pool2d: expects (N, C, H, W) or (C, H, W), got shape {shape}")
    x4 = reshape(x, (1,) + shape) if len(shape) == 3 else x
    p = int_pair(padding, "padding", "avg_pool2d", minimum=0)
    if p != (0, 0):
        x4 = pad(x4, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    out = mean(windows2d(x4, k=k, s=s), axis=(4, 5))
    return reshape(out, tuple(shape_of(out)[1:])) if len(shape) == 3 else out
