"""Convolution: im2col (windows as matrix rows) and one matrix product, as a single primitive.

The forward kernel keeps the im2col matrix as its residual, so the plain backward pass computes the
weight gradient from it without rebuilding it, and the input gradient tap by tap (one product per
kernel tap, added onto the padded image) without materializing the (N*OH*OW, kh*kw*C) matrix of
column gradients. Rules running on kinkgrad ops (higher derivatives) compose im2col, col2im_rows
and matmul instead, so every derivative stays differentiable.
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..autodiff.primitive import Primitive
from ..kernels import conv_input_grad, conv_out_shape
from ..tensor import Tensor
from . import raw
from ._declare import int_pair, public, shape_of
from .index import split
from .linalg import _affine_kernel
from .shape import concatenate, reshape

im2col = public(Primitive(
    "im2col", kernels.im2col,
    vjp=lambda m, g, out, x, k, s, d=(1, 1), p=(0, 0): m.col2im_rows(g, shape_of(x), k, s, d, p), linear=True,
    doc="(N, C, H, W) -> (N*OH*OW, kh*kw*C) rows of zero-padded windows (convolution as one GEMM)."),
    "x, k, s, d=(1, 1), p=(0, 0)")
col2im_rows = public(Primitive(
    "col2im_rows", kernels.col2im_rows,
    vjp=lambda m, gg, out, g, shape, k, s, d=(1, 1), p=(0, 0): m.im2col(gg, k, s, d, p), linear=True,
    doc="The transpose of im2col."), "g, shape, k, s, d=(1, 1), p=(0, 0)")


# -- the pieces every rule shares (m: NumPy in a plain backward, kinkgrad ops otherwise) -------------
def _weight_rows(m, w):
    """(O, C, kh, kw) -> (O, kh*kw*C): each filter in im2col's (tap, channel) order."""
    return m.reshape(m.transpose(w, (0, 2, 3, 1)), (shape_of(w)[0], -1))


def _rows_of(m, y):
    """(N, O, OH, OW) -> (N*OH*OW, O): an output-shaped value as one row per output position."""
    return m.reshape(m.transpose(y, (0, 2, 3, 1)), (-1, shape_of(y)[1]))


def _as_output(m, rows, n, oh, ow):
    """The inverse of ``_rows_of``: stored channels-last, viewed as (N, O, OH, OW) without a copy, so
    the next convolution's im2col reads contiguous runs of channels."""
    return m.transpose(m.reshape(rows, (n, oh, ow, shape_of(rows)[1])), (0, 3, 1, 2))


def _conv(m, x, w, k, s, d, p):
    """The convolution without bias, written in ``m``: the forward-mode rules (it is bilinear)."""
    rows = m.matmul(m.im2col(x, k, s, d, p), m.swapaxes(_weight_rows(m, w), 0, 1))
    n, oh, ow = shape_of(x)[0], *conv_out_shape(shape_of(x)[2:], k, s, d, p)
    return _as_output(m, rows, n, oh, ow)


def _kernel(x, w, b, k, s, d, p):
    cols = kernels.im2col(x, k, s, d, p)
    rows = _affine_kernel(cols, _weight_rows(np, w).T, b)
    oh, ow = conv_out_shape(x.shape[2:], k, s, d, p)
    return _as_output(np, rows, x.shape[0], oh, ow), cols


def _vjp_x(m, g, out, x, w, b, k, s, d, p, saved=None):
    if m is raw:
        return conv_input_grad(_rows_of(m, g), _weight_rows(m, w), shape_of(x), k, s, d, p)
    return m.col2im_rows(m.matmul(_rows_of(m, g), _weight_rows(m, w)), shape_of(x), k, s, d, p)


def _vjp_w(m, g, out, x, w, b, k, s, d, p, saved=None):
    cols = saved if m is raw and saved is not None else m.im2col(x, k, s, d, p)
    gw = m.matmul(m.swapaxes(cols, 0, 1), _rows_of(m, g))               # (kh*kw*C, O)
    o, c, kh, kw = shape_of(w)
    return m.transpose(m.reshape(gw, (kh, kw, c, o)), (3, 2, 0, 1))


