"""Every public operation, and the Tensor operators and methods bound to them.

This module is also the math namespace ``m`` that derivative rules use when they must build a
differentiable graph (``create_graph``, nested transforms); ``ops.raw`` is its NumPy twin.
"""
from __future__ import annotations

import sys

import numpy as np

from ..autodiff.primitive import Rules
from ..autodiff.primitive import apply as _apply
from ..creation import ones_like, zeros_like
from ..tensor import Tensor
from . import raw
from .activations import celu, elu, gelu, mish, prelu, selu, silu, softsign, swish
from .conv import col2im_rows, conv2d, im2col
from .conv_transpose import conv_transpose2d
from .elementwise import (
    add,
    cast,
    copy,
    cos,
    divide,
    equal,
    erf,
    exp,
    expm1,
    greater,
    greater_equal,
    isfinite,
    isinf,
    isnan,
    less,
    less_equal,
    log,
    log1p,
    logical_and,
    logical_not,
    logical_or,
    multiply,
    negative,
    not_equal,
    power,
    reciprocal,
    sigmoid,
    sin,
    softplus,
    sqrt,
    square,
    subtract,
    tan,
    tanh,
)
from .index import (
    argsort,
    gather,
    getitem,
    put_along_axis_add,
    scatter_add,
    split,
    take,
    take_along_axis,
    where,
)
from .inplace import METHODS as _INPLACE
from .linalg import affine, dot, einsum, matmul, outer
from .nonsmooth import (
    abs,
    ceil,
    clip,
    floor,
    fmod,
    hardshrink,
    hardsigmoid,
    hardswish,
    hardtanh,
    heaviside,
    leaky_relu,
    maximum,
    minimum,
    mod,
    relu,
    relu6,
    remainder,
    round,
    sign,
    softshrink,
    threshold,
    trunc,
)
from .norms import norm, std
from .order import cummax, cummin, median, quantile, select_apply, select_transpose, sort, topk
from .pool import avg_pool2d, col2im, max_pool2d, windows2d
from .reduce import (
    amax,
    amin,
    argmax,
    argmin,
    cumsum,
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    prod,
    softmax,
    softmax_cross_entropy,
    sum,
    var,
)
from .shape import (
    broadcast_to,
    cat,
    concatenate,
    expand_dims,
    flatten,
    flip,
    from_sequence,
    pad,
    permute,
    ravel,
    repeat,
    reshape,
    squeeze,
    stack,
    sum_to,
    swapaxes,
    tile,
    transpose,
)

__all__ = [
    # arithmetic and smooth elementwise
    "add", "subtract", "multiply", "divide", "negative", "power", "pow", "reciprocal", "square", "exp",
    "expm1", "log", "log1p", "sqrt", "sin", "cos", "tan", "tanh", "sigmoid", "softplus", "erf", "cast", "copy",
    "mul", "div", "sub", "neg", "true_divide",
    # comparisons and logic (not differentiable)
    "greater", "greater_equal", "less", "less_equal", "equal", "not_equal", "logical_and", "logical_or",
    "logical_not", "isnan", "isfinite", "isinf",
    # nonsmooth
    "abs", "absolute", "relu", "leaky_relu", "sign", "floor", "ceil", "trunc", "round", "maximum", "minimum",
    "clip", "clamp", "heaviside", "mod", "remainder", "fmod", "hardswish", "hardsigmoid", "softshrink",
    "hardshrink", "threshold", "median", "quantile", "cummax", "cummin", "max_pool2d", "avg_pool2d", "conv2d",
    "conv_transpose2d",
    "select_apply", "select_transpose", "windows2d", "col2im", "im2col", "col2im_rows",
    # activations
    "silu", "swish", "gelu", "mish", "softsign", "elu", "selu", "celu", "relu6", "hardtanh", "prelu",
    # reductions and normalisers
    "sum", "mean", "prod", "var", "std", "max", "min", "amax", "amin", "argmax", "argmin", "logsumexp",
    "softmax", "log_softmax", "cumsum", "softmax_cross_entropy",
    # shapes
    "reshape", "transpose", "permute", "swapaxes", "expand_dims", "squeeze", "ravel", "flatten",
    "broadcast_to", "sum_to", "concatenate", "cat", "stack", "split", "pad", "flip", "repeat", "tile",
    # indexing and selection
    "getitem", "scatter_add", "take", "gather", "take_along_axis", "put_along_axis_add", "where",
    "argsort", "sort", "topk",
    # linear algebra
    "matmul", "affine", "dot", "outer", "einsum", "norm",
    # misc
    "conj", "stop_gradient", "zeros_like", "ones_like",
]

pow = power
clamp = clip
absolute = abs
mul, div, sub, neg = multiply, divide, subtract, negative
true_divide = divide


def conj(x):
    return x   # real tensors only


