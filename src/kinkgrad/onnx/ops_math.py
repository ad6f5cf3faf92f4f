"""ONNX elementwise math, activations, comparisons, reductions and matrix products as kinkgrad ops.

Each activation maps onto the kinkgrad op that declares the same kink (Relu -> ``ops.relu``, Clip ->
``ops.clip``, Max -> ``ops.maximum``...), so presets, the audit and directional mode see the model's
kinks exactly as they see a kinkgrad model's. Formulas follow the ONNX operator specification
(onnx.ai/onnx/operators).
"""
from __future__ import annotations

import functools
import math

import numpy as np

from .. import ops
from ..creation import zeros
from ..ops.factories import tensor
from .optable import DTYPES, attr_choice, op, static, static_ints


def _is_int(x):
    return x.dtype.kind in "iub"


def _const(value):
    return tensor(np.asarray(value))


# -- arithmetic -------------------------------------------------------------------------------------
@op("Add")
def add(n, a, b):
    return ops.add(a, b)


@op("Sub")
def sub(n, a, b):
    return ops.subtract(a, b)


@op("Mul")
def mul(n, a, b):
    return ops.multiply(a, b)


@op("Div")
def div(n, a, b):
    """Integer division truncates toward zero (ONNX, as C); floats divide."""
    if _is_int(a) and _is_int(b):
        dtype = np.result_type(a.dtype, b.dtype)
        return ops.trunc(ops.divide(a.astype(np.float64), b.astype(np.float64))).astype(dtype)   # exact below 2**53
    return ops.divide(a, b)


@op("Mod", attrs={"fmod": 0})
def mod(n, a, b):
    """fmod=0: the sign of the divisor (Python's %); fmod=1: the sign of the dividend (C's fmod)."""
    if n.attrs["fmod"] == 0 and a.dtype.kind == "f":
        raise n.unsupported("fmod=0 on floating-point inputs (the specification requires fmod=1)", "fmod=1")
    return ops.fmod(a, b) if n.attrs["fmod"] else ops.mod(a, b)


@op("Pow")
def pow_(n, x, p):
    """x ** p; an integer exponent is converted to x's type, a constant one kept as a number."""
    if not p.requires_grad and p.ndim == 0:
        value = static(p).item()
        return ops.power(x, int(value) if p.dtype.kind in "iu" else float(value))
    if p.dtype != x.dtype:
        p = p.astype(x.dtype)
    return ops.power(x, p)


@op("Neg")
def neg(n, x):
    return ops.negative(x)


@op("Reciprocal")
def reciprocal(n, x):
    return ops.reciprocal(x)


def _unary(op_type, fn):
    op(op_type)(lambda n, x: fn(x))


for _name, _fn in {"Abs": ops.abs, "Sqrt": ops.sqrt, "Exp": ops.exp, "Log": ops.log, "Sin": ops.sin, "Cos": ops.cos,
                   "Tan": ops.tan, "Tanh": ops.tanh, "Sigmoid": ops.sigmoid, "Erf": ops.erf, "Sign": ops.sign,
                   "Floor": ops.floor, "Ceil": ops.ceil, "Round": ops.round, "Relu": ops.relu, "Softplus": ops.softplus,
                   "Softsign": ops.softsign, "Mish": ops.mish, "HardSwish": ops.hardswish,
                   "Identity": lambda x: x, "IsNaN": ops.isnan, "Not": ops.logical_not}.items():
    _unary(_name, _fn)


# -- activations with parameters --------------------------------------------------------------------
@op("LeakyRelu", attrs={"alpha": 0.01})
def leaky_relu(n, x):
    return ops.leaky_relu(x, negative_slope=n.attrs["alpha"])


@op("PRelu")
def prelu(n, x, slope):
    """The slope broadcasts against x (ONNX's unidirectional broadcast)."""
    if np.broadcast_shapes(x.shape, slope.shape) != x.shape:
        raise n.error(f"slope of shape {slope.shape} does not broadcast to the input's {x.shape}")
    return ops.prelu(x, slope)


@op("Elu", attrs={"alpha": 1.0})
def elu(n, x):
    return ops.elu(x, n.attrs["alpha"])


_SELU = (1.6732632423543772, 1.0507009873554805)


@op("Selu", attrs={"alpha": _SELU[0], "gamma": _SELU[1]})
def selu(n, x):
    """ops.selu for the standard constants (stored as float32 attributes), else gamma * elu(x, alpha)."""
    alpha, gamma = n.attrs["alpha"], n.attrs["gamma"]
    if np.float32(alpha) == np.float32(_SELU[0]) and np.float32(gamma) == np.float32(_SELU[1]):
        return ops.selu(x)
    return gamma * ops.elu(x, alpha)


@op("Celu", attrs={"alpha": 1.0})
def celu(n, x):
    return ops.celu(x, n.attrs["alpha"])


