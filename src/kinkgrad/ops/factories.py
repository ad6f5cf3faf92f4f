"""Factories that may receive tensors: a list holding tensors (``kg.tensor([x, 2 * x])``) or tensor
endpoints (``kg.linspace(a, b, 5)``) keeps the graph instead of silently dropping it. Plain data
goes to the graph-free factories in ``tensor.py`` and ``creation.py``."""
from __future__ import annotations

import numpy as np

from .. import creation
from .. import tensor as _tensor
from ..autodiff.primitive import holds_tensor
from ..tensor import Tensor
from .elementwise import cast
from .shape import from_sequence


def tensor(data, dtype=None, requires_grad=False):
    """Make a new tensor (copies ``data``). Python floats -> float32; NumPy arrays keep their dtype.
    A list holding tensors is stacked with their graph kept (``requires_grad=True`` instead makes a
    new leaf from the values)."""
    if isinstance(data, (list, tuple)) and holds_tensor(data):
        t = from_sequence(data, "tensor")
        if dtype is not None and t.dtype != np.dtype(dtype):
            t = cast(t, dtype=np.dtype(dtype))
        return _tensor.tensor(t.data, requires_grad=True) if requires_grad else t
    return _tensor.tensor(data, dtype=dtype, requires_grad=requires_grad)


def as_tensor(x, dtype=None):
    """Wrap without copying when possible; Tensors pass through unchanged; a list holding tensors is
    stacked with their graph kept."""
    if isinstance(x, (list, tuple)) and holds_tensor(x):
        t = from_sequence(x, "as_tensor")
        return t if dtype is None or t.dtype == np.dtype(dtype) else cast(t, dtype=np.dtype(dtype))
    t = _tensor.as_tensor(x) if dtype is None else _tensor.as_tensor(np.asarray(getattr(x, "data", x), dtype))
    return t


def linspace(start, stop, num=50, dtype=None, requires_grad=False):
    """``num`` evenly spaced values from ``start`` to ``stop`` (both included), like ``np.linspace``;
    tensor endpoints keep their graph (the values are ``start + (stop - start) * k / (num - 1)``)."""
    if not (isinstance(start, Tensor) or isinstance(stop, Tensor)):
        return creation.linspace(start, stop, num, dtype=dtype, requires_grad=requires_grad)
    num = int(num)
    if num < 0:
        raise ValueError(f"linspace: num must be non-negative, got {num}")
    kinds = [v.dtype if isinstance(v, Tensor) else v for v in (start, stop)]
    dt = np.dtype(dtype) if dtype is not None else np.result_type(*kinds)
    steps = np.arange(num, dtype=dt) / max(num - 1, 1)
    shape = np.broadcast_shapes(np.shape(getattr(start, "data", start)), np.shape(getattr(stop, "data", stop)))
    k = steps.reshape((num,) + (1,) * len(shape))
    out = start + (stop - start) * k
    return cast(out, dtype=dt) if out.dtype != dt else out