def stop_gradient(x):
    """The value of ``x`` with no gradient flowing back (JAX's name for ``detach``)."""
    return x.detach() if isinstance(x, Tensor) else x


# -- Tensor operators and methods -------------------------------------------------------------
_NO_PARAMS = {}


def _rev(op):
    if getattr(op, "plain", False):
        return lambda self, other, _p=op.primitive: _apply(_p, (other, self), _NO_PARAMS)
    return lambda self, other: op(other, self)


def _astype(self, dtype):
    dtype = np.dtype(dtype)
    return self if self.dtype == dtype else cast(self, dtype=dtype)


def _reduce_method(fn):
    def method(self, axis=None, keepdims=False, **kw):
        axis = kw.pop("dim", axis)
        keepdims = kw.pop("keepdim", keepdims)
        if kw:
            raise TypeError(f"{fn.__name__}() got unexpected keyword arguments {sorted(kw)}")
        return fn(self, axis=axis, keepdims=keepdims)
    method.__name__ = fn.__name__
    method.__doc__ = fn.__doc__
    return method


_METHODS = {
    "__add__": add, "__radd__": _rev(add), "__sub__": subtract, "__rsub__": _rev(subtract),
    "__mul__": multiply, "__rmul__": _rev(multiply), "__truediv__": divide, "__rtruediv__": _rev(divide),
    "__pow__": power, "__rpow__": _rev(power), "__matmul__": matmul, "__rmatmul__": _rev(matmul),
    "__mod__": mod, "__rmod__": _rev(mod), "__neg__": negative, "__pos__": lambda self: self, "__abs__": abs,
    "__getitem__": getitem,
    "__gt__": greater, "__ge__": greater_equal, "__lt__": less, "__le__": less_equal,
    "__eq__": equal, "__ne__": not_equal,
    "__and__": logical_and, "__rand__": _rev(logical_and), "__or__": logical_or, "__ror__": _rev(logical_or),
    "__invert__": logical_not,
    "sum": _reduce_method(sum), "mean": _reduce_method(mean), "prod": _reduce_method(prod),
    "max": _reduce_method(max), "min": _reduce_method(min), "amax": _reduce_method(max),
    "amin": _reduce_method(min), "logsumexp": _reduce_method(logsumexp),
    "var": lambda self, axis=None, keepdims=False, ddof=0: var(self, axis, keepdims, ddof),
    "std": lambda self, axis=None, keepdims=False, ddof=0: std(self, axis, keepdims, ddof),
    "argmax": argmax, "argmin": argmin, "argsort": argsort, "sort": sort, "cumsum": cumsum,
    "softmax": softmax, "log_softmax": log_softmax,
    "reshape": reshape, "view": reshape, "transpose": lambda self, *axes: transpose(self, axes or None)
    if not (len(axes) == 1 and isinstance(axes[0], (tuple, list))) else transpose(self, axes[0]),
    "permute": permute, "swapaxes": swapaxes, "squeeze": squeeze, "unsqueeze": expand_dims,
    "expand_dims": expand_dims, "flatten": flatten, "ravel": ravel, "flip": flip, "repeat": repeat,
    "tile": tile, "broadcast_to": broadcast_to, "expand": lambda self, *shape: broadcast_to(
        self, shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape),
    "take": take, "exp": exp, "log": log, "sqrt": sqrt, "abs": abs, "relu": relu, "sigmoid": sigmoid,
    "tanh": tanh, "sin": sin, "cos": cos, "square": square, "sign": sign, "floor": floor, "ceil": ceil,
    "round": round, "clip": clip, "clamp": lambda self, min=None, max=None: clip(self, min, max),
    "pow": power, "maximum": maximum, "minimum": minimum, "matmul": matmul, "dot": dot,
    "astype": _astype, "clone": copy, "float": lambda self: _astype(self, np.float32),
    "double": lambda self: _astype(self, np.float64), "half": lambda self: _astype(self, np.float16),
    "norm": norm,
    "any": lambda self, axis=None: Tensor._wrap(np.asarray(self.data.any(axis=axis))),
    "all": lambda self, axis=None: Tensor._wrap(np.asarray(self.data.all(axis=axis))),
}
def _method(fn):
    """Operators and methods of ops without parameters take a direct path to ``apply`` (one call less)."""
    if getattr(fn, "plain", False):
        return lambda self, *args, _p=fn.primitive: _apply(_p, (self,) + args, _NO_PARAMS)
    return fn


for _name, _fn in {**_METHODS, **_INPLACE}.items():
    setattr(Tensor, _name, _method(_fn))
Tensor.T = property(lambda self: transpose(self))
Tensor.mT = property(lambda self: swapaxes(self, -1, -2))
Tensor.__hash__ = lambda self: id(self)
Rules.graph = sys.modules[__name__]      # derivative rules that must differentiate again run on these ops
Rules.numpy = raw                        # and the fast ones on NumPy
