"""``x[index]`` (NumPy semantics) as ONNX nodes: Slice for slices, Squeeze for integers, Unsqueeze for
None, and one Gather for integer or boolean arrays on consecutive axes (their positions flattened
into one axis, so the gathered block lands where NumPy puts it)."""
from __future__ import annotations

import numpy as np

from .errors import OnnxUnsupportedError

_INT64_MIN = np.iinfo(np.int64).min


def lower_getitem(b, x, index, out):
    entries = _expand(index if isinstance(index, tuple) else (index,), x.ndim)
    arrays = [i for i, e in enumerate(entries) if isinstance(e, np.ndarray)]
    if arrays:
        return _advanced(b, x, entries, arrays, out)
    return _basic(b, b.value(x), x.shape, entries)


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
