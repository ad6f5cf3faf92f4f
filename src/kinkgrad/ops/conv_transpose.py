"""Transposed convolution (PyTorch's conv_transpose2d, ONNX's ConvTranspose), composed from the
primitives a convolution's input gradient is made of: one matrix product and col2im_rows.

A transposed convolution is exactly the input gradient of the convolution with the same weight,
stride, padding and dilation, so it is built from that gradient's pieces (rows of the input times
the filters as rows, summed back onto the image) and every derivative follows from theirs.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from ._declare import int_pair, shape_of
from .conv import col2im_rows
from .index import getitem, split
from .linalg import matmul
from .shape import concatenate, reshape, transpose


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 2-D convolution: x (N, C, H, W), weight (C, O // groups, kh, kw) -> (N, O, OH, OW)
    with OH = (H - 1) * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1.

    PyTorch's argument order and meaning; ``padding`` may also be ``((top, bottom), (left, right))``
    (ONNX's asymmetric pads)."""
    x, weight, bias = (v if v is None or isinstance(v, Tensor) else np.asarray(v) for v in (x, weight, bias))
    sx, sw = tuple(shape_of(x)), tuple(shape_of(weight))
    if len(sx) != 4 or len(sw) != 4:
        raise ValueError(f"conv_transpose2d: expects x (N, C, H, W) and weight (C, O, kh, kw), got {sx} and {sw}")
    if not isinstance(groups, (int, np.integer)) or groups < 1 or sx[1] % groups:
        raise ValueError(f"conv_transpose2d: groups must be a positive int dividing the {sx[1]} input channels, "
                         f"got {groups}")
    if sw[0] != sx[1]:
        raise ValueError(f"conv_transpose2d: x has {sx[1]} channels but weight expects {sw[0]} (shapes {sx}, {sw})")
    n_out = sw[1] * groups
    if bias is not None and tuple(shape_of(bias)) != (n_out,):
        raise ValueError(f"conv_transpose2d: bias must have shape ({n_out},), one value per output channel, "
                         f"got {tuple(shape_of(bias))}")
    s, d = int_pair(stride, "stride", "conv_transpose2d"), int_pair(dilation, "dilation", "conv_transpose2d")
    op = int_pair(output_padding, "output_padding", "conv_transpose2d", minimum=0)
    pads = _pads(padding)
    if op[0] >= s[0] or op[1] >= s[1]:
        raise ValueError(f"conv_transpose2d: output_padding {op} must be smaller than the stride {s}")
    k = (sw[2], sw[3])
    # the full output (no padding), then the padding cropped off each side
    full = tuple((sx[2 + i] - 1) * s[i] + d[i] * (k[i] - 1) + 1 + op[i] for i in range(2))
    if any(full[i] - pads[i][0] - pads[i][1] < 1 for i in range(2)):
        raise ValueError(f"conv_transpose2d: padding {pads} leaves no output from a {full[0]}x{full[1]} result")
    xs = split(x, groups, axis=1) if groups > 1 else [x]
    ws = split(weight, groups, axis=0) if groups > 1 else [weight]
    outs = []
    for xg, wg in zip(xs, ws):
        c, o = shape_of(wg)[:2]
        rows = reshape(transpose(xg, (0, 2, 3, 1)), (-1, c))              # (N*H*W, C)
        w_rows = reshape(transpose(wg, (0, 2, 3, 1)), (c, -1))            # (C, kh*kw*O), im2col's order
        outs.append(col2im_rows(matmul(rows, w_rows), (sx[0], o) + full, k, s, d, (0, 0)))
    y = concatenate(outs, axis=1) if groups > 1 else outs[0]
    if any(lo or hi for lo, hi in pads):
        y = getitem(y, (slice(None), slice(None), slice(pads[0][0], full[0] - pads[0][1]),
                        slice(pads[1][0], full[1] - pads[1][1])))
    if bias is not None:
        y = y + reshape(bias, (1, -1, 1, 1))
    return y


def _pads(padding):
    """``padding`` as ((top, bottom), (left, right))."""
    if isinstance(padding, (int, np.integer)):
        pads = ((int(padding),) * 2,) * 2
    elif len(padding) == 2 and all(isinstance(p, (int, np.integer)) for p in padding):
        pads = tuple((int(p), int(p)) for p in padding)
    else:
        pads = tuple(tuple(int(v) for v in p) for p in padding)
    if len(pads) != 2 or any(len(p) != 2 or min(p) < 0 for p in pads):
        raise ValueError(f"conv_transpose2d: padding must be an int, a pair, or ((top, bottom), (left, right)) of "
                         f"non-negative ints, got {padding}")
    return pads