def _vjp_b(m, g, out, x, w, b, k, s, d, p, saved=None):
    return m.sum_to(_rows_of(m, g), shape_of(b))


_conv2d = Primitive(
    "conv2d", _kernel, residual=1,                   # the im2col matrix, for the weight gradient
    vjp=(_vjp_x, _vjp_w, _vjp_b),
    jvp=(lambda m, t, out, x, w, b, k, s, d, p: _conv(m, t, w, k, s, d, p),       # bilinear in (x, w)
         lambda m, t, out, x, w, b, k, s, d, p: _conv(m, x, t, k, s, d, p),
         lambda m, t, out, x, w, b, k, s, d, p: m.broadcast_to(m.reshape(t, (1, -1, 1, 1)), shape_of(out))),
    doc="2-D cross-correlation with bias: im2col + one matrix product; keeps the im2col matrix for backward.")


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation (PyTorch's conv2d): x (N, C, H, W), weight (O, C // groups, kh, kw) ->
    (N, O, OH, OW); an unbatched x (C, H, W) gives (O, OH, OW). ``groups`` > 1 convolves each group of
    channels with its own filters (depthwise when groups == C): one convolution per group, joined along
    the channels."""
    x, weight, bias = (v if v is None or isinstance(v, Tensor) else np.asarray(v) for v in (x, weight, bias))
    if len(shape_of(x)) == 3 and len(shape_of(weight)) == 4:
        out = conv2d(reshape(x, (1,) + tuple(shape_of(x))), weight, bias, stride, padding, dilation, groups)
        return reshape(out, tuple(shape_of(out))[1:])
    sx, sw = tuple(shape_of(x)), tuple(shape_of(weight))
    if len(sx) != 4 or len(sw) != 4:
        raise ValueError(f"conv2d: expects x (N, C, H, W) or (C, H, W) and weight (O, C, kh, kw), got {sx} and {sw}")
    if not isinstance(groups, (int, np.integer)) or groups < 1 or sw[0] % groups:
        raise ValueError(f"conv2d: groups must be a positive int dividing the {sw[0]} output channels, got {groups}")
    if sx[1] != sw[1] * groups:
        raise ValueError(f"conv2d: x has {sx[1]} channels but weight expects {sw[1]} per group x {groups} "
                         f"group(s) (shapes {sx}, {sw})")
    if bias is not None and tuple(shape_of(bias)) != (sw[0],):
        raise ValueError(f"conv2d: bias must have shape ({sw[0]},), one value per output channel, "
                         f"got {tuple(shape_of(bias))}")
    s, d = int_pair(stride, "stride", "conv2d"), int_pair(dilation, "dilation", "conv2d")
    p = int_pair(padding, "padding", "conv2d", minimum=0)
    k = (sw[2], sw[3])
    h, w = sx[2] + 2 * p[0], sx[3] + 2 * p[1]
    if h < (k[0] - 1) * d[0] + 1 or w < (k[1] - 1) * d[1] + 1:
        raise ValueError(f"conv2d: kernel {k} (dilation {d}) is larger than the padded input {h}x{w}")
    if groups == 1:
        return _conv2d(x, weight, bias, k=k, s=s, d=d, p=p)
    return _grouped(x, weight, bias, groups, k, s, d, p)


def _grouped(x, weight, bias, groups, k, s, d, p):
    """A grouped convolution as one convolution per group (composed, so every derivative follows)."""
    xs, ws = split(x, groups, axis=1), split(weight, groups, axis=0)
    bs = split(bias, groups, axis=0) if bias is not None else [None] * groups
    return concatenate([_conv2d(xg, wg, bg, k=k, s=s, d=d, p=p) for xg, wg, bg in zip(xs, ws, bs)], axis=1)
