"""Lowerings of matrix products, convolutions, shape ops and indexing (``x[index]`` with NumPy's
semantics: Slice for slices, Squeeze for integers, Unsqueeze for None, and one Gather for integer or
boolean arrays on adjacent axes, their positions flattened into one axis so the gathered block lands
where NumPy puts it)."""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .errors import OnnxUnsupportedError
from .lowering import lowers, out_dtype

_INT64_MIN = np.iinfo(np.int64).min


# -- matrix products and convolution ------------------------------------------------------------------------
@lowers("matmul")
def _matmul(b, rec):
    return b.node("MatMul", [b.value(x, out_dtype(rec)) for x in rec.inputs])


@lowers("affine")
def _affine(b, rec):
    """Gemm for 2-D inputs (a dense layer), MatMul + Add otherwise."""
    x, w, bias = rec.inputs
    dtype = out_dtype(rec)
    xn, wn = b.value(x, dtype), b.value(w, dtype)
    if len(x.shape) == 2 and np.ndim(bias.data if isinstance(bias, Tensor) else bias) <= 1:
        return b.node("Gemm", [xn, wn, b.value(bias, dtype)])
    return b.node("Add", [b.node("MatMul", [xn, wn]), b.value(bias, dtype)])


@lowers("einsum")
def _einsum(b, rec):
    return b.node("Einsum", [b.value(x, out_dtype(rec)) for x in rec.inputs], equation=rec.params["spec"])


@lowers("conv2d")
def _conv2d(b, rec):
    x, w, bias = rec.inputs
    k, s, d, p = (rec.params[key] for key in "ksdp")
    ins = [b.value(x), b.value(w)] + ([b.value(bias, out_dtype(rec))] if bias is not None else [])
    return b.node("Conv", ins, kernel_shape=list(k), strides=list(s), dilations=list(d),
                  pads=[p[0], p[1], p[0], p[1]], group=1)


def _arg(rec, name, index, default):
    """A primitive's argument given as a keyword parameter or as the ``index``-th positional input."""
    if name in rec.params:
        return rec.params[name]
    return rec.inputs[index] if len(rec.inputs) > index else default


