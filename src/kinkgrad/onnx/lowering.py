"""The exporter's table: each kinkgrad primitive written as ONNX nodes.

A lowering receives the builder ``b`` and one recorded application ``rec`` (primitive, inputs,
parameters, output) and returns the ONNX name of the output. Kinked ops become the ONNX op that the
importer maps back onto the same kinkgrad op (relu -> Relu -> relu, max_pool2d -> MaxPool ->
max_pool2d, clip -> Clip -> clip), so a round trip keeps the kink declarations; where ONNX has no
such op (hardtanh, relu6) the nearest one with the same values is used (Clip) and its convention
applies after re-import. Primitives without a lowering raise ``OnnxUnsupportedError`` naming them.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .errors import OnnxUnsupportedError

LOWER = {}
_INT64_MIN = np.iinfo(np.int64).min


def lowers(*names):
    def register(fn):
        for name in names:
            LOWER[name] = fn
        return fn
    return register


def _dtype(rec):
    return rec.output.dtype


def _param(rec, name, index, default=None):
    """A primitive's parameter, given as a keyword (a parameter) or positionally (an extra input)."""
    if name in rec.params:
        return rec.params[name]
    if len(rec.inputs) > index:
        v = rec.inputs[index]
        return np.asarray(v.data if isinstance(v, Tensor) else v).item()
    return default


# -- elementwise --------------------------------------------------------------------------------------
_SAME_NAME = {"add": "Add", "subtract": "Sub", "multiply": "Mul", "divide": "Div", "power": "Pow",
              "maximum": "Max", "minimum": "Min", "negative": "Neg", "exp": "Exp", "log": "Log", "sqrt": "Sqrt",
              "sin": "Sin", "cos": "Cos", "tan": "Tan", "tanh": "Tanh", "sigmoid": "Sigmoid", "erf": "Erf",
              "abs": "Abs", "relu": "Relu", "sign": "Sign", "floor": "Floor", "ceil": "Ceil", "round": "Round",
              "reciprocal": "Reciprocal", "copy": "Identity", "hardswish": "HardSwish", "prelu": "PRelu"}


def _same(op_type):
    def lower(b, rec):
        return b.node(op_type, [b.value(x, _dtype(rec)) for x in rec.inputs])
    return lower


for _name, _op in _SAME_NAME.items():
    lowers(_name)(_same(_op))

_COMPARISONS = {"greater": "Greater", "greater_equal": "GreaterOrEqual", "less": "Less", "less_equal": "LessOrEqual",
                "equal": "Equal", "logical_and": "And", "logical_or": "Or"}


def _common_dtype(rec):
    """The dtype both sides of a comparison are cast to (Python numbers adapt, as in NumPy)."""
    dtypes = [x.dtype for x in rec.inputs if isinstance(x, (Tensor, np.ndarray))]
    return np.result_type(*dtypes) if dtypes else np.dtype(np.float32)


def _compare(op_type):
    def lower(b, rec):
        dtype = bool if op_type in ("And", "Or") else _common_dtype(rec)
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
    return b.node("Sub", [b.node("Exp", [b.value(rec.inputs[0])]), b.const(np.ones((), _dtype(rec)))])


@lowers("log1p")
def _log1p(b, rec):
    return b.node("Log", [b.node("Add", [b.value(rec.inputs[0]), b.const(np.ones((), _dtype(rec)))])])


@lowers("trunc")
def _trunc(b, rec):
    x = b.value(rec.inputs[0])
    return b.node("Mul", [b.node("Sign", [x]), b.node("Floor", [b.node("Abs", [x])])])


@lowers("cast")
def _cast(b, rec):
    return b.node("Cast", [b.value(rec.inputs[0])], to=b.onnx_type(_dtype(rec)))


@lowers("where")
def _where(b, rec):
    cond, x, y = rec.inputs
    return b.node("Where", [b.value(cond, bool), b.value(x, _dtype(rec)), b.value(y, _dtype(rec))])


@lowers("leaky_relu")
def _leaky_relu(b, rec):
    return b.node("LeakyRelu", [b.value(rec.inputs[0])], alpha=float(_param(rec, "negative_slope", 1, 0.01)))


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
    return y if scale == 1.0 else b.node("Mul", [y, b.const(np.asarray(scale, _dtype(rec)))])


@lowers("softplus")
def _softplus(b, rec):
    beta, threshold = rec.params.get("beta", 1.0), rec.params.get("threshold")
    x = b.value(rec.inputs[0])
    bx = x if beta == 1.0 else b.node("Mul", [x, b.const(np.asarray(beta, _dtype(rec)))])
    y = b.node("Softplus", [bx])
    if beta != 1.0:
        y = b.node("Div", [y, b.const(np.asarray(beta, _dtype(rec)))])
    if threshold is not None:
        y = b.node("Where", [b.node("Greater", [bx, b.const(np.asarray(threshold, _dtype(rec)))]), x, y])
    return y


