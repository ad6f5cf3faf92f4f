"""In-place updates with PyTorch's semantics: ``x[i] = v``, ``x += y`` (and ``-= *= /=``), ``add_``,
``sub_``, ``mul_``, ``div_``, ``clamp_``, ``fill_``, ``zero_``, ``copy_``.

* Outside any graph (no input requires grad, or under ``kg.no_grad()``) the write goes into the
  tensor's memory, so views and ``detach()``-ed aliases see it, a parameter stays the same leaf
  (``with kg.no_grad(): p -= lr * p.grad`` keeps ``p`` a leaf that requires grad), and the write is
  stamped: a graph that saved that memory earlier refuses to backward through the changed value.
* Inside a graph (grad recording on and some input requires grad, or a forward-mode tangent rides
  along) the update is recorded like any op: the tensor takes the new value and its graph node,
  and the values saved earlier stay untouched (aliases made before keep the old value). On a leaf
  that requires grad this raises, as in PyTorch: the update would erase what is being differentiated.
"""
from __future__ import annotations

import numpy as np

from ..autodiff.safety import record_write
from ..context import no_grad, state
from ..tensor import Tensor
from .elementwise import add, cast, divide, multiply, power, subtract
from .index import _raw_index, scatter_add, where
from .nonsmooth import clip
from .shape import broadcast_to


def _recorded(x, others):
    st = state()
    tensors = [x] + [o for o in others if isinstance(o, Tensor)]
    if st.levels and any(t._tangents for t in tensors):
        return True
    return st.grad_enabled and any(t.requires_grad for t in tensors)


def _refuse_leaf(x, what):
    if x.requires_grad and x.node is None:
        raise RuntimeError(
            f"{what}: a leaf tensor that requires grad (shape {x.shape}) is being used in an in-place operation; "
            "update parameters under `with kg.no_grad():`, or compute out of place (y = x + 1)")


def _assume(x, new, what):
    """Make ``x`` the result ``new`` of a recorded update (same shape and dtype, new graph node)."""
    if new.shape != x.shape:
        raise RuntimeError(f"{what}: the result has shape {new.shape}, which does not fit the tensor's shape "
                           f"{x.shape} (an in-place update cannot broadcast the tensor itself)")
    if new.dtype != x.dtype:
        new = cast(new, dtype=x.dtype)
    x.data, x.node, x.requires_grad = new.data, new.node, new.requires_grad
    x._tangents, x._cut = new._tangents, new._cut


def _write(x, values, what):
    """Write ``values`` into ``x``'s memory (NumPy's same-kind casting) and stamp the write."""
    if not x.data.flags.writeable:
        x.data = x.data.copy()      # a read-only view (a broadcast, say): the tensor gets its own memory
    try:
        np.copyto(x.data, values, casting="same_kind")
    except (TypeError, ValueError) as e:
        raise type(e)(f"{what}: cannot write a result of shape {np.shape(values)} "
                      f"{np.asarray(values).dtype.name} into a tensor of shape {x.shape} {x.dtype.name}: {e}") from None
    record_write(x.data)


def update(x, op, other, what):
    """``x = op(x, other)`` in place (the engine of ``+=``, ``add_``...)."""
    if _recorded(x, (other,)):
        _refuse_leaf(x, what)
        _assume(x, op(x, other), what)
    else:
        with no_grad():
            _write(x, op(Tensor._wrap(x.data), other).data, what)
    return x


def setitem(x, index, value):
    """``x[index] = value``: in place outside a graph; recorded (differentiable in ``x`` and
    ``value``) inside one."""
    index = _raw_index(index)
    if not _recorded(x, (value,)):
        if not x.data.flags.writeable:
            x.data = x.data.copy()
        try:
            x.data[index] = value.data if isinstance(value, Tensor) else value
        except (IndexError, ValueError, TypeError) as e:
            raise type(e)(f"setitem: cannot assign {type(value).__name__} of shape {np.shape(value)} to index "
                          f"{index!r} of a tensor of shape {x.shape}: {e}") from None
        record_write(x.data)
        return
    _refuse_leaf(x, "setitem")
    keep = np.ones(x.shape, dtype=bool)
    keep[index] = False
    target = np.empty(x.shape, dtype=bool)[index].shape
    if np.count_nonzero(~keep) != int(np.prod(target)):
        raise ValueError(f"setitem: index {index!r} names some elements more than once; an assignment recorded "
                         "for differentiation needs each element once (NumPy would keep only the last value)")
    if not isinstance(value, Tensor):
        value = Tensor._wrap(np.asarray(value, dtype=x.dtype))
    placed = scatter_add(broadcast_to(value, target), index, x.shape)
    _assume(x, where(keep, x, placed), "setitem")


def _clamp(x, bounds):
    return clip(x, *bounds)


def _fill(x, value):
    """Every element ``value`` (the old values do not matter, not even NaN)."""
    if not isinstance(value, Tensor):
        value = Tensor._wrap(np.asarray(value, dtype=x.dtype))
    return broadcast_to(value, x.shape)


METHODS = {
    "__iadd__": lambda x, y: update(x, add, y, "+="),
    "__isub__": lambda x, y: update(x, subtract, y, "-="),
    "__imul__": lambda x, y: update(x, multiply, y, "*="),
    "__itruediv__": lambda x, y: update(x, divide, y, "/="),
    "__ipow__": lambda x, y: update(x, power, y, "**="),
    "add_": lambda x, y, alpha=1: update(x, add, y if alpha == 1 else y * alpha, "add_"),
    "sub_": lambda x, y, alpha=1: update(x, subtract, y if alpha == 1 else y * alpha, "sub_"),
    "mul_": lambda x, y: update(x, multiply, y, "mul_"),
    "div_": lambda x, y: update(x, divide, y, "div_"),
    "clamp_": lambda x, min=None, max=None: update(x, _clamp, (min, max), "clamp_"),
    "fill_": lambda x, value: update(x, _fill, value, "fill_"),
    "zero_": lambda x: update(x, _fill, 0, "zero_"),
    "copy_": lambda x, src: update(x, _fill, src, "copy_"),
    "__setitem__": setitem,
}
