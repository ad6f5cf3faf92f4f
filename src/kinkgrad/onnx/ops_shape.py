"""ONNX shape, indexing and constant ops as kinkgrad ops.

Shapes, axes, pads and indices arrive as int64 tensors; kinkgrad runs eagerly, so they are concrete
values here and the data path stays differentiable (Gather is ``ops.take``, Slice ``ops.getitem``,
Pad ``ops.pad``...). Semantics follow the ONNX operator specification (onnx.ai/onnx/operators).
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..ops.factories import tensor
from .optable import attr_choice, op, static, static_ints


def _const(value):
    return tensor(np.asarray(value))


@op("Constant", attrs={"value": None, "value_float": None, "value_floats": None, "value_int": None,
                       "value_ints": None})
def constant(n):
    """A constant from whichever value attribute is set (a tensor, a float, an int or their lists)."""
    at = n.attrs
    if at["value"] is not None:
        return _const(at["value"])
    if at["value_float"] is not None:
        return _const(np.float32(at["value_float"]))
    if at["value_floats"] is not None:
        return _const(np.asarray(at["value_floats"], dtype=np.float32))
    if at["value_int"] is not None:
        return _const(np.int64(at["value_int"]))
    if at["value_ints"] is not None:
        return _const(np.asarray(at["value_ints"], dtype=np.int64))
    raise n.unsupported("a Constant without value, value_float(s) or value_int(s)", "those four attributes")


@op("ConstantOfShape", attrs={"value": None})
def constant_of_shape(n, shape):
    value = n.attrs["value"] if n.attrs["value"] is not None else np.zeros(1, dtype=np.float32)
    return _const(np.full(static_ints(shape), value.reshape(-1)[0], dtype=value.dtype))


@op("Shape", attrs={"start": 0, "end": None})
def shape(n, x):
    return _const(np.asarray(x.shape[n.attrs["start"]:n.attrs["end"]], dtype=np.int64))


@op("Size")
def size(n, x):
    return _const(np.int64(x.size))


@op("Reshape", attrs={"allowzero": 0})
def reshape(n, x, shape):
    """0 copies the input's dimension (unless allowzero), -1 is inferred."""
    dims = list(static_ints(shape))
    if not n.attrs["allowzero"]:
        dims = [x.shape[i] if v == 0 else v for i, v in enumerate(dims)]
    return ops.reshape(x, tuple(dims))


@op("Flatten", attrs={"axis": 1})
def flatten(n, x):
    axis = n.attrs["axis"] % (x.ndim + 1) if x.ndim else 0
    return ops.reshape(x, (int(np.prod(x.shape[:axis])), int(np.prod(x.shape[axis:]))))


@op("Transpose", attrs={"perm": None})
def transpose(n, x):
    perm = n.attrs["perm"]
    return ops.transpose(x, tuple(perm) if perm is not None else None)


@op("Squeeze", attrs={"axes": None})
def squeeze(n, x, axes=None):
    axes = static_ints(axes) if axes is not None else n.attrs["axes"]
    return ops.squeeze(x, tuple(axes) if axes else None)


@op("Unsqueeze", attrs={"axes": None})
def unsqueeze(n, x, axes=None):
    axes = static_ints(axes) if axes is not None else n.attrs["axes"]
    return ops.expand_dims(x, tuple(axes))


@op("Concat", attrs={"axis": None})
def concat(n, *xs):
    return ops.concatenate(list(xs), axis=n.attrs["axis"])


