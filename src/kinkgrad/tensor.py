"""Tensor: an ndarray plus what autodiff needs (grad, requires_grad, the node that made it).

A Tensor is deliberately thin: arithmetic lives in ``kinkgrad.ops`` and the operators below are
bound there, so every operation, however it is spelled, goes through one primitive registry.
"""
from __future__ import annotations

import numpy as np

float16, float32, float64 = np.float16, np.float32, np.float64
int32, int64, bool_ = np.int32, np.int64, np.bool_


def _check_can_require_grad(dtype, what="tensor"):
    if np.dtype(dtype).kind != "f":
        raise TypeError(
            f"only floating-point tensors can require gradients, but this {what} has dtype "
            f"{np.dtype(dtype).name}; convert it first, e.g. kg.tensor(data, dtype='float32')"
        )


class Tensor:
    """An n-dimensional array that can record how it was computed.

    >>> x = tensor([1.0, -2.0], requires_grad=True)
    >>> (x * x).sum().backward(); x.grad
    tensor([ 2., -4.])
    """

    # _tangents: forward-mode tangents by level; _cut: the (op, site) pairs that cut this value off the graph,
    # for warnings; _dir: directional mode's (policy, [tangent along each probing direction])
    __slots__ = ("data", "grad", "requires_grad", "node", "_tangents", "_hooks", "_cut", "_dir", "__weakref__")
    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected operator

    def __init__(self, data, requires_grad=False, dtype=None):
        self.data = _to_array(data, dtype)
        self.grad = self.node = self._tangents = self._hooks = self._cut = self._dir = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # -- metadata ---------------------------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)
    is_leaf = property(lambda self: self.node is None)
    grad_fn = property(lambda self: self.node, doc="The node that made this tensor (None for a leaf), as in PyTorch.")

    def requires_grad_(self, flag=True):
        if flag:
            _check_can_require_grad(self.data.dtype)
        elif self.node is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor; use .detach() to cut it from the graph")
        self.requires_grad = bool(flag)
        return self

    # -- conversion ---------------------------------------------------------------------------
    def numpy(self):
        """The underlying ndarray (shared, not copied), like ``Tensor.numpy()`` in PyTorch."""
        return self.data

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and np.dtype(dtype) != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item(): only a one-element tensor converts to a Python scalar, got shape {self.shape}")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor with {self.data.size} elements is ambiguous; "
                             "use .any() or .all()")
        return bool(self.data)

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __hash__(self):
        return id(self)

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ""
        if self.data.dtype != np.float32 and self.data.dtype.kind == "f" or self.data.dtype.kind not in "fib":
            extra += f", dtype={self.data.dtype.name}"
        if self.node is not None:
            extra += f", grad_fn=<{self.node.prim.name}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # -- autodiff (``backward``, ``clone`` and in-place assignment are attached by the engine and
    # the ops, which build on this module) ----------------------------------------------------
    def detach(self):
        """The same data, cut from the graph (shares memory, like PyTorch)."""
        return Tensor._wrap(self.data)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a non-None return replaces it."""
        if not self.requires_grad:
            raise RuntimeError("register_hook on a tensor that does not require grad")
        owner = self.node if self.node is not None else self
        if owner._hooks is None:
            owner._hooks = []
        owner._hooks.append(hook)
        return _HookHandle(owner._hooks, hook)

    def zero_grad_(self):
        self.grad = None

    @staticmethod
    def _wrap(data, node=None):
        """Fast constructor for results of ops: no conversion, no checks."""
        t = object.__new__(Tensor)
        t.data = data
        t.node = node
        t.requires_grad = node is not None
        t.grad = t._tangents = t._hooks = t._cut = t._dir = None
        return t


class _HookHandle:
    __slots__ = ("_hooks", "_hook")

    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _to_array(data, dtype=None):
    """Convert user data: Python floats/lists become float32, NumPy arrays keep their dtype."""
    if isinstance(data, Tensor):
        data = data.data
    try:
        if dtype is not None:
            return np.array(data, dtype=np.dtype(dtype))
        arr = np.array(data)
    except ValueError as e:     # a ragged nested list, a string that is no number...
        raise ValueError(f"tensor: cannot make an array of this {type(data).__name__}: {e}") from None
    if arr.dtype == np.float64 and not isinstance(data, (np.ndarray, np.generic)):
        arr = arr.astype(np.float32)
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"kinkgrad tensors hold bool, integer or float data, not {arr.dtype.name} ({type(data).__name__})")
    return arr


def tensor(data, dtype=None, requires_grad=False):
    """Make a new tensor (copies ``data``). Python floats -> float32; NumPy arrays keep dtype."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def as_tensor(x):
    """Wrap without copying when possible; Tensors pass through unchanged."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        return Tensor._wrap(x)
    return Tensor(x)