@op("HardSigmoid", attrs={"alpha": 0.2, "beta": 0.5})
def hard_sigmoid(n, x):
    """ops.hardsigmoid for PyTorch's constants (alpha = 1/6, beta = 1/2), else clip(alpha x + beta, 0, 1)
    (the kinks are then clip's)."""
    alpha, beta = n.attrs["alpha"], n.attrs["beta"]
    if np.float32(alpha) == np.float32(1 / 6) and beta == 0.5:
        return ops.hardsigmoid(x)
    return ops.clip(x * alpha + beta, 0.0, 1.0)


@op("Gelu", attrs={"approximate": "none"}, check=attr_choice("approximate", ("none", "tanh")))
def gelu(n, x):
    return ops.gelu(x, approximate=n.attrs["approximate"])


@op("ThresholdedRelu", attrs={"alpha": 1.0})
def thresholded_relu(n, x):
    return ops.threshold(x, threshold=n.attrs["alpha"], value=0.0)


def _check_shrink(n):
    if n.attrs["bias"] not in (0.0, n.attrs["lambd"]):
        raise n.unsupported(f"bias={n.attrs['bias']} with lambd={n.attrs['lambd']}",
                            "bias=0 (hardshrink) or bias=lambd (softshrink)")


@op("Shrink", attrs={"bias": 0.0, "lambd": 0.5}, check=_check_shrink)
def shrink(n, x):
    lambd = n.attrs["lambd"]
    return ops.softshrink(x, lambd=lambd) if n.attrs["bias"] == lambd and lambd else ops.hardshrink(x, lambd=lambd)


# torch's dynamo exporter records the ATen op behind each node: hardtanh and relu6 are exported as Clip,
# but PyTorch differentiates them differently from clamp at the bounds (0 there, not 1)
_CLAMP_SOURCES = ("aten.hardtanh", "aten.relu6")


@op("Clip")
def clip(n, x, lo=None, hi=None):
    """ops.clip (or ops.hardtanh / ops.relu6 where the node's metadata says PyTorch computed one of those:
    same values, their own convention at the bounds)."""
    bounds = [b if b is None or b.requires_grad or b.ndim else static(b).item() for b in (lo, hi)]
    if bounds == [None, None]:
        return x
    source = n.metadata.get("source_op", "")
    if source.startswith(_CLAMP_SOURCES) and all(isinstance(b, float) for b in bounds):
        if source.startswith("aten.relu6") and bounds == [0.0, 6.0]:
            return ops.relu6(x)
        return ops.hardtanh(x, *bounds)
    return ops.clip(x, *bounds)


def _fold(fn, xs):
    return functools.reduce(fn, xs)


@op("Max")
def max_(n, *xs):
    """Elementwise maximum of any number of inputs (ties follow the maximum rule, pairwise)."""
    return _fold(ops.maximum, xs)


@op("Min")
def min_(n, *xs):
    return _fold(ops.minimum, xs)


@op("Sum")
def sum_(n, *xs):
    return _fold(ops.add, xs)


@op("Mean")
def mean_(n, *xs):
    return _fold(ops.add, xs) / len(xs)


@op("Where")
def where(n, cond, x, y):
    return ops.where(cond, x, y)


# -- comparisons and logic (no derivative: they cut the gradient, loudly) --------------------------
for _name, _fn in {"Equal": ops.equal, "Greater": ops.greater, "Less": ops.less, "GreaterOrEqual": ops.greater_equal,
                   "LessOrEqual": ops.less_equal, "And": ops.logical_and, "Or": ops.logical_or,
                   "Xor": ops.not_equal}.items():
    op(_name)(lambda n, a, b, _fn=_fn: _fn(a, b))


@op("IsInf", attrs={"detect_negative": 1, "detect_positive": 1})
def isinf(n, x):
    neg, pos = n.attrs["detect_negative"], n.attrs["detect_positive"]
    if neg and pos:
        return ops.isinf(x)
    if not (neg or pos):
        return zeros(x.shape, dtype=bool)
    return ops.equal(x, np.inf if pos else -np.inf)


def _check_cast(n):
    if n.attrs["to"] not in DTYPES:
        raise n.unsupported(f"cast to ONNX type {n.attrs['to']}", "bool, integer and float16/32/64 types")


@op("Cast", attrs={"to": None, "saturate": 1, "round_mode": "up"}, check=_check_cast)
def cast(n, x):
    return x.astype(DTYPES[n.attrs["to"]])


@op("CastLike", attrs={"saturate": 1, "round_mode": "up"})
def cast_like(n, x, like):
    return x.astype(like.dtype)


# -- matrix products --------------------------------------------------------------------------------
@op("MatMul")
def matmul(n, a, b):
    return ops.matmul(a, b)


