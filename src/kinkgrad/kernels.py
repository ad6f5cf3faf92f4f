"""NumPy kernels that beat NumPy's generic ones on the shapes kinkgrad makes.

Reducing over short axes of a many-axis strided view (the 2x2 windows of max pooling) runs
NumPy's reduction loop once per tiny run; elementwise ufuncs over whole slices run long, contiguous
loops instead: 8x faster for a sum, ~40x for a max over the windows of a 64x16x28x28 batch.
A convolution's input gradient is likewise made one kernel tap at a time, each tap a contiguous
block, instead of by strided adds out of one (N*OH*OW, kh*kw*C) matrix.
"""
from __future__ import annotations

import itertools

import numpy as np


def _short(x, axes):
    return bool(axes) and len(axes) <= 2 and all(1 <= x.shape[a] <= 8 for a in axes)


def window_slices(x, axes, keepdims=False):
    """One index per position along the (short) ``axes``: ``x[i]`` is the output-shaped view of
    every window's element at that position."""
    picks = [[(slice(i, i + 1) if keepdims else i) for i in range(x.shape[a])] for a in axes]
    order = sorted(range(len(axes)), key=lambda j: axes[j])
    out = []
    for combo in itertools.product(*picks):
        index = [slice(None)] * x.ndim
        for j in order:
            index[axes[j]] = combo[j]
        out.append(tuple(index))
    return out


def reduce_small_axes(ufunc, x, axis, keepdims=False, dtype=None):
    """``ufunc.reduce(x, axis)`` for one or two short axes, as ``ufunc`` applied across slices."""
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if not _short(x, axes):
        return ufunc.reduce(x, axis=axes, keepdims=keepdims, dtype=dtype)
    slices = [x[i] for i in window_slices(x, axes, keepdims)]     # views
    if len(slices) == 1:
        return slices[0].astype(dtype) if dtype is not None else slices[0].copy()
    out = ufunc(slices[0], slices[1], dtype=dtype)
    for v in slices[2:]:
        ufunc(out, v, out=out, dtype=dtype)
    return out


def extreme_grad(x, out, g, axes):
    """The default rule's gradient of a max (or min) over short ``axes``: ``g`` to the element that
    attains ``out`` in each window, split evenly among tied ones. Per window position, one compare
    and one product into that position's slice of the result: 17% faster than one broadcast
    compare and product over the many-axis view (max pooling's backward, 64x16x28x28).
    Returns None where the axes are not short (the caller's general path applies)."""
    if not _short(x, axes) or x.ndim == len(axes):        # (a full reduction has no slices to write)
        return None
    index = window_slices(x, axes)
    hits = [x[i] == out for i in index]
    # one global count tells "no ties" only when every window has a hit: a NaN window has none
    if sum(np.count_nonzero(h) for h in hits) != out.size or _has_nan(out):   # ties somewhere: split them
        count = np.add(hits[0], hits[1], dtype=np.uint8) if len(hits) > 1 else hits[0].astype(np.uint8)
        for h in hits[2:]:
            count += h
        g = g / count                  # (a NaN window has no hit: 0 / 0 gives it NaN gradients)
    gx = np.empty_like(x, dtype=g.dtype)          # in x's memory order
    for i, h in zip(index, hits):
        np.multiply(h, g, out=gx[i])
    return gx


def _has_nan(a):
    return a.dtype.kind in "fc" and bool(np.isnan(a).any())