@lowers("clip")
def _clip(b, rec):
    """Clip for scalar bounds; per-element bounds as Max / Min (ONNX's Clip takes scalars only)."""
    x, lo, hi = rec.inputs
    dtype = _dtype(rec)
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
    dtype = _dtype(rec)
    lo, hi = rec.params["lo"], rec.params["hi"]
    return b.node("Clip", [b.value(rec.inputs[0]), b.const(np.asarray(lo, dtype)), b.const(np.asarray(hi, dtype))])


@lowers("softshrink", "hardshrink")
def _shrink(b, rec):
    lambd = float(_param(rec, "lambd", 1, 0.5))
    bias = lambd if rec.prim.name == "softshrink" else 0.0
    return b.node("Shrink", [b.value(rec.inputs[0])], bias=bias, lambd=lambd)


@lowers("threshold")
def _threshold(b, rec):
    x, dtype = b.value(rec.inputs[0]), _dtype(rec)
    thr, value = _param(rec, "threshold", 1), _param(rec, "value", 2)
    if value == 0:
        return b.node("ThresholdedRelu", [x], alpha=float(thr))
    return b.node("Where", [b.node("Greater", [x, b.const(np.asarray(thr, dtype))]), x,
                            b.const(np.asarray(value, dtype))])


@lowers("heaviside")
def _heaviside(b, rec):
    x, dtype = b.value(rec.inputs[0]), _dtype(rec)
    zero = b.const(np.zeros((), dtype))
    at0 = b.node("Where", [b.node("Less", [x, zero]), zero, b.const(np.asarray(_param(rec, "value", 1, 0.5), dtype))])
    return b.node("Where", [b.node("Greater", [x, zero]), b.const(np.ones((), dtype)), at0])


@lowers("mod")
def _mod(b, rec):
    """x - floor(x / y) * y (the sign of y): ONNX's Mod with fmod=0 is for integers only."""
    dtype = _dtype(rec)
    x, y = (b.value(v, dtype) for v in rec.inputs)
    if np.dtype(dtype).kind in "iu":
        return b.node("Mod", [x, y], fmod=0)
    return b.node("Sub", [x, b.node("Mul", [b.node("Floor", [b.node("Div", [x, y])]), y])])


@lowers("fmod")
def _fmod(b, rec):
    return b.node("Mod", [b.value(v, _dtype(rec)) for v in rec.inputs], fmod=1)


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
    idx = b.const(np.asarray(labels.data if isinstance(labels, Tensor) else labels, np.int64).reshape(-1, 1))
    picked = b.node("GatherElements", [logp, idx], axis=1)
    return b.node("Neg", [b.node("Squeeze", [picked, b.const(np.array([1], np.int64))])])


# -- matrix products and convolution ------------------------------------------------------------------------
@lowers("matmul")
def _matmul(b, rec):
    return b.node("MatMul", [b.value(x, _dtype(rec)) for x in rec.inputs])


@lowers("affine")
def _affine(b, rec):
    """Gemm for 2-D inputs (a dense layer), MatMul + Add otherwise."""
    x, w, bias = rec.inputs
    dtype = _dtype(rec)
    xn, wn = b.value(x, dtype), b.value(w, dtype)
    if len(x.shape) == 2 and np.ndim(bias.data if isinstance(bias, Tensor) else bias) <= 1:
        return b.node("Gemm", [xn, wn, b.value(bias, dtype)])
    return b.node("Add", [b.node("MatMul", [xn, wn]), b.value(bias, dtype)])


@lowers("einsum")
def _einsum(b, rec):
    return b.node("Einsum", [b.value(x, _dtype(rec)) for x in rec.inputs], equation=rec.params["spec"])


@lowers("conv2d")
def _conv2d(b, rec):
    x, w, bias = rec.inputs
    k, s, d, p = (rec.params[key] for key in "ksdp")
    ins = [b.value(x), b.value(w)] + ([b.value(bias, _dtype(rec))] if bias is not None else [])
    return b.node("Conv", ins, kernel_shape=list(k), strides=list(s), dilations=list(d),
                  pads=[p[0], p[1], p[0], p[1]], group=1)


