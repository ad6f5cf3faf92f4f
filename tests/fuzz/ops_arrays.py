"""Fuzz table, array part: reductions, max/min (with indices), softmax family, shape ops and indexing."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

import kinkgrad as kg

from .table import (
    FuzzOp,
    axis_int,
    ge1,
    ge2,
    min_of,
    paired,
    reduction,
    tdim,
    top_gap,
    unary,
)


# -- reductions ------------------------------------------------------------------------------------------
def _ddof(g, x, p):
    n = int(np.prod([g.shape(x)[a] for a in g.axes_of(g.shape(x), p["axis"])]))
    return {"ddof": g.pick([0, 1] if n > 1 else [0])}


def _std_kink(xs, p):
    return min_of(np.std(xs[0], axis=p["axis"]))


REDUCE = [
    FuzzOp("sum", "reduce", lambda x, axis, keepdims: kg.sum(x, axis=axis, keepdims=keepdims),
           lambda x, axis, keepdims: torch.sum(x, tdim(axis, x.ndim), keepdim=keepdims), reduction()),
    FuzzOp("method_sum", "reduce", lambda x, axis, keepdims: x.sum(dim=axis, keepdim=keepdims),
           lambda x, axis, keepdims: x.sum(dim=tdim(axis, x.ndim), keepdim=keepdims), reduction(tuples=False)),
    FuzzOp("mean", "reduce", lambda x, axis, keepdims: kg.mean(x, axis=axis, keepdims=keepdims),
           lambda x, axis, keepdims: torch.mean(x, tdim(axis, x.ndim), keepdim=keepdims), reduction()),
    FuzzOp("prod", "reduce", lambda x, axis, keepdims: kg.prod(x, axis=axis, keepdims=keepdims),
           lambda x, axis, keepdims: torch.prod(x, axis, keepdim=keepdims) if axis is not None else
           (torch.prod(x).reshape((1,) * x.ndim) if keepdims else torch.prod(x)), reduction(tuples=False)),
    FuzzOp("var", "reduce", lambda x, axis, keepdims, ddof: kg.var(x, axis=axis, keepdims=keepdims, ddof=ddof),
           lambda x, axis, keepdims, ddof: torch.var(x, tdim(axis, x.ndim), correction=ddof, keepdim=keepdims),
           reduction(extra=_ddof)),
    # std at zero spread is the kink of a norm (the zero vector)
    FuzzOp("std", "reduce", lambda x, axis, keepdims, ddof: kg.std(x, axis=axis, keepdims=keepdims, ddof=ddof),
           lambda x, axis, keepdims, ddof: torch.std(x, tdim(axis, x.ndim), correction=ddof, keepdim=keepdims),
           reduction(extra=_ddof), kink=_std_kink),
    FuzzOp("cumsum", "reduce", lambda x, axis: kg.cumsum(x, axis=axis),
           lambda x, axis: torch.cumsum(x.reshape(-1) if axis is None else x, 0 if axis is None else axis),
           unary(lambda g, x: {"axis": g.axis(g.shape(x), tuples=False)}, ge1)),
    FuzzOp("amax", "extreme", lambda x, axis, keepdims: kg.max(x, axis=axis, keepdims=keepdims),
           lambda x, axis, keepdims: torch.amax(x, tdim(axis, x.ndim), keepdim=keepdims), reduction(),
           kink=lambda xs, p: top_gap(xs[0], p["axis"])),
    FuzzOp("amin", "extreme", lambda x, axis, keepdims: kg.min(x, axis=axis, keepdims=keepdims),
           lambda x, axis, keepdims: torch.amin(x, tdim(axis, x.ndim), keepdim=keepdims), reduction(),
           kink=lambda xs, p: top_gap(xs[0], p["axis"], largest=False)),
    FuzzOp("max_full", "extreme", kg.max, torch.max, unary(fits=ge1), kink=lambda xs, p: top_gap(xs[0])),
    FuzzOp("method_amin", "extreme", lambda x: x.amin(), torch.amin, unary(fits=ge1),
           kink=lambda xs, p: top_gap(xs[0], largest=False)),
    FuzzOp("max_indices", "extreme",
           lambda x, axis, keepdims: kg.max(x, axis=axis, keepdims=keepdims, return_indices=True)[0],
           lambda x, axis, keepdims: torch.max(x, axis, keepdim=keepdims).values,
           reduction(tuples=False, none=False), kink=lambda xs, p: top_gap(xs[0], p["axis"])),
    FuzzOp("min_indices", "extreme",
           lambda x, axis, keepdims: kg.min(x, axis=axis, keepdims=keepdims, return_indices=True)[0],
           lambda x, axis, keepdims: torch.min(x, axis, keepdim=keepdims).values,
           reduction(tuples=False, none=False), kink=lambda xs, p: top_gap(xs[0], p["axis"], largest=False)),
    FuzzOp("gather_argmax", "extreme",
           lambda x, y, axis: kg.take_along_axis(x, kg.argmax(y, axis=axis, keepdims=True), axis),
           lambda x, y, axis: torch.take_along_dim(x, torch.argmax(y, axis, keepdim=True), axis),
           lambda g: paired(g, lambda x: {"axis": g.axis(g.shape(x), none=False, tuples=False)}),
           kink=lambda xs, p: top_gap(xs[1], p["axis"])),
]


def _lse_torch(x, axis, keepdims):
    return torch.logsumexp(x, tdim(axis, x.ndim), keepdim=keepdims)


def _sce_plan(g):
    x = g.var(lambda s: len(s) == 2 and s[1] >= 2)
    if x is None:
        return None
    n, c = g.shape(x)
    return [x], {"labels": g.rng.integers(0, c, n)}


SOFTMAX = [
    FuzzOp("softmax", "softmax", lambda x, axis: kg.softmax(x, axis=axis), lambda x, axis: torch.softmax(x, axis),
           unary(axis_int, ge1)),
    FuzzOp("log_softmax", "softmax", lambda x, axis: kg.log_softmax(x, axis=axis),
           lambda x, axis: torch.log_softmax(x, axis), unary(axis_int, ge1)),
    FuzzOp("logsumexp", "softmax", lambda x, axis, keepdims: kg.logsumexp(x, axis=axis, keepdims=keepdims),
           _lse_torch, reduction()),
    FuzzOp("softmax_cross_entropy", "softmax", lambda x, labels: kg.softmax_cross_entropy(x, labels),
           lambda x, labels: F.cross_entropy(x, torch.as_tensor(labels), reduction="none"), _sce_plan),
]


# -- shapes --------------------------------------------------------------------------------------------
def _reshape_params(g, x):
    return {"shape": g.factor_shape(int(np.prod(g.shape(x), dtype=int)))}


def _perm_params(g, x):
    return {"perm": tuple(int(i) for i in g.rng.permutation(len(g.shape(x))))}


def _swap_params(g, x):
    nd = len(g.shape(x))
    return {"a": g.int(-nd, nd - 1), "b": g.int(-nd, nd - 1)}


def _squeeze_params(g, x):
    ones = [i for i, n in enumerate(g.shape(x)) if n == 1]
    return {"axis": g.pick([None] + ones)} if ones else None


def _broadcast_params(g, x):
    shape = tuple(n if n != 1 or g.coin() else g.int(2, 3) for n in g.shape(x))
    if g.coin() or shape == g.shape(x):
        shape = (g.int(1, 3),) + shape
    return {"shape": shape}


def _concat_plan(g):
    x = g.var(ge1)
    if x is None:
        return None
    shape = g.shape(x)
    axis = g.int(-len(shape), len(shape) - 1)
    other = list(shape)
    other[axis] = g.int(1, 3)
    y = g.var(lambda s: len(s) == len(shape) and all(a == b for i, (a, b) in enumerate(zip(s, shape))
                                                      if i != axis % len(shape)), recent=False)
    y = y if y is not None and g.coin() else g.leaf(tuple(other))
    return ([x, y] if g.coin() else [y, x]), {"axis": axis}


def _stack_plan(g):
    x = g.var()
    nd = len(g.shape(x))
    return [x, g.operand(g.shape(x), same=True)], {"axis": g.int(-nd - 1, nd)}


def _split_params(g, x):
    shape = g.shape(x)
    axis = g.int(0, len(shape) - 1)
    n = shape[axis]
    if n < 2:
        return None
    divisors = [d for d in range(2, n + 1) if n % d == 0]
    if g.coin():
        sections = g.pick(divisors)
        return {"sections": sections, "axis": axis, "piece": g.int(0, sections - 1)}
    cuts = sorted({g.int(0, n), g.int(0, n)})
    pieces = [b - a for a, b in zip([0] + cuts, cuts + [n])]
    nonempty = [i for i, size in enumerate(pieces) if size > 0]
    return {"sections": cuts, "axis": axis, "piece": g.pick(nonempty)}


def _pad_params(g, x):
    return {"widths": tuple((g.int(0, 2), g.int(0, 1)) for _ in g.shape(x)), "value": g.pick([0.0, 0.5])}


def _torch_pad(x, widths, value):
    flat = [w for pair in reversed(widths) for w in pair]
    return F.pad(x, flat, value=value)


def _flip_params(g, x):
    return {"axis": g.axis(g.shape(x), none=True, tuples=True)}


def _repeat_params(g, x):
    return {"repeats": g.int(1, 3), "axis": g.axis(g.shape(x), none=True, tuples=False)}


def _tile_params(g, x):
    return {"reps": tuple(g.int(1, 2) for _ in range(g.int(max(1, len(g.shape(x))), len(g.shape(x)) + 1)))}


SHAPE = [
    FuzzOp("reshape", "shape", lambda x, shape: kg.reshape(x, shape), lambda x, shape: x.reshape(shape),
           unary(_reshape_params)),
    FuzzOp("method_view", "shape", lambda x, shape: x.view(*shape), lambda x, shape: x.reshape(*shape),
           unary(_reshape_params)),
    FuzzOp("transpose", "shape", lambda x, perm: kg.transpose(x, perm), lambda x, perm: x.permute(*perm),
           unary(_perm_params, ge2)),
    FuzzOp("op_T", "shape", lambda x: x.T, lambda x: x.permute(*reversed(range(x.ndim))), unary(fits=ge2)),
    FuzzOp("swapaxes", "shape", lambda x, a, b: kg.swapaxes(x, a, b), lambda x, a, b: torch.swapaxes(x, a, b),
           unary(_swap_params, ge1)),
    FuzzOp("expand_dims", "shape", lambda x, axis: kg.expand_dims(x, axis), lambda x, axis: torch.unsqueeze(x, axis),
           unary(lambda g, x: {"axis": g.int(-len(g.shape(x)) - 1, len(g.shape(x)))})),
    FuzzOp("squeeze", "shape", lambda x, axis: kg.squeeze(x, axis),
           lambda x, axis: torch.squeeze(x) if axis is None else torch.squeeze(x, axis), unary(_squeeze_params)),
    FuzzOp("broadcast_to", "shape", lambda x, shape: kg.broadcast_to(x, shape),
           lambda x, shape: torch.broadcast_to(x, shape), unary(_broadcast_params)),
    FuzzOp("ravel", "shape", kg.ravel, lambda x: x.reshape(-1), unary()),
    FuzzOp("concatenate", "shape", lambda x, y, axis: kg.concatenate([x, y], axis=axis),
           lambda x, y, axis: torch.cat([x, y], axis), _concat_plan),
    FuzzOp("stack", "shape", lambda x, y, axis: kg.stack([x, y], axis=axis),
           lambda x, y, axis: torch.stack([x, y], axis), _stack_plan),
    FuzzOp("split", "shape", lambda x, sections, axis, piece: kg.split(x, sections, axis=axis)[piece],
           lambda x, sections, axis, piece: torch.tensor_split(x, sections, axis)[piece], unary(_split_params, ge1)),
    FuzzOp("pad", "shape", lambda x, widths, value: kg.pad(x, widths, value=value), _torch_pad,
           unary(_pad_params, ge1)),
    FuzzOp("flip", "shape", lambda x, axis: kg.flip(x, axis),
           lambda x, axis: torch.flip(x, tdim(axis, x.ndim) if not isinstance(axis, int) else (axis,)),
           unary(_flip_params, ge1)),
    FuzzOp("repeat", "shape", lambda x, repeats, axis: kg.repeat(x, repeats, axis=axis),
           lambda x, repeats, axis: torch.repeat_interleave(x, repeats, axis), unary(_repeat_params, ge1)),
    FuzzOp("tile", "shape", lambda x, reps: kg.tile(x, reps), lambda x, reps: x.tile(reps), unary(_tile_params)),
]


# -- indexing ------------------------------------------------------------------------------------------
def _tidx(index):
    """A NumPy index (tuple of slices / ints / arrays) for torch: arrays become tensors."""
    conv = lambda i: torch.as_tensor(i) if isinstance(i, np.ndarray) else i
    return tuple(conv(i) for i in index) if isinstance(index, tuple) else conv(index)


def _slice_params(g, x):
    index = []
    for n in g.shape(x)[:g.int(1, len(g.shape(x)))]:
        start, stop = sorted((g.int(0, n - 1), g.int(1, n)))
        index.append(slice(start, max(stop, start + 1), g.int(1, 2)))
    return {"index": tuple(index)}


def _int_params(g, x):
    shape = g.shape(x)
    axis = g.int(0, len(shape) - 1)
    return {"index": (slice(None),) * axis + (g.int(-shape[axis], shape[axis] - 1),)}


def _fancy_params(g, x):
    n = g.shape(x)[0]
    return {"index": g.rng.integers(-n, n, g.int(1, 5))}


def _mask_params(g, x):
    shape = g.shape(x)
    mask = g.rng.random(shape if g.coin() else shape[:1]) < 0.6
    return {"index": mask} if mask.any() else None


def _take_params(g, x):
    shape = g.shape(x)
    axis = g.axis(shape, none=True, tuples=False)
    n = int(np.prod(shape)) if axis is None else shape[axis]
    return {"indices": g.rng.integers(0, n, g.int(1, 5)), "axis": axis}


def _torch_take(x, indices, axis):
    if axis is None:
        return torch.take(x, torch.as_tensor(indices))
    return torch.index_select(x, axis, torch.as_tensor(indices))


def _along_params(g, x):
    shape = g.shape(x)
    axis = g.int(0, len(shape) - 1)
    idx_shape = tuple(g.int(1, 3) if i == axis else n for i, n in enumerate(shape))
    return {"indices": g.rng.integers(0, shape[axis], idx_shape), "axis": axis}


def _scatter_params(g, x):
    shape = g.shape(x)
    n = g.int(1, 4)
    return {"index": g.rng.integers(0, n, shape[0]), "shape": (n,) + tuple(shape[1:])}


def _put_along_params(g, x):
    shape = g.shape(x)
    axis = g.int(0, len(shape) - 1)
    out = tuple(g.int(1, 4) if i == axis else n for i, n in enumerate(shape))
    return {"indices": g.rng.integers(0, out[axis], shape), "axis": axis, "shape": out}


INDEX = [
    FuzzOp("getitem_slice", "index", lambda x, index: x[index], lambda x, index: x[index], unary(_slice_params, ge1)),
    FuzzOp("getitem_int", "index", lambda x, index: x[index], lambda x, index: x[index], unary(_int_params, ge1)),
    FuzzOp("getitem_fancy", "index", lambda x, index: x[index], lambda x, index: x[_tidx(index)],
           unary(_fancy_params, ge1)),
    FuzzOp("getitem_mask", "index", lambda x, index: x[index], lambda x, index: x[_tidx(index)],
           unary(_mask_params, ge1)),
    FuzzOp("take", "index", lambda x, indices, axis: kg.take(x, indices, axis=axis), _torch_take,
           unary(_take_params, ge1)),
    FuzzOp("take_along_axis", "index", lambda x, indices, axis: kg.take_along_axis(x, indices, axis),
           lambda x, indices, axis: torch.take_along_dim(x, torch.as_tensor(indices), axis),
           unary(_along_params, ge1)),
    FuzzOp("scatter_add", "index", lambda x, index, shape: kg.scatter_add(x, index, shape),
           lambda x, index, shape: torch.zeros(shape, dtype=x.dtype).index_add(0, torch.as_tensor(index), x),
           unary(_scatter_params, ge1)),
    FuzzOp("put_along_axis_add", "index",
           lambda x, indices, axis, shape: kg.put_along_axis_add(x, indices, axis, shape),
           lambda x, indices, axis, shape: torch.zeros(shape, dtype=x.dtype).scatter_add(axis,
                                                                                         torch.as_tensor(indices), x),
           unary(_put_along_params, ge1)),
]


