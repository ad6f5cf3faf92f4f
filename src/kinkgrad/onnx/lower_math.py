"""Lowerings of kinkgrad's elementwise ops, activations, comparisons, reductions and order statistics.

Kinked ops become the ONNX op the importer maps back onto the same kinkgrad op (relu -> Relu,
clip -> Clip, maximum -> Max, abs -> Abs), so a round trip keeps their kink declarations; where ONNX
has no such op (hardtanh, relu6) the nearest one with the same values is used (Clip), and its
convention applies after re-import.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .errors import OnnxUnsupportedError
from .lowering import common_dtype, lowers, out_dtype, param

# -- elementwise --------------------------------------------------------------------------------------
_SAME_NAME = {"add": "Add", "subtract": "Sub", "multiply": "Mul", "divide": "Div", "power": "Pow",
              "maximum": "Max", "minimum": "Min", "negative": "Neg", "exp": "Exp", "log": "Log", "sqrt": "Sqrt",
              "sin": "Sin", "cos": "Cos", "tan": "Tan", "tanh": "Tanh", "sigmoid": "Sigmoid", "erf": "Erf",
              "abs": "Abs", "relu": "Relu", "sign": "Sign", "floor": "Floor", "ceil": "Ceil", "round": "Round",
              "reciprocal": "Reciprocal", "copy": "Identity", "hardswish": "HardSwish", "prelu": "PRelu"}


def _same(op_type):
    def lower(b, rec):
        return b.node(op_type, [b.value(x, out_dtype(rec)) for x in rec.inputs])
    return lower


for _name, _op in _SAME_NAME.items():
    lowers(_name)(_same(_op))

_COMPARISONS = {"greater": "Greater", "greater_equal": "GreaterOrEqual", "less": "Less", "less_equal": "LessOrEqual",
                "equal": "Equal", "logical_and": "And", "logical_or": "Or"}


def _compare(op_type):
    def lower(b, rec):
        dtype = bool if op_type in ("And", "Or") else common_dtype(rec)
        return b.node(op_type, [b.value(x, dtype) for x in rec.inputs])
    return lower


for _name, _op in _COMPARISONS.items():
    lowers(_name)(_compare(_op))


@lowers("not_equal")
def _not_equal(b, rec):
    return b.node("Not", [_compare("Equal")(b, rec)])


@lowers("logical_not")
def _logical_not(b, rec):
    return b.node("Not", [b.value(rec.inputs[0], bool)])


@lowers("isnan", "isinf")
def _isnan(b, rec):
    return b.node("IsNaN" if rec.prim.name == "isnan" else "IsInf", [b.value(rec.inputs[0])])


@lowers("isfinite")
def _isfinite(b, rec):
    x = b.value(rec.inputs[0])
    return b.node("Not", [b.node("Or", [b.node("IsNaN", [x]), b.node("IsInf", [x])])])


@lowers("square")
def _square(b, rec):
    x = b.value(rec.inputs[0])
    return b.node("Mul", [x, x])


@lowers("expm1")
def _expm1(b, rec):
    return b.node("Sub", [b.node("Exp", [b.value(rec.inputs[0])]), b.const(np.ones((), out_dtype(rec)))])


@lowers("log1p")
def _log1p(b, rec):
    return b.node("Log", [b.node("Add", [b.value(rec.inputs[0]), b.const(np.ones((), out_dtype(rec)))])])


@lowers("trunc")
def _trunc(b, rec):
    x = b.value(rec.inputs[0])
    return b.node("Mul", [b.node("Sign", [x]), b.node("Floor", [b.node("Abs", [x])])])


@lowers("cast")
def _cast(b, rec):
    return b.node("Cast", [b.value(rec.inputs[0])], to=b.onnx_type(out_dtype(rec)))


@lowers("where")
def _where(b, rec):
    cond, x, y = rec.inputs
    return b.node("Where", [b.value(cond, bool), b.value(x, out_dtype(rec)), b.value(y, out_dtype(rec))])


@lowers("leaky_relu")
def _leaky_relu(b, rec):
    return b.node("LeakyRelu", [b.value(rec.inputs[0])], alpha=float(param(rec, "negative_slope", 1, 0.01)))


@lowers("hardsigmoid")
def _hardsigmoid(b, rec):
    return b.node("HardSigmoid", [b.value(rec.inputs[0])], alpha=1 / 6, beta=0.5)


@lowers("elu", "selu")
def _elu(b, rec):
    alpha, scale = float(rec.params.get("alpha", 1.0)), float(rec.params.get("scale", 1.0))
    x = b.value(rec.inputs[0])
    if rec.prim.name == "selu":
        return b.node("Selu", [x], alpha=alpha, gamma=scale)
    y = b.node("Elu", [x], alpha=alpha)
    return y if scale == 1.0 else b.node("Mul", [y, b.const(np.asarray(scale, out_dtype(rec)))])


@lowers("softplus")
def _softplus(b, rec):
    beta, threshold = rec.params.get("beta", 1.0), rec.params.get("threshold")
    x = b.value(rec.inputs[0])
    bx = x if beta == 1.0 else b.node("Mul", [x, b.const(np.asarray(beta, out_dtype(rec)))])
    y = b.node("Softplus", [bx])
    if beta != 1.0:
        y = b.node("Div", [y, b.const(np.asarray(beta, out_dtype(rec)))])
    if threshold is not None:
        y = b.node("Where", [b.node("Greater", [bx, b.const(np.asarray(threshold, out_dtype(rec)))]), x, y])
    return y


@lowers("clip")
def _clip(b, rec):
    """Clip for scalar bounds; per-element bounds as Max / Min (ONNX's Clip takes scalars only)."""
    x, lo, hi = rec.inputs
    dtype = out_dtype(rec)
    if all(v is None or np.size(v.data if isinstance(v, Tensor) else v) == 1 for v in (lo, hi)):
        bounds = ["" if v is None else b.value(v, dtype, scalar=True) for v in (lo, hi)]
        return b.node("Clip", [b.value(x, dtype)] + bounds)
    y = b.value(x, dtype)
    if lo is not None:
        y = b.node("Max", [y, b.value(lo, dtype)])
    if hi is not None:
        y = b.node("Min", [y, b.value(hi, dtype)])
    return y


@lowers("hardtanh", "relu6")
def _clamp(b, rec):
    dtype = out_dtype(rec)
    lo, hi = rec.params["lo"], rec.params["hi"]
    return b.node("Clip", [b.value(rec.inputs[0]), b.const(np.asarray(lo, dtype)), b.const(np.asarray(hi, dtype))])


@lowers("softshrink", "hardshrink")
def _shrink(b, rec):
    lambd = float(param(rec, "lambd", 1, 0.5))
    bias = lambd if rec.prim.name == "softshrink" else 0.0
    return b.node("Shrink", [b.value(rec.inputs[0])], bias=bias, lambd=lambd)


@lowers("threshold")
def _threshold(b, rec):
    x, dtype = b.value(rec.inputs[0]), out_dtype(rec)
    thr, value = param(rec, "threshold", 1), param(rec, "value", 2)
    if value == 0:
        return b.node("ThresholdedRelu", [x], alpha=float(thr))
    return b.node("Where", [b.node("Greater", [x, b.const(np.asarray(thr, dtype))]), x,
                            b.const(np.asarray(value, dtype))])


@lowers("heaviside")
def _heaviside(b, rec):
    x, dtype = b.value(rec.inputs[0]), out_dtype(rec)
    zero = b.const(np.zeros((), dtype))
    at0 = b.node("Where", [b.node("Less", [x, zero]), zero, b.const(np.asarray(param(rec, "value", 1, 0.5), dtype))])
    return b.node("Where", [b.node("Greater", [x, zero]), b.const(np.ones((), dtype)), at0])


@lowers("mod")
def _mod(b, rec):
    """x - floor(x / y) * y (the sign of y): ONNX's Mod with fmod=0 is for integers only."""
    dtype = out_dtype(rec)
    x, y = (b.value(v, dtype) for v in rec.inputs)
    if np.dtype(dtype).kind in "iu":
        return b.node("Mod", [x, y], fmod=0)
    return b.node("Sub", [x, b.node("Mul", [b.node("Floor", [b.node("Div", [x, y])]), y])])


@lowers("fmod")
def _fmod(b, rec):
    return b.node("Mod", [b.value(v, out_dtype(rec)) for v in rec.inputs], fmod=1)


# -- reductions -----------------------------------------------------------------------------------------
def _reduce(op_type):
    def lower(b, rec):
        return b.reduce(op_type, b.value(rec.inputs[0]), rec.params["axis"], rec.params["keepdims"])
    return lower


for _name, _op in {"sum": "ReduceSum", "max": "ReduceMax", "min": "ReduceMin", "max.indices": "ReduceMax",
                   "min.indices": "ReduceMin", "prod": "ReduceProd", "logsumexp": "ReduceLogSumExp",
                   "norm": "ReduceL2"}.items():
    lowers(_name)(_reduce(_op))


@lowers("softmax", "log_softmax")
def _softmax(b, rec):
    axis = rec.params["axis"]
    axis = axis[0] if isinstance(axis, tuple) else axis
    return b.node("Softmax" if rec.prim.name == "softmax" else "LogSoftmax", [b.value(rec.inputs[0])], axis=int(axis))


@lowers("argmax", "argmin")
def _argmax(b, rec):
    x, axis, keep = b.value(rec.inputs[0]), rec.params["axis"], bool(rec.params["keepdims"])
    op_type = "ArgMax" if rec.prim.name == "argmax" else "ArgMin"
    if axis is None:
        flat = b.node("Reshape", [x, b.const(np.array([-1], np.int64))])
        y = b.node(op_type, [flat], axis=0, keepdims=0)
        return b.node("Reshape", [y, b.const(np.array(rec.output.shape, np.int64))])
    return b.node(op_type, [x], axis=int(axis), keepdims=int(keep))


@lowers("cumsum")
def _cumsum(b, rec):
    return b.node("CumSum", [b.value(rec.inputs[0]), b.const(np.array(rec.params["axis"], np.int64))])


@lowers("sort", "topk")
def _order(b, rec):
    """Order statistics on rows (kinkgrad moves the axis last): TopK along the last axis, whose ties
    keep index order (the stable order kinkgrad's values use)."""
    kind = rec.params.get("kind")
    if kind not in ("sort", "topk"):
        raise OnnxUnsupportedError(f"kg.onnx.export: the order statistic {kind!r} has no ONNX lowering "
                                   "(sort and topk do)")
    x = b.value(rec.inputs[0])
    k = rec.output.shape[-1]
    largest = 1 if (kind == "topk" or rec.params.get("descending")) else 0
    return b.node("TopK", [x, b.const(np.array([k], np.int64))], outputs=2, axis=-1, largest=largest)[0]


@lowers("argsort")
def _argsort(b, rec):
    x = b.value(rec.inputs[0])
    axis = int(rec.params["axis"])
    k = rec.output.shape[axis]
    return b.node("TopK", [x, b.const(np.array([k], np.int64))], outputs=2, axis=axis, largest=0)[1]


@lowers("softmax_cross_entropy")
def _softmax_ce(b, rec):
    logits, labels = rec.inputs
    logp = b.node("LogSoftmax", [b.value(logits)], axis=-1)
    idx = b.node("Unsqueeze", [b.value(labels, np.int64), b.const(np.array([1], np.int64))])
    picked = b.node("GatherElements", [logp, idx], axis=1)
    return b.node("Neg", [b.node("Squeeze", [picked, b.const(np.array([1], np.int64))])])