@lowers("col2im_rows")
def _col2im_rows(b, rec):
    """The transpose of im2col (a transposed convolution's last step): ConvTranspose of the rows, laid out
    as (N, kh*kw*C, OH, OW), with a one-hot weight that puts each (tap, channel) back in place."""
    g = rec.inputs[0]
    shape, k, s, d, p = (_arg(rec, name, i, default) for i, (name, default) in
                         enumerate((("shape", None), ("k", None), ("s", None), ("d", (1, 1)), ("p", (0, 0))), 1))
    n, c = shape[:2]
    oh, ow = (((shape[2 + i] + 2 * p[i] - (k[i] - 1) * d[i] - 1) // s[i]) + 1 for i in range(2))
    dtype = out_dtype(rec)
    taps = k[0] * k[1] * c
    rows = b.node("Reshape", [b.value(g), b.const(np.array([n, oh, ow, taps], np.int64))])
    image = b.node("Transpose", [rows], perm=[0, 3, 1, 2])
    weight = np.zeros((taps, c, k[0], k[1]), dtype)
    for i in range(k[0]):
        for j in range(k[1]):
            for ch in range(c):
                weight[(i * k[1] + j) * c + ch, ch, i, j] = 1
    extra = [shape[2 + i] + 2 * p[i] - ((oh, ow)[i] - 1) * s[i] - (k[i] - 1) * d[i] - 1 for i in range(2)]
    return b.node("ConvTranspose", [image, b.const(weight)], kernel_shape=list(k), strides=list(s),
                  dilations=list(d), pads=[p[0], p[1], p[0], p[1]], output_padding=extra)


# -- shapes ---------------------------------------------------------------------------------------------
@lowers("reshape")
def _reshape(b, rec):
    return b.node("Reshape", [b.value(rec.inputs[0]), b.const(np.array(rec.output.shape, np.int64))])


@lowers("transpose")
def _transpose(b, rec):
    return b.node("Transpose", [b.value(rec.inputs[0])], perm=[int(a) for a in rec.params["axes"]])


@lowers("broadcast_to")
def _broadcast_to(b, rec):
    return b.node("Expand", [b.value(rec.inputs[0]), b.const(np.array(rec.output.shape, np.int64))])


@lowers("sum_to")
def _sum_to(b, rec):
    x = rec.inputs[0]
    shape, target = tuple(x.shape), tuple(rec.output.shape)
    lead = len(shape) - len(target)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(target) if n == 1 and shape[lead + i] != 1)
    y = b.reduce("ReduceSum", b.value(x), axes, True)
    return b.node("Reshape", [y, b.const(np.array(target, np.int64))])


@lowers("concatenate")
def _concatenate(b, rec):
    return b.node("Concat", [b.value(x, out_dtype(rec)) for x in rec.inputs], axis=int(rec.params["axis"]))


@lowers("pad")
def _pad(b, rec):
    widths = rec.params["pad_width"]
    pads = [lo for lo, _ in widths] + [hi for _, hi in widths]
    value = b.const(np.asarray(rec.params.get("value", 0.0), out_dtype(rec)))
    return b.node("Pad", [b.value(rec.inputs[0]), b.const(np.array(pads, np.int64)), value], mode="constant")


@lowers("flip")
def _flip(b, rec):
    axes = rec.params["axis"]
    n = len(axes)
    return b.node("Slice", [b.value(rec.inputs[0]), b.const(np.full(n, -1, np.int64)),
                            b.const(np.full(n, _INT64_MIN, np.int64)), b.const(np.array(axes, np.int64)),
                            b.const(np.full(n, -1, np.int64))])


@lowers("take_along_axis")
def _take_along_axis(b, rec):
    x, idx = rec.inputs[:2]
    return b.node("GatherElements", [b.value(x), b.value(idx, np.int64)], axis=int(rec.params["axis"]))


@lowers("windows2d")
def _windows2d(b, rec):
    """(N, C, H, W) -> (N, C, OH, OW, kh, kw) as one Gather of flat positions over H * W."""
    x = rec.inputs[0]
    k, s = rec.params["k"], rec.params["s"]
    d = rec.params.get("d", (1, 1))
    n, c, h, w = x.shape
    oh, ow = rec.output.shape[2:4]
    rows = (np.arange(oh)[:, None, None, None] * s[0] + np.arange(k[0])[None, None, :, None] * d[0])
    cols = (np.arange(ow)[None, :, None, None] * s[1] + np.arange(k[1])[None, None, None, :] * d[1])
    flat = b.node("Reshape", [b.value(x), b.const(np.array([n, c, h * w], np.int64))])
    return b.node("Gather", [flat, b.const((rows * w + cols).astype(np.int64))], axis=2)


@lowers("getitem")
def _getitem(b, rec):
    return lower_getitem(b, rec.inputs[0], rec.params["index"], rec.output)


# -- x[index] ------------------------------------------------------------------------------------------
def lower_getitem(b, x, index, out):
    raw = index if isinstance(index, tuple) else (index,)
    computed = [e for e in raw if isinstance(e, np.ndarray) and b.traced_of(e) is not None]
    if computed:
        return _computed_index(b, x, raw, computed)
    entries = _expand(raw, x.ndim)
    arrays = [i for i, e in enumerate(entries) if isinstance(e, np.ndarray)]
    if arrays:
        return _advanced(b, x, entries, arrays, out)
    return _basic(b, b.value(x), x.shape, entries)


def _computed_index(b, x, raw, computed):
    """Indices computed by the traced ops (argmax, argsort...): one Gather that reads them at run time,
    for one integer array among slices; a computed boolean mask has a data-dependent shape."""
    arr = computed[0]
    others = [e for e in raw if e is not arr]
    if len(computed) != 1 or arr.dtype.kind not in "iu" or not all(isinstance(e, slice) for e in others):
        raise OnnxUnsupportedError(
            "kg.onnx.export: indexing with indices or a mask computed from the inputs is exportable only as one "
            "integer array among slices (a Gather); a computed mask gives a data-dependent shape: use kg.where")
    axis = next(i for i, e in enumerate(raw) if e is arr)
    basic = [slice(None) if e is arr else e for e in raw] + [slice(None)] * (x.ndim - len(raw))
    return b.node("Gather", [_basic(b, b.value(x), x.shape, basic), b.value(arr, np.int64)], axis=axis)


def _expand(entries, ndim):
    """Ellipsis replaced by full slices, boolean arrays by their nonzero positions, 0-d integer arrays by
    integers; missing trailing axes filled with full slices."""
    out = []
    for e in entries:
        if isinstance(e, (list, tuple)):
            e = np.asarray(e)
        if isinstance(e, np.ndarray) and e.dtype == bool:
            out.extend(np.nonzero(e))
        elif isinstance(e, np.ndarray) and e.ndim == 0:
            out.append(int(e))
        else:
            out.append(e)
    used = sum(1 for e in out if e is not None and e is not Ellipsis)
    fill = [slice(None)] * (ndim - used)
    if any(e is Ellipsis for e in out):
        i = next(i for i, e in enumerate(out) if e is Ellipsis)
        return out[:i] + fill + out[i + 1:]
    return out + fill


def _basic(b, name, shape, entries):
    starts, ends, axes, steps, squeeze, unsqueeze = [], [], [], [], [], []
    axis = out_axis = 0
    for e in entries:
        if e is None:
            unsqueeze.append(out_axis)
            out_axis += 1
            continue
        n = shape[axis]
        if isinstance(e, slice):
            start, stop, step = e.indices(n)
            if (start, stop, step) != (0, n, 1):
                if step < 0 and stop < 0:
                    stop = _INT64_MIN           # "before the first element" (ONNX reads -1 as the last one)
                starts.append(start), ends.append(stop), axes.append(axis), steps.append(step)
            out_axis += 1
        else:
            i = int(e) % n
            starts.append(i), ends.append(i + 1), axes.append(axis), steps.append(1)
            squeeze.append(axis)
        axis += 1
    if axes:
        name = b.node("Slice", [name, b.const(np.array(starts, np.int64)), b.const(np.array(ends, np.int64)),
                                b.const(np.array(axes, np.int64)), b.const(np.array(steps, np.int64))])
    if squeeze:
        name = b.node("Squeeze", [name, b.const(np.array(squeeze, np.int64))])
    if unsqueeze:
        name = b.node("Unsqueeze", [name, b.const(np.array(unsqueeze, np.int64))])
    return name


def _advanced(b, x, entries, arrays, out):
    if any(e is None or isinstance(e, (int, np.integer)) for e in entries) or arrays != list(
            range(arrays[0], arrays[0] + len(arrays))):
        raise OnnxUnsupportedError(
            "kg.onnx.export: an index mixing arrays with integers, None, or arrays on non-adjacent axes has no "
            f"ONNX lowering here (index {entries!r}); index with slices and adjacent integer/boolean arrays")
    # the slices first (on their own axes), then the adjacent arrays as one flat Gather
    basic = [slice(None) if isinstance(e, np.ndarray) else e for e in entries]
    name = _basic(b, b.value(x), x.shape, basic)
    sliced = [len(range(*e.indices(n))) if isinstance(e, slice) else n for e, n in zip(basic, x.shape)]
    a, m = arrays[0], len(arrays)
    dims = sliced[a:a + m]
    idx = np.broadcast_arrays(*[np.where(entries[i] < 0, entries[i] + sliced[i], entries[i]) for i in arrays])
    flat = np.ravel_multi_index(tuple(i.astype(np.int64) for i in idx), dims).astype(np.int64)
    if m > 1:
        merged = sliced[:a] + [int(np.prod(dims))] + sliced[a + m:]
        name = b.node("Reshape", [name, b.const(np.array(merged, np.int64))])
    return b.node("Gather", [name, b.const(flat)], axis=a)

