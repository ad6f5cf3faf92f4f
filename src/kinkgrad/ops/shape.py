"""Shape primitives: all linear, so forward mode applies the op itself to the tangent."""
from __future__ import annotations

import numpy as np

from ..autodiff.primitive import Primitive, holds_tensor
from ..tensor import Tensor
from . import raw
from ._declare import ndim_of, normalize_axis, shape_of
from .elementwise import cast


def _shape_error(op, x, detail):
    return ValueError(f"{op}: cannot apply to a tensor of shape {tuple(shape_of(x))}: {detail}")


_reshape = Primitive("reshape", lambda x, shape: np.reshape(x, shape),
                     vjp=lambda m, g, out, x, shape: m.reshape(g, shape_of(x)), linear=True)


def reshape(x, *shape):
    """Same elements, new shape (one dimension may be -1)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    try:
        new = np.empty(shape_of(x), dtype=bool).reshape(shape).shape   # validate cheaply via an empty view
    except ValueError as e:
        raise _shape_error("reshape", x, f"target shape {shape} ({e})") from None
    if new == tuple(shape_of(x)):
        return x
    return _reshape(x, shape=new)


def _inverse(axes):
    return tuple(np.argsort(axes))


_transpose = Primitive("transpose", lambda x, axes: np.transpose(x, axes),
                       vjp=lambda m, g, out, x, axes: m.transpose(g, _inverse(axes)), linear=True)


def transpose(x, axes=None):
    """Permute axes (reverse them by default), like ``np.transpose``."""
    n = ndim_of(x)
    axes = tuple(range(n))[::-1] if axes is None else tuple(int(a) % max(n, 1) for a in axes)
    if sorted(axes) != list(range(n)):
        raise _shape_error("transpose", x, f"axes {axes} are not a permutation of {n} dimensions")
    return _transpose(x, axes=axes)


def permute(x, *axes):
    """PyTorch spelling of ``transpose(x, axes)``."""
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    return transpose(x, axes)


def swapaxes(x, a, b):
    n = ndim_of(x)
    axes = list(range(n))
    a, b = normalize_axis(a, n, "swapaxes")[0], normalize_axis(b, n, "swapaxes")[0]
    axes[a], axes[b] = axes[b], axes[a]
    return _transpose(x, axes=tuple(axes))


def expand_dims(x, axis):
    """Insert size-1 axes at ``axis`` (an int or a tuple)."""
    shape = list(shape_of(x))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else axis
    if not isinstance(axes, (tuple, list)) or not all(isinstance(a, (int, np.integer)) for a in axes):
        raise TypeError(f"expand_dims: axis must be an int or a tuple of ints, got {axis!r}")
    n = len(shape) + len(axes)
    for a in sorted(int(a) % n for a in axes):
        shape.insert(a, 1)
    return reshape(x, tuple(shape))


def squeeze(x, axis=None):
    """Remove size-1 axes (all of them, or those in ``axis``)."""
    shape = shape_of(x)
    axes = [i for i, n in enumerate(shape) if n == 1] if axis is None else normalize_axis(axis, len(shape), "squeeze")
    for a in axes:
        if shape[a] != 1:
            raise _shape_error("squeeze", x, f"axis {a} has size {shape[a]}, not 1")
    return reshape(x, tuple(n for i, n in enumerate(shape) if i not in axes))


def ravel(x):
    return reshape(x, (-1,))


flatten = ravel

_broadcast_to = Primitive("broadcast_to", lambda x, shape: np.broadcast_to(x, shape),
                          vjp=lambda m, g, out, x, shape: m.sum_to(g, shape_of(x)), linear=True)
_sum_to = Primitive("sum_to", lambda x, shape: raw.sum_to(x, shape),
                    vjp=lambda m, g, out, x, shape: m.broadcast_to(g, shape_of(x)), linear=True)


def broadcast_to(x, shape):
    """View ``x`` with ``shape`` by NumPy broadcasting rules."""
    shape = tuple(shape)
    if tuple(shape_of(x)) == shape:
        return x
    try:
        np.broadcast_shapes(shape_of(x), shape)
    except ValueError:
        raise _shape_error("broadcast_to", x, f"not broadcastable to {shape}") from None
    return _broadcast_to(x, shape=shape)


def sum_to(x, shape):
    """Sum over broadcast axes so the result has ``shape`` (the transpose of broadcast_to)."""
    shape = tuple(shape)
    return x if tuple(shape_of(x)) == shape else _sum_to(x, shape=shape)


def _split_cotangent(m, g, out, *xs, axis):
    bounds = np.cumsum([shape_of(x)[axis] for x in xs])[:-1]
    pieces = []
    start = 0
    for x, stop in zip(xs, list(bounds) + [None]):
        index = (slice(None),) * axis + (slice(start, stop),)
        pieces.append(m.getitem(g, index))
        start = stop
    return pieces


def _concat_tangent(m, ts, out, *xs, axis):
    return m.concatenate([m.zeros_like(x) if t is None else t for t, x in zip(ts, xs)], axis=axis)


_concatenate = Primitive("concatenate", lambda *xs, axis: np.concatenate(xs, axis=axis),
                         vjp=_split_cotangent, jvp=_concat_tangent, joint_rules=True)


def _common(values):
    """Tensors, arrays, numbers and nested lists of them, made arrays of one dtype (NumPy's promotion,
    in which Python numbers do not widen a float32 tensor); Tensors stay Tensors (their graph too)."""
    flat = []

    def walk(v):
        if isinstance(v, (list, tuple)):
            for e in v:
                walk(e)
        else:
            flat.append(v.dtype if isinstance(v, (Tensor, np.ndarray)) else v)

    walk(values)
    dtype = np.result_type(*flat)

    def convert(v):
        if isinstance(v, Tensor):
            return v if v.dtype == dtype else cast(v, dtype=dtype)
        if isinstance(v, (list, tuple)) and holds_tensor(v):
            return stack([convert(e) for e in v])
        return np.asarray(v, dtype=dtype)

    return [convert(v) for v in values]


def from_sequence(seq, op="tensor"):
    """A nested list or tuple of numbers and tensors as one tensor, stacked so that gradients reach
    the tensors inside (``kg.tensor([x, 2 * x])``, ``kg.mean([x, 1.0])``)."""
    pieces = _common(list(seq))
    shapes = [tuple(shape_of(p)) for p in pieces]
    if len(set(shapes)) > 1:
        raise ValueError(f"{op}: the list's pieces have different shapes {shapes}, so it is not an array; give "
                         "pieces of one shape (kg.stack them, or broadcast numbers with kg.full_like)")
    return stack(pieces)


def concatenate(tensors, axis=0):
    """Join tensors along an existing axis."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("concatenate: needs at least one tensor")
    if not all(isinstance(t, Tensor) for t in tensors):
        tensors = _common(tensors)
    n = ndim_of(tensors[0])
    ax = normalize_axis(axis, n, "concatenate")[0]
    ref = shape_of(tensors[0])
    for t in tensors[1:]:
        s = shape_of(t)
        if len(s) != n or any(a != b for i, (a, b) in enumerate(zip(s, ref)) if i != ax):
            raise ValueError(f"concatenate: shapes {tuple(ref)} and {tuple(s)} differ outside axis {ax}")
    return _concatenate(*tensors, axis=ax)