def conv_out_shape(hw, k, s, d, p):
    """(OH, OW) of a convolution or im2col over an (H, W) image."""
    return tuple((n + 2 * p_ - (k_ - 1) * d_ - 1) // s_ + 1 for n, k_, s_, d_, p_ in zip(hw, k, s, d, p))


def add_taps(tap, shape, k, s, d, p, dtype):
    """Sum ``tap(i, j)`` (an (N, OH, OW, C) block per kernel tap) back onto the zero-padded image, as
    im2col's transpose does; returns (N, C, H, W) stored channels-last (a view of the padded sum)."""
    n, c, h, w = shape
    oh, ow = conv_out_shape((h, w), k, s, d, p)
    out = np.zeros((n, h + 2 * p[0], w + 2 * p[1], c), dtype=dtype)
    for i in range(k[0]):
        for j in range(k[1]):
            out[:, i * d[0]:i * d[0] + s[0] * (oh - 1) + 1:s[0], j * d[1]:j * d[1] + s[1] * (ow - 1) + 1:s[1], :] += \
                tap(i, j)
    return out[:, p[0]:p[0] + h, p[1]:p[1] + w, :].transpose(0, 3, 1, 2)


def conv_input_grad(g_rows, w_rows, shape, k, s, d, p):
    """A convolution's input gradient from its output cotangent as rows (N*OH*OW, O) and the filters
    as rows (O, kh*kw*C): one product per kernel tap, (N*OH*OW, O) @ (O, C), into one reused buffer
    that is added onto the image (conv16->32 3x3 on 64x14x14: 1.1 ms vs 1.9 ms through the full
    (N*OH*OW, kh*kw*C) matrix, and 0.8 MB of temporaries instead of 7.2 MB)."""
    n, c = shape[:2]
    oh, ow = conv_out_shape(shape[2:], k, s, d, p)
    per_tap = np.ascontiguousarray(w_rows.reshape(w_rows.shape[0], k[0] * k[1], c).transpose(1, 0, 2))
    dtype = np.result_type(g_rows, per_tap)
    buf = np.empty((g_rows.shape[0], c), dtype=dtype)

    def tap(i, j):
        np.matmul(g_rows, per_tap[i * k[1] + j], out=buf)
        return buf.reshape(n, oh, ow, c)

    return add_taps(tap, shape, k, s, d, p, dtype)


# -- windows and convolution columns (forward kernels; the rule namespace re-exports them) ----------
def windows2d(x, k, s, d=(1, 1)):
    """(N, C, H, W) -> (N, C, OH, OW, kh, kw) windows with stride s and dilation d: a read-only
    strided view (overlapping windows share memory; copying them cost kh*kw times the input)."""
    span = ((k[0] - 1) * d[0] + 1, (k[1] - 1) * d[1] + 1)
    v = np.lib.stride_tricks.sliding_window_view(x, span, axis=(2, 3))
    return v[:, :, ::s[0], ::s[1], ::d[0], ::d[1]]


def col2im(g, shape, k, s, d=(1, 1)):
    """The transpose of windows2d: each window's values summed back where they came from."""
    out = np.zeros(shape, dtype=np.asarray(g).dtype)
    oh, ow = g.shape[2], g.shape[3]
    for i in range(k[0]):
        for j in range(k[1]):
            out[:, :, i * d[0]:i * d[0] + s[0] * oh:s[0], j * d[1]:j * d[1] + s[1] * ow:s[1]] += g[:, :, :, :, i, j]
    return out


def im2col(x, k, s, d=(1, 1), p=(0, 0)):
    """(N, C, H, W) -> (N*OH*OW, kh*kw*C): one row per output position of the zero-padded input,
    channels last within a row, so each window's copy moves runs of C contiguous values when x is
    stored channels-last (as every convolution's output is) and the row order needs no transpose."""
    n, c, h, w = x.shape
    xh = x.transpose(0, 2, 3, 1)
    if p[0] or p[1]:
        buf = np.zeros((n, h + 2 * p[0], w + 2 * p[1], c), dtype=x.dtype)
        buf[:, p[0]:p[0] + h, p[1]:p[1] + w, :] = xh
        xh = buf
    oh, ow = conv_out_shape((h, w), k, s, d, p)
    if c >= 4:
        # many channels: one strided copy, inner runs along the channels
        span = ((k[0] - 1) * d[0] + 1, (k[1] - 1) * d[1] + 1)
        v = np.lib.stride_tricks.sliding_window_view(xh, span, axis=(1, 2))[:, ::s[0], ::s[1], :, ::d[0], ::d[1]]
        return np.ascontiguousarray(v.transpose(0, 1, 2, 4, 5, 3)).reshape(n * oh * ow, -1)
    # few channels: kh*kw slice copies, inner runs along the width (3x faster for one channel)
    cols = np.empty((n, oh, ow, k[0], k[1], c), dtype=x.dtype)
    for i in range(k[0]):
        for j in range(k[1]):
            cols[:, :, :, i, j, :] = xh[:, i * d[0]:i * d[0] + s[0] * (oh - 1) + 1:s[0],
                                        j * d[1]:j * d[1] + s[1] * (ow - 1) + 1:s[1], :]
    return cols.reshape(n * oh * ow, -1)


def col2im_rows(g, shape, k, s, d=(1, 1), p=(0, 0)):
    """The transpose of im2col: every row's values summed back onto the (N, C, H, W) image (the
    result is stored channels-last, like the rows)."""
    n, c = shape[:2]
    oh, ow = conv_out_shape(shape[2:], k, s, d, p)
    g = np.asarray(g)
    if 1 < c <= 32:
        # few channels: one copy makes each kernel tap's values contiguous, so the adds run over
        # whole rows instead of runs of c values (1.0 vs 1.55 ms for 64x14x14x16, 3x3)
        taps = np.ascontiguousarray(g.reshape(n * oh * ow, k[0] * k[1], c).transpose(1, 0, 2))
        return add_taps(lambda i, j: taps[i * k[1] + j].reshape(n, oh, ow, c), shape, k, s, d, p, g.dtype)
    g6 = g.reshape(n, oh, ow, k[0], k[1], c)
    return add_taps(lambda i, j: g6[:, :, :, i, j, :], shape, k, s, d, p, g.dtype)