@op("Split", attrs={"axis": 0, "split": None, "num_outputs": None})
def split(n, x, sizes=None):
    """Sizes from the input (or the older attribute); else num_outputs (or the node's output count)
    pieces of ceil(size / count), the last one smaller."""
    axis = n.attrs["axis"] % x.ndim
    sizes = static_ints(sizes) if sizes is not None else n.attrs["split"]
    if sizes is None:
        count = n.attrs["num_outputs"] or n.n_outputs
        step = -(-x.shape[axis] // count)
        sizes = [min(step, x.shape[axis] - i * step) for i in range(count)]
    if sum(sizes) != x.shape[axis]:
        raise n.error(f"split sizes {list(sizes)} do not add up to axis {axis} of shape {x.shape}")
    return tuple(ops.split(x, list(np.cumsum(sizes)[:-1]), axis=axis))


@op("Slice")
def slice_(n, x, starts, ends, axes=None, steps=None):
    """Python slices per axis (ONNX clamps out-of-range bounds the same way)."""
    starts, ends = static_ints(starts), static_ints(ends)
    axes = static_ints(axes) if axes is not None else tuple(range(len(starts)))
    steps = static_ints(steps) if steps is not None else (1,) * len(starts)
    index = [slice(None)] * x.ndim
    for a, lo, hi, st in zip(axes, starts, ends, steps):
        if st == 0:
            raise n.error("a slice step of 0")
        index[a % x.ndim] = slice(lo, hi, st)
    return ops.getitem(x, tuple(index))


@op("Gather", attrs={"axis": 0})
def gather(n, x, indices):
    idx = static(indices)
    axis = n.attrs["axis"] % x.ndim
    if idx.size and (idx.min() < -x.shape[axis] or idx.max() >= x.shape[axis]):
        raise n.error(f"indices in [{idx.min()}, {idx.max()}] are out of range for axis {axis} of shape {x.shape}")
    return ops.take(x, indices if indices.dtype == np.int64 else indices.astype(np.int64), axis=axis)


@op("GatherElements", attrs={"axis": 0})
def gather_elements(n, x, indices):
    axis = n.attrs["axis"] % x.ndim
    idx = indices if indices.dtype == np.int64 else indices.astype(np.int64)
    if (static(idx) < 0).any():
        idx = ops.where(idx < 0, idx + x.shape[axis], idx)
    return ops.take_along_axis(x, idx, axis)


@op("Expand")
def expand(n, x, shape):
    """Two-way broadcast of x and the shape (ONNX's Expand, unlike NumPy's broadcast_to)."""
    return ops.broadcast_to(x, np.broadcast_shapes(x.shape, static_ints(shape)))


@op("Tile")
def tile(n, x, repeats):
    return ops.tile(x, static_ints(repeats))


@op("Pad", attrs={"mode": "constant"}, check=attr_choice("mode", ("constant", "reflect", "edge", "wrap")))
def pad(n, x, pads, value=None, axes=None):
    """Constant padding by ops.pad; reflect / edge / wrap as a gather of the mirrored or repeated indices
    (so the gradient sums back to the copied elements); negative pads crop."""
    p = static_ints(pads)
    axes = [a % x.ndim for a in static_ints(axes)] if axes is not None else list(range(x.ndim))
    k = len(axes)
    widths = [(0, 0)] * x.ndim
    for i, a in enumerate(axes):
        widths[a] = (p[i], p[i + k])
    crop = tuple(slice(-lo if lo < 0 else None, hi if hi < 0 else None) for lo, hi in widths)
    grow = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    mode = n.attrs["mode"]
    if mode == "constant":
        padded = any(lo or hi for lo, hi in grow)
        if value is not None and value.requires_grad and padded:
            # a differentiable fill value: zero padding plus the value times the padding's mask
            mask = np.pad(np.zeros(x.shape, dtype=x.dtype), grow, constant_values=1)
            y = ops.pad(x, grow) + ops.reshape(value, ()) * mask
        else:
            fill = 0.0 if value is None else static(value).item()
            y = ops.pad(x, grow, value=fill) if padded else x
    else:
        y = x
        for a, (lo, hi) in enumerate(grow):
            if lo or hi:
                source = np.pad(np.arange(x.shape[a]), (lo, hi), mode={"edge": "edge", "reflect": "reflect",
                                                                       "wrap": "wrap"}[mode])
                y = ops.take(y, source, axis=a)
    return ops.getitem(y, crop) if any(lo < 0 or hi < 0 for lo, hi in widths) else y