cat = concatenate


def stack(tensors, axis=0):
    """Join tensors along a new axis."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    if not all(isinstance(t, Tensor) for t in tensors):
        tensors = _common(tensors)
    shapes = {tuple(shape_of(t)) for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
    return concatenate([expand_dims(t, axis) for t in tensors], axis=axis)


def _unpad(m, g, out, x, pad_width):
    index = tuple(slice(lo, lo + n) for (lo, _), n in zip(pad_width, shape_of(x)))
    return m.getitem(g, index)


def _unpad_v(m, g, out, x, pad_width, value):
    return _unpad(m, g, out, x, pad_width)


_pad = Primitive("pad", lambda x, pad_width, value: np.pad(x, pad_width, constant_values=value), vjp=_unpad_v,
                 jvp=lambda m, t, out, x, pad_width, value: m.pad(t, pad_width),
                 doc="Constant padding; the padding carries no derivative.")


def pad(x, pad_width, value=0.0):
    """Constant padding (zeros by default), ``pad_width`` as in ``np.pad`` (an int, a pair, or one
    pair per axis)."""
    n = ndim_of(x)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (n, 2))
    if (widths < 0).any():
        raise ValueError(f"pad: negative pad width {pad_width}")
    return _pad(x, pad_width=tuple(tuple(int(v) for v in w) for w in widths), value=value)


_flip = Primitive("flip", lambda x, axis: np.flip(x, axis),
                  vjp=lambda m, g, out, x, axis: m.flip(g, axis), linear=True)


def flip(x, axis=None):
    """Reverse the order of elements along ``axis`` (all axes by default)."""
    return _flip(x, axis=normalize_axis(axis, ndim_of(x, "flip"), "flip"))


def repeat(x, repeats, axis=None):
    """Repeat each element ``repeats`` times along ``axis`` (flattened when None), like ``np.repeat``."""
    if not isinstance(repeats, (int, np.integer)) or repeats < 0:
        raise ValueError(f"repeat: repeats must be a non-negative int, got {repeats!r}")
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    shape = list(shape_of(x))
    ax = normalize_axis(axis, len(shape), "repeat")[0]
    y = expand_dims(x, ax + 1)
    y = broadcast_to(y, tuple(shape[: ax + 1]) + (int(repeats),) + tuple(shape[ax + 1:]))
    shape[ax] *= int(repeats)
    return reshape(y, tuple(shape))


def tile(x, reps):
    """Repeat the whole tensor ``reps`` times along each axis, like ``np.tile``."""
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    shape = tuple(shape_of(x))
    n = max(len(shape), len(reps))
    shape = (1,) * (n - len(shape)) + shape
    reps = (1,) * (n - len(reps)) + reps
    y = reshape(x, tuple(v for s in shape for v in (1, s)))
    y = broadcast_to(y, tuple(v for r, s in zip(reps, shape) for v in (r, s)))
    return reshape(y, tuple(r * s for r, s in zip(reps, shape)))