@op("Gemm", attrs={"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 0})
def gemm(n, a, b, c=None):
    """alpha * A' B' + beta * C, as one affine node when alpha = beta = 1 (Linear layers)."""
    at = n.attrs
    if at["transA"]:
        a = ops.transpose(a)
    if at["transB"]:
        b = ops.transpose(b)
    if c is not None and at["alpha"] == 1.0 and at["beta"] == 1.0 and c.ndim == 1:
        return ops.affine(a, b, c)
    y = ops.matmul(a, b)
    if at["alpha"] != 1.0:
        y = y * at["alpha"]
    if c is not None:
        y = y + (c if at["beta"] == 1.0 else c * at["beta"])
    return y


@op("Einsum", attrs={"equation": None})
def einsum(n, *xs):
    return ops.einsum(n.attrs["equation"], *xs)


# -- reductions -------------------------------------------------------------------------------------
def _reduce(fn):
    """A Reduce* handler: axes from the attribute (older opsets) or the second input (newer ones)."""
    def handler(n, x, axes=None):
        axes = static_ints(axes) if axes is not None else n.attrs.get("axes")
        keep = bool(n.attrs["keepdims"])
        if not axes:
            if n.attrs["noop_with_empty_axes"]:
                return x
            axes = None
        return fn(x, tuple(axes) if axes is not None else None, keep)
    handler.__doc__ = fn.__doc__
    return handler


_REDUCE_ATTRS = {"axes": None, "keepdims": 1, "noop_with_empty_axes": 0}
_REDUCTIONS = {
    "ReduceSum": lambda x, axes, keep: ops.sum(x, axes, keep),
    "ReduceMean": lambda x, axes, keep: ops.mean(x, axes, keep),
    "ReduceMax": lambda x, axes, keep: ops.max(x, axes, keep),
    "ReduceMin": lambda x, axes, keep: ops.min(x, axes, keep),
    "ReduceProd": lambda x, axes, keep: ops.prod(x, axes, keep),
    "ReduceL1": lambda x, axes, keep: ops.sum(ops.abs(x), axes, keep),
    "ReduceL2": lambda x, axes, keep: ops.norm(x, None, axes, keep),
    "ReduceSumSquare": lambda x, axes, keep: ops.sum(x * x, axes, keep),
    "ReduceLogSumExp": lambda x, axes, keep: ops.logsumexp(x, axes, keep),
}
for _name, _fn in _REDUCTIONS.items():
    op(_name, attrs=_REDUCE_ATTRS)(_reduce(_fn))


def _arg(fn):
    def handler(n, x):
        axis, keep = n.attrs["axis"], bool(n.attrs["keepdims"])
        if n.attrs["select_last_index"]:
            # the last extreme is the first one of the reversed axis
            return (x.shape[axis] - 1) - fn(ops.flip(x, axis), axis=axis, keepdims=keep)
        return fn(x, axis=axis, keepdims=keep)
    return handler


_ARG_ATTRS = {"axis": 0, "keepdims": 1, "select_last_index": 0}
op("ArgMax", attrs=_ARG_ATTRS)(_arg(ops.argmax))
op("ArgMin", attrs=_ARG_ATTRS)(_arg(ops.argmin))


@op("Softmax", attrs={"axis": -1})
def softmax(n, x):
    return ops.softmax(x, n.attrs["axis"])


@op("LogSoftmax", attrs={"axis": -1})
def log_softmax(n, x):
    return ops.log_softmax(x, n.attrs["axis"])


@op("TopK", attrs={"axis": -1, "largest": 1, "sorted": 1})
def topk(n, x, k):
    """Values through ops.topk (ties follow the topk rule); indices from a stable argsort, so equal values
    keep index order, as ONNX says."""
    count, axis, largest = int(static(k).reshape(-1)[0]), n.attrs["axis"], bool(n.attrs["largest"])
    values, _ = ops.topk(x, count, axis, largest)
    order = ops.argsort(x, axis=axis, descending=largest)
    index = [slice(None)] * x.ndim
    index[axis] = slice(0, count)
    return values, ops.getitem(order, tuple(index)).astype(np.int64)


@op("CumSum", attrs={"exclusive": 0, "reverse": 0})
def cumsum(n, x, axis):
    ax = int(static(axis).reshape(-1)[0])
    y = ops.flip(x, ax) if n.attrs["reverse"] else x
    out = ops.cumsum(y, ax)
    if n.attrs["exclusive"]:
        out = out - y
    return ops.flip(out, ax) if n.attrs["reverse"] else out


@op("Range")
def range_(n, start, limit, delta):
    """start + delta * [0, 1, ...): differentiable in start and delta when they are floats."""
    s, lim, d = (static(v).item() for v in (start, limit, delta))
    count = max(int(math.ceil((lim - s) / d)), 0)
    if start.dtype.kind != "f":
        return _const(np.arange(count, dtype=start.dtype) * d + s)
    steps = tensor(np.arange(count, dtype=start.dtype))
    return start + delta * steps


@op("Dropout", attrs={"seed": None})
def dropout(n, x, ratio=None, training_mode=None):
    """Identity at inference (the default); with training_mode true, a seeded random mask scaled by
    1 / (1 - ratio)."""
    training = training_mode is not None and bool(static(training_mode).item())
    rate = float(static(ratio).item()) if ratio is not None else 0.5
    if not training or rate == 0.0:
        return x, tensor(np.ones(x.shape, dtype=bool))
    rng = np.random.default_rng(n.attrs["seed"])
    keep = rng.random(x.shape) >= rate
    scale = 1.0 / (1.0 - ratio) if ratio is not None and ratio.requires_grad else np.asarray(1 / (1 - rate), x.dtype)
    return x * keep.astype(x.dtype) * scale, tensor(keep)
