"""Indexing and selection: getitem (basic, advanced, boolean), scatter-add, gathers, where, sort."""
from __future__ import annotations

import numpy as np

from ..autodiff.primitive import Primitive
from ..tensor import Tensor
from . import raw
from ._declare import ndim_of, normalize_axis, public, shape_of
from .shape import reshape


def _raw_index(index):
    """Indices may hold Tensors (integer or boolean); the primitive sees plain NumPy."""
    if isinstance(index, tuple):
        return tuple(_raw_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _is_basic(index):
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (slice, int, np.integer)) for i in items)


def _scatter_kernel(g, index, shape):
    out = np.zeros(shape, dtype=g.dtype)
    if _is_basic(index):
        out[index] = g          # basic indexing never repeats an element: plain assignment
    else:
        np.add.at(out, index, g)   # repeated advanced indices accumulate
    return out


scatter_add = public(Primitive(
    "scatter_add", lambda g, index, shape: _scatter_kernel(np.asarray(g), index, shape),
    vjp=lambda m, gg, out, g, index, shape: m.getitem(gg, index), linear=True,
    doc="Zeros of ``shape`` with ``g`` added at ``index`` (the transpose of getitem)."), "g, index, shape")

_getitem = Primitive(
    "getitem", lambda x, index: x[index],
    vjp=lambda m, g, out, x, index: m.scatter_add(g, index, shape_of(x)), linear=True,
    doc="x[index]; repeated indices accumulate their gradients.")


def getitem(x, index):
    """``x[index]`` with NumPy semantics (basic slicing, integer and boolean arrays)."""
    index = _raw_index(index)
    try:
        np.empty(shape_of(x), dtype=bool)[index]
    except IndexError as e:
        raise IndexError(
            f"getitem: index {index!r} is invalid for a tensor of shape {tuple(shape_of(x))}: {e}") from None
    return _getitem(x, index=index)


def take(x, indices, axis=None):
    """Elements at ``indices`` along ``axis`` (flattened when None), like ``np.take``."""
    indices = np.asarray(_raw_index(indices))
    ax = None if axis is None else normalize_axis(axis, ndim_of(x, "take"), "take")[0]
    n = int(np.prod(shape_of(x))) if ax is None else shape_of(x)[ax]
    if indices.size and (indices.max() >= n or indices.min() < -n):
        bad = indices[(indices >= n) | (indices < -n)].flat[0]
        raise IndexError(f"take: index {bad} is out of range for {'the' if ax is None else 'axis %d,' % ax} "
                         f"{n} element(s) (shape {tuple(shape_of(x))})")
    if ax is None:
        return getitem(reshape(x, (-1,)), indices)
    return getitem(x, (slice(None),) * ax + (indices,))


gather = take

_put_along = Primitive(
    "put_along_axis_add",
    raw.put_along_axis_add,
    vjp=lambda m, gg, out, g, idx, axis, shape: m.take_along_axis(gg, idx, axis), linear=True)

_take_along = Primitive(
    "take_along_axis", lambda x, idx, axis: np.take_along_axis(x, idx, axis),
    vjp=lambda m, g, out, x, idx, axis: m.put_along_axis_add(g, idx, axis, shape_of(x)), linear=True)


def take_along_axis(x, indices, axis):
    """Gather along ``axis`` with an index array shaped like the output (``np.take_along_axis``)."""
    idx = np.asarray(_raw_index(indices))
    if idx.dtype.kind not in "iu":
        raise TypeError(f"take_along_axis: indices must be integers, got {idx.dtype.name}")
    ax = normalize_axis(axis, ndim_of(x, "take_along_axis"), "take_along_axis")[0]
    return _take_along(x, idx, axis=ax)


def put_along_axis_add(g, idx, axis, shape):
    return _put_along(g, idx, axis=axis, shape=tuple(shape))


where_ = Primitive(
    "where", lambda cond, x, y: np.where(cond, x, y),
    vjp=(None,
         lambda m, g, out, cond, x, y: m.where(cond, g, 0.0),
         lambda m, g, out, cond, x, y: m.where(cond, 0.0, g)),
    jvp=(None,
         lambda m, t, out, cond, x, y: m.where(cond, t, 0.0),
         lambda m, t, out, cond, x, y: m.where(cond, 0.0, t)),
    doc="Pick x where cond else y; the unselected branch receives exactly zero cotangent.")


def where(cond, x, y):
    """``x`` where ``cond`` is true, else ``y`` (broadcasting)."""
    c = cond.data if isinstance(cond, Tensor) else np.asarray(cond)
    if c.dtype != bool:
        c = c.astype(bool)
    try:
        np.broadcast_shapes(c.shape, shape_of(x), shape_of(y))
    except ValueError:
        raise ValueError(f"where: shapes cond {c.shape}, x {tuple(shape_of(x))}, y {tuple(shape_of(y))} "
                         "do not broadcast together") from None
    return where_(c, x, y)


_argsort = Primitive("argsort", lambda x, axis, kind: np.argsort(x, axis=axis, kind=kind),
                    differentiable=False, piecewise_constant=True)


def argsort(x, axis=-1, descending=False, stable=True):
    """Indices that sort ``x`` along ``axis`` (integers, not differentiable)."""
    return _argsort(-x if descending else x, axis=axis, kind="stable" if stable else None)


def split(x, indices_or_sections, axis=0):
    """Split into pieces along ``axis`` (NumPy semantics: a count of equal parts, or split points)."""
    n = ndim_of(x)
    ax = normalize_axis(axis, n, "split")[0]
    size = shape_of(x)[ax]
    if isinstance(indices_or_sections, int):
        if indices_or_sections <= 0 or size % indices_or_sections:
            raise ValueError(f"split: axis {ax} of size {size} (shape {tuple(shape_of(x))}) does not split into "
                             f"{indices_or_sections} equal parts")
        step = size // indices_or_sections
        points = list(range(step, size, step))
    else:
        points = list(indices_or_sections)
    bounds = [0] + points + [size]
    return [getitem(x, (slice(None),) * ax + (slice(a, b),)) for a, b in zip(bounds[:-1], bounds[1:])]