@lowers("col2im_rows")
def _col2im_rows(b, rec):
    """The transpose of im2col (a transposed convolution's last step): ConvTranspose of the rows, laid out
    as (N, kh*kw*C, OH, OW), with a one-hot weight that puts each (tap, channel) back in place."""
    g, shape, k, s = rec.inputs[:4]
    d = rec.inputs[4] if len(rec.inputs) > 4 else rec.params.get("d", (1, 1))
    p = rec.inputs[5] if len(rec.inputs) > 5 else rec.params.get("p", (0, 0))
    n, c = shape[:2]
    oh, ow = (((shape[2 + i] + 2 * p[i] - (k[i] - 1) * d[i] - 1) // s[i]) + 1 for i in range(2))
    dtype = _dtype(rec)
    taps = k[0] * k[1] * c
    rows = b.node("Reshape", [b.value(g), b.const(np.array([n, oh, ow, taps], np.int64))])
    image = b.node("Transpose", [rows], perm=[0, 3, 1, 2])
    weight = np.zeros((taps, c, k[0], k[1]), dtype)
    for i in range(k[0]):
        for j in range(k[1]):
            for ch in range(c):
                weight[(i * k[1] + j) * c + ch, ch, i, j] = 1
    extra = [shape[2 + i] + 2 * p[i] - ((oh, ow)[i] - 1) * s[i] - (k[i] - 1) * d[i] - 1 for i in range(2)]
    return b.node("ConvTranspose", [image, b.const(weight)], kernel_shape=list(k), strides=list(s),
                  dilations=list(d), pads=[p[0], p[1], p[0], p[1]], output_padding=extra)


# -- shapes ---------------------------------------------------------------------------------------------
@lowers("reshape")
def _reshape(b, rec):
    return b.node("Reshape", [b.value(rec.inputs[0]), b.const(np.array(rec.output.shape, np.int64))])


@lowers("transpose")
def _transpose(b, rec):
    return b.node("Transpose", [b.value(rec.inputs[0])], perm=[int(a) for a in rec.params["axes"]])


@lowers("broadcast_to")
def _broadcast_to(b, rec):
    return b.node("Expand", [b.value(rec.inputs[0]), b.const(np.array(rec.output.shape, np.int64))])


@lowers("sum_to")
def _sum_to(b, rec):
    x = rec.inputs[0]
    shape, target = tuple(x.shape), tuple(rec.output.shape)
    lead = len(shape) - len(target)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(target) if n == 1 and shape[lead + i] != 1)
    y = b.reduce("ReduceSum", b.value(x), axes, True)
    return b.node("Reshape", [y, b.const(np.array(target, np.int64))])


@lowers("concatenate")
def _concatenate(b, rec):
    return b.node("Concat", [b.value(x, _dtype(rec)) for x in rec.inputs], axis=int(rec.params["axis"]))


@lowers("pad")
def _pad(b, rec):
    widths = rec.params["pad_width"]
    pads = [lo for lo, _ in widths] + [hi for _, hi in widths]
    value = b.const(np.asarray(rec.params.get("value", 0.0), _dtype(rec)))
    return b.node("Pad", [b.value(rec.inputs[0]), b.const(np.array(pads, np.int64)), value], mode="constant")


@lowers("flip")
def _flip(b, rec):
    axes = rec.params["axis"]
    n = len(axes)
    return b.node("Slice", [b.value(rec.inputs[0]), b.const(np.full(n, -1, np.int64)),
                            b.const(np.full(n, _INT64_MIN, np.int64)), b.const(np.array(axes, np.int64)),
                            b.const(np.full(n, -1, np.int64))])


@lowers("take_along_axis")
def _take_along_axis(b, rec):
    x, idx = rec.inputs[:2]
    idx = np.asarray(idx.data if isinstance(idx, Tensor) else idx, np.int64)
    return b.node("GatherElements", [b.value(x), b.const(idx)], axis=int(rec.params["axis"]))


@lowers("windows2d")
def _windows2d(b, rec):
    """(N, C, H, W) -> (N, C, OH, OW, kh, kw) as one Gather of flat positions over H * W."""
    x = rec.inputs[0]
    k, s = rec.params["k"], rec.params["s"]
    d = rec.params.get("d", (1, 1))
    n, c, h, w = x.shape
    oh, ow = rec.output.shape[2:4]
    rows = (np.arange(oh)[:, None, None, None] * s[0] + np.arange(k[0])[None, None, :, None] * d[0])
    cols = (np.arange(ow)[None, :, None, None] * s[1] + np.arange(k[1])[None, None, None, :] * d[1])
    flat = b.node("Reshape", [b.value(x), b.const(np.array([n, c, h * w], np.int64))])
    return b.node("Gather", [flat, b.const((rows * w + cols).astype(np.int64))], axis=2)


@lowers("getitem")
def _getitem(b, rec):
    from .indexing import lower_getitem

    return lower_getitem(b, rec.inputs[0], rec.params["index"], rec.output)
