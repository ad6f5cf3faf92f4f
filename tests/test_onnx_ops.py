"""Every operator of the importer's table, one small ONNX graph per case, run by kinkgrad and by
onnxruntime on the same inputs; and the gradient of each differentiable case (float64) against
central finite differences.

Tolerances: outputs in float32 agree to RTOL_32 * max(1, max|ort|) with RTOL_32 = 1e-5 (~84 eps32:
the two runtimes order sums and transcendental kernels differently; at most a few dozen terms here).
Exactly representable results (shapes, indices, comparisons, integer ops) must be equal. Finite
differences in float64 with h = 1e-6 have truncation error ~h^2 and rounding ~1e-10, so FD_ATOL = 1e-6
relative to the scale of the values; the inputs are drawn away from every kink of the op.
"""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper as h

import kinkgrad as kg

RTOL_32 = 1e-5
FD_H, FD_ATOL = 1e-6, 1e-6
RNG = np.random.default_rng(0)


def f32(*shape, lo=-2.0, hi=2.0, away=()):
    """Uniform float32 values, at least 0.05 from each point in ``away`` (kinks of the op)."""
    x = RNG.uniform(lo, hi, shape)
    for p in away:
        x = np.where(np.abs(x - p) < 0.05, x + 0.1, x)
    return x.astype(np.float32)


def i64(*values):
    return np.array(values, dtype=np.int64)


def distinct(*shape):
    """Distinct values (no ties in max/min/sort/pool windows)."""
    n = int(np.prod(shape))
    return ((RNG.permutation(n) - n / 2) / 4 + RNG.uniform(-0.05, 0.05, n)).reshape(shape).astype(np.float32)


class Case:
    def __init__(self, case_id, op, inputs, attrs=None, opset=20, outputs=1, grad=True):
        self.id, self.op, self.inputs, self.attrs = case_id, op, inputs, attrs or {}
        self.opset, self.outputs, self.grad = opset, outputs, grad

    def model(self, dtype_map=None):
        names = [f"in{i}" if v is not None else "" for i, v in enumerate(self.inputs)]
        graph_inputs = [h.make_tensor_value_info(n, onnx.helper.np_dtype_to_tensor_dtype(_cast(v, dtype_map).dtype),
                                                 list(v.shape)) for n, v in zip(names, self.inputs) if v is not None]
        outs = [f"out{i}" for i in range(self.outputs)]
        node = h.make_node(self.op, names, outs, **self.attrs)
        graph = h.make_graph([node], self.id, graph_inputs, [h.make_empty_tensor_value_info(o) for o in outs])
        model = h.make_model(graph, opset_imports=[h.make_opsetid("", self.opset)])
        model.ir_version = 8
        return model

    def feeds(self, dtype_map=None):
        return {f"in{i}": _cast(v, dtype_map) for i, v in enumerate(self.inputs) if v is not None}


def _cast(v, dtype_map):
    return v.astype(dtype_map) if dtype_map is not None and v.dtype == np.float32 else v


C = Case
X = f32(2, 3, 4)
IMG = f32(2, 3, 6, 7)
CASES = [
    # arithmetic (broadcasting), integer division truncates toward zero
    C("Add", "Add", [f32(2, 3), f32(3)]), C("Sub", "Sub", [f32(2, 1), f32(3)]), C("Mul", "Mul", [f32(4), f32(2, 4)]),
    C("Div", "Div", [f32(2, 3), f32(2, 3, lo=0.5, hi=2)]),
    C("Div_int", "Div", [i64(7, -7, 6, -6), i64(2, 2, -4, -4)], grad=False),
    C("Mod_fmod", "Mod", [f32(5, lo=0.1, hi=3), f32(5, lo=0.7, hi=1.3)], {"fmod": 1}, grad=False),
    C("Mod_int", "Mod", [i64(7, -7, 5, -5), i64(3, 3, -2, -2)], grad=False),
    C("Pow", "Pow", [f32(2, 3, lo=0.5, hi=2), f32(2, 3, lo=-1, hi=2)]),
    C("Pow_int_exponent", "Pow", [f32(4), i64(3)]),
    C("Neg", "Neg", [X]), C("Reciprocal", "Reciprocal", [f32(5, lo=0.5, hi=2)]), C("Abs", "Abs", [f32(5, away=(0,))]),
    C("Sqrt", "Sqrt", [f32(5, lo=0.2, hi=3)]), C("Exp", "Exp", [X]), C("Log", "Log", [f32(5, lo=0.2, hi=3)]),
    C("Sin", "Sin", [X]), C("Cos", "Cos", [X]), C("Tan", "Tan", [f32(5, lo=-1, hi=1)]), C("Tanh", "Tanh", [X]),
    C("Sigmoid", "Sigmoid", [X]), C("Erf", "Erf", [X]), C("Sign", "Sign", [f32(5, away=(0,))], grad=False),
    C("Floor", "Floor", [f32(6, away=(-1, 0, 1))], grad=False),
    C("Ceil", "Ceil", [f32(6, away=(-1, 0, 1))], grad=False),
    C("Round_half_even", "Round", [np.array([0.5, 1.5, 2.5, -0.5, 0.3, -1.7], np.float32)], grad=False),
    C("Relu", "Relu", [f32(6, away=(0,))]), C("Softplus", "Softplus", [X]), C("Softsign", "Softsign", [X]),
    C("Mish", "Mish", [X]), C("HardSwish", "HardSwish", [f32(8, lo=-5, hi=5, away=(-3, 3))]),
    C("Identity", "Identity", [X]), C("IsNaN", "IsNaN", [np.array([1, np.nan, 0], np.float32)], grad=False),
    C("Not", "Not", [np.array([True, False])], grad=False),
    # activations with parameters
    C("LeakyRelu", "LeakyRelu", [f32(6, away=(0,))], {"alpha": 0.2}),
    C("PRelu", "PRelu", [f32(2, 3, 4, away=(0,)), f32(3, 1)]),
    C("Elu", "Elu", [f32(6, away=(0,))], {"alpha": 0.5}),
    C("Selu", "Selu", [f32(6, away=(0,))]), C("Selu_custom", "Selu", [f32(6, away=(0,))], {"alpha": 2.0, "gamma": 1.5}),
    C("Celu", "Celu", [f32(6, away=(0,))], {"alpha": 0.7}),
    C("HardSigmoid", "HardSigmoid", [f32(8, lo=-4, hi=4, away=(-2.5, 2.5))]),
    C("HardSigmoid_torch", "HardSigmoid", [f32(8, lo=-5, hi=5, away=(-3, 3))], {"alpha": 1 / 6, "beta": 0.5}),
    C("Gelu", "Gelu", [X]), C("Gelu_tanh", "Gelu", [X], {"approximate": "tanh"}),
    C("ThresholdedRelu", "ThresholdedRelu", [f32(6, away=(0.5,))], {"alpha": 0.5}),
    C("Shrink_soft", "Shrink", [f32(6, away=(-0.5, 0.5))], {"bias": 0.5, "lambd": 0.5}),
    C("Shrink_hard", "Shrink", [f32(6, away=(-0.5, 0.5))], {"lambd": 0.5}),
    C("Clip", "Clip", [f32(8, away=(-0.5, 1.0)), np.array(-0.5, np.float32), np.array(1.0, np.float32)]),
    C("Clip_max_only", "Clip", [f32(8, away=(1.0,)), None, np.array(1.0, np.float32)]),
    C("Clip_none", "Clip", [X]),
    C("Max3", "Max", [distinct(2, 3), distinct(2, 3) + 0.01, distinct(3) - 0.02]),
    C("Min2", "Min", [distinct(2, 3), distinct(2, 3) + 0.01]),
    C("Sum3", "Sum", [f32(2, 3), f32(3), f32(2, 1)]), C("Mean2", "Mean", [f32(2, 3), f32(3)]),
    C("Where", "Where", [RNG.random((2, 3)) < 0.5, f32(2, 3), f32(3)]),
    # comparisons and logic
    C("Equal", "Equal", [i64(1, 2, 3), i64(1, 0, 3)], grad=False),
    C("Greater", "Greater", [f32(5), f32(5)], grad=False), C("Less", "Less", [f32(5), f32(5)], grad=False),
    C("GreaterOrEqual", "GreaterOrEqual", [np.array([1, 2, 3], np.float32), np.array(2, np.float32)], grad=False),
    C("LessOrEqual", "LessOrEqual", [np.array([1, 2, 3], np.float32), np.array(2, np.float32)], grad=False),
    C("And", "And", [np.array([True, True, False]), np.array([True, False, False])], grad=False),
    C("Or", "Or", [np.array([True, True, False]), np.array([True, False, False])], grad=False),
    C("Xor", "Xor", [np.array([True, True, False]), np.array([True, False, False])], grad=False),
    C("IsInf", "IsInf", [np.array([np.inf, -np.inf, 1], np.float32)], grad=False),
    C("IsInf_positive", "IsInf", [np.array([np.inf, -np.inf, 1], np.float32)], {"detect_negative": 0}, grad=False),
    C("Cast_to_int", "Cast", [np.array([1.7, -1.7, 2.0], np.float32)], {"to": onnx.TensorProto.INT64}, grad=False),
    C("Cast_to_double", "Cast", [X], {"to": onnx.TensorProto.DOUBLE}),
    C("CastLike", "CastLike", [i64(1, 2), np.zeros(1, np.float32)], grad=False),
    # products
    C("MatMul_batched", "MatMul", [f32(2, 3, 4), f32(4, 5)]), C("MatMul_vector", "MatMul", [f32(4), f32(4, 3)]),
    C("Gemm", "Gemm", [f32(3, 4), f32(5, 4), f32(5)], {"transB": 1}),
    C("Gemm_full", "Gemm", [f32(4, 3), f32(4, 5), f32(3, 5)], {"transA": 1, "alpha": 0.5, "beta": 2.0}),
    C("Gemm_no_c", "Gemm", [f32(3, 4), f32(4, 5)]),
    C("Einsum", "Einsum", [f32(2, 3), f32(3, 4)], {"equation": "ij,jk->ik"}),
    # reductions: axes as an input (opset 18+) and as an attribute (opset 13)
    C("ReduceSum", "ReduceSum", [X, i64(1)], {"keepdims": 0}),
    C("ReduceSum_all", "ReduceSum", [X]), C("ReduceSum_noop", "ReduceSum", [X], {"noop_with_empty_axes": 1}),
    C("ReduceMean", "ReduceMean", [X, i64(0, 2)]), C("ReduceMean_13", "ReduceMean", [X], {"axes": [1]}, opset=13),
    C("ReduceMax", "ReduceMax", [distinct(2, 3, 4), i64(-1)]),
    C("ReduceMin_13", "ReduceMin", [distinct(2, 3, 4)], {"axes": [0], "keepdims": 0}, opset=13),
    C("ReduceProd", "ReduceProd", [f32(2, 3, lo=0.5, hi=1.5), i64(1)]),
    C("ReduceL1", "ReduceL1", [f32(2, 3, away=(0,)), i64(1)]), C("ReduceL2", "ReduceL2", [X, i64(1, 2)]),
    C("ReduceSumSquare", "ReduceSumSquare", [X, i64(2)]), C("ReduceLogSumExp", "ReduceLogSumExp", [X, i64(1)]),
    C("ArgMax", "ArgMax", [distinct(3, 4)], {"axis": 1}, grad=False),
    C("ArgMin_last", "ArgMin", [np.array([[1, 0, 0, 2], [3, 3, 1, 1]], np.float32)],
      {"axis": 1, "keepdims": 0, "select_last_index": 1}, grad=False),
    C("Softmax", "Softmax", [X], {"axis": 1}), C("LogSoftmax", "LogSoftmax", [X]),
    C("TopK", "TopK", [distinct(3, 5), i64(2)], outputs=2),
    C("TopK_smallest_axis0", "TopK", [distinct(4, 3), i64(3)], {"axis": 0, "largest": 0}, outputs=2),
    C("CumSum", "CumSum", [X, np.array(1, np.int64)]),
    C("CumSum_exclusive_reverse", "CumSum", [X, np.array(2, np.int64)], {"exclusive": 1, "reverse": 1}),
    C("Range_float", "Range", [np.array(0.5, np.float32), np.array(3.0, np.float32),
                               np.array(0.75, np.float32)], grad=False),
    C("Range_int", "Range", [np.array(5, np.int64), np.array(-3, np.int64), np.array(-2, np.int64)], grad=False),
    C("Dropout_inference", "Dropout", [X], outputs=2),
    # shapes and indexing
    C("Shape", "Shape", [X], grad=False), C("Shape_slice", "Shape", [X], {"start": 1, "end": -1}, grad=False),
    C("Size", "Size", [X], grad=False), C("ConstantOfShape", "ConstantOfShape", [i64(2, 3)], grad=False),
    C("Reshape", "Reshape", [X, i64(0, -1)]), C("Reshape_allowzero", "Reshape", [X, i64(4, 6)], {"allowzero": 1}),
    C("Flatten", "Flatten", [IMG], {"axis": 2}), C("Flatten_0", "Flatten", [X], {"axis": 0}),
    C("Transpose", "Transpose", [X], {"perm": [2, 0, 1]}), C("Transpose_default", "Transpose", [X]),
    C("Squeeze", "Squeeze", [f32(2, 1, 3, 1), i64(1)]), C("Squeeze_all", "Squeeze", [f32(2, 1, 3, 1)]),
    C("Unsqueeze", "Unsqueeze", [X, i64(0, -1)]),
    C("Concat", "Concat", [f32(2, 3), f32(1, 3), f32(4, 3)], {"axis": 0}),
    C("Split_sizes", "Split", [f32(7, 2), i64(2, 5)], outputs=2),
    C("Split_equal", "Split", [f32(2, 6)], {"axis": 1}, opset=13, outputs=3),
    C("Split_num_outputs", "Split", [f32(7, 2)], {"num_outputs": 3}, opset=18, outputs=3),
    C("Slice", "Slice", [f32(5, 6), i64(1, -1), i64(4, 0), i64(0, 1), i64(2, -2)]),
    C("Slice_open_end", "Slice", [f32(5, 6), i64(-3), i64(np.iinfo(np.int64).max), i64(1)]),
    C("Slice_reverse_all", "Slice", [f32(5), i64(-1), i64(np.iinfo(np.int64).min), i64(0), i64(-1)]),
    C("Gather", "Gather", [f32(5, 3), i64(0, 4, -1, 0)]),
    C("Gather_axis1_scalar", "Gather", [X, np.array(-2, np.int64)], {"axis": 1}),
    C("GatherElements", "GatherElements", [f32(3, 4), np.array([[0, 3], [1, -1], [2, 2]], np.int64)], {"axis": 1}),
    C("Expand", "Expand", [f32(3, 1), i64(2, 1, 4)]), C("Tile", "Tile", [f32(2, 3), i64(2, 1)]),
    C("Pad_constant", "Pad", [f32(2, 3), i64(1, 0, 0, 2), np.array(1.5, np.float32)]),
    C("Pad_negative", "Pad", [f32(4, 5), i64(-1, 1, 0, -2)]),
    C("Pad_reflect", "Pad", [f32(2, 4), i64(0, 2, 1, 3)], {"mode": "reflect"}),
    C("Pad_edge_axes", "Pad", [f32(2, 4), i64(2, 1), None, i64(1)], {"mode": "edge"}),
    C("Pad_wrap", "Pad", [f32(3, 4), i64(1, 2, 2, 1)], {"mode": "wrap"}, opset=19),
    # convolutions
    C("Conv", "Conv", [IMG, f32(4, 3, 3, 2), f32(4)]),
    C("Conv_groups_strides_dilation", "Conv", [f32(2, 4, 8, 7), f32(6, 2, 2, 3), f32(6)],
      {"group": 2, "strides": [2, 1], "dilations": [1, 2], "pads": [1, 0, 1, 2]}),
    C("Conv_same_upper", "Conv", [IMG, f32(2, 3, 3, 4)], {"auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    C("Conv_same_lower", "Conv", [IMG, f32(2, 3, 2, 2)], {"auto_pad": "SAME_LOWER"}),
    C("Conv_depthwise", "Conv", [IMG, f32(3, 1, 3, 3)], {"group": 3, "pads": [1, 1, 1, 1]}),
    C("Conv1d", "Conv", [f32(2, 3, 9), f32(4, 3, 3), f32(4)], {"pads": [2, 1], "strides": [2]}),
    C("ConvTranspose", "ConvTranspose", [f32(2, 3, 4, 5), f32(3, 2, 3, 3), f32(2)], {"strides": [2, 2]}),
    C("ConvTranspose_pads_groups", "ConvTranspose", [f32(1, 4, 3, 4), f32(4, 1, 3, 2)],
      {"strides": [2, 3], "pads": [1, 0, 0, 1], "output_padding": [1, 0], "group": 2, "dilations": [1, 2]}),
    C("ConvTranspose_output_shape", "ConvTranspose", [f32(1, 2, 3, 3), f32(2, 2, 3, 3)],
      {"strides": [2, 2], "output_shape": [6, 7]}),
    C("ConvTranspose_same_upper", "ConvTranspose", [f32(1, 2, 3, 4), f32(2, 3, 3, 3)],
      {"strides": [2, 2], "auto_pad": "SAME_UPPER"}),
    C("ConvTranspose1d", "ConvTranspose", [f32(2, 2, 5), f32(2, 3, 4)], {"strides": [3]}),
    # pooling (distinct values: no ties inside a window)
    C("MaxPool", "MaxPool", [distinct(2, 3, 6, 7)], {"kernel_shape": [2, 2]}),
    C("MaxPool_pads_strides", "MaxPool", [distinct(1, 2, 7, 6)],
      {"kernel_shape": [3, 2], "strides": [2, 1], "pads": [1, 0, 1, 1]}),
    C("MaxPool_ceil", "MaxPool", [distinct(1, 2, 7, 8)], {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}),
    C("MaxPool_same_upper", "MaxPool", [distinct(1, 2, 5, 5)],
      {"kernel_shape": [2, 2], "strides": [2, 2], "auto_pad": "SAME_UPPER"}),
    C("MaxPool1d", "MaxPool", [distinct(2, 3, 9)], {"kernel_shape": [3], "strides": [2], "pads": [1, 1]}),
    C("AveragePool", "AveragePool", [IMG], {"kernel_shape": [2, 3], "strides": [1, 2]}),
    C("AveragePool_pads_exclude", "AveragePool", [IMG], {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}),
    C("AveragePool_pads_include", "AveragePool", [IMG],
      {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1}),
    C("AveragePool_ceil", "AveragePool", [IMG], {"kernel_shape": [2, 2], "strides": [2, 2], "ceil_mode": 1}),
    C("AveragePool_asym_include", "AveragePool", [IMG],
      {"kernel_shape": [2, 3], "pads": [0, 1, 1, 2], "count_include_pad": 1}),
    C("GlobalAveragePool", "GlobalAveragePool", [IMG]), C("GlobalMaxPool", "GlobalMaxPool", [distinct(2, 3, 4, 5)]),
    # normalisation
    C("BatchNormalization", "BatchNormalization", [IMG, f32(3), f32(3), f32(3), f32(3, lo=0.5, hi=2)],
      {"epsilon": 1e-3}),
    C("BatchNormalization_training", "BatchNormalization", [IMG, f32(3), f32(3), f32(3), f32(3, lo=0.5, hi=2)],
      {"training_mode": 1, "momentum": 0.8}, outputs=3),
    C("LayerNormalization", "LayerNormalization", [X, f32(4), f32(4)], outputs=3),
    C("LayerNormalization_axis1", "LayerNormalization", [X, f32(3, 4)], {"axis": 1}),
    C("InstanceNormalization", "InstanceNormalization", [IMG, f32(3), f32(3)]),
]


REQUIRED = """Gemm MatMul Add Sub Mul Div Neg Pow Sqrt Exp Log Abs Relu LeakyRelu PRelu Elu Selu Sigmoid Tanh Softplus
HardSigmoid HardSwish Gelu Erf Softmax LogSoftmax Clip Max Min Sign Round Floor Ceil Where Equal Greater Less
GreaterOrEqual LessOrEqual Not And Or Cast Conv ConvTranspose MaxPool AveragePool GlobalAveragePool BatchNormalization
LayerNormalization Dropout Flatten Reshape Transpose Squeeze Unsqueeze Concat Split Slice Gather Shape Expand Pad
ReduceSum ReduceMean ReduceMax ReduceMin ReduceL2 ArgMax Identity Constant ConstantOfShape Range TopK""".split()


def test_the_operators_common_exports_contain_are_supported():
    assert set(REQUIRED) - set(kg.onnx.supported_ops()) == set()


def test_every_supported_operator_has_a_case():
    covered = {c.op for c in CASES} | {"Constant"}      # Constant: its own test below
    assert set(kg.onnx.supported_ops()) - covered == set()


def _run_kg(model, feeds):
    out = kg.onnx.load(model)(**feeds)
    return [o.numpy() for o in (out if isinstance(out, tuple) else (out,))]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_matches_onnxruntime(case):
    model = case.model()
    feeds = case.feeds()
    want = ort.InferenceSession(model.SerializeToString()).run(None, feeds)
    got = _run_kg(model, feeds)
    assert len(got) >= len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, g.dtype, w.shape, w.dtype)
        if w.dtype.kind == "f":
            scale = max(1.0, float(np.max(np.abs(w)))) if w.size else 1.0
            np.testing.assert_allclose(g, w, rtol=RTOL_32, atol=RTOL_32 * scale)
        else:
            np.testing.assert_array_equal(g, w)


GRAD_CASES = [c for c in CASES if c.grad and any(v is not None and v.dtype == np.float32 for v in c.inputs)]


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c.id for c in GRAD_CASES])
def test_gradient_matches_finite_differences(case):
    """d <w, output_0> / d (every float input), float64, against central differences."""
    model = kg.onnx.load(case.model(np.float64))
    feeds = case.feeds(np.float64)
    floats = [k for k, v in feeds.items() if v.dtype == np.float64]
    first = model(**feeds)
    first = first[0] if isinstance(first, tuple) else first
    w = np.random.default_rng(1).standard_normal(first.shape)

    def f(*vals):
        out = model(**{**feeds, **dict(zip(floats, vals))})
        return ((out[0] if isinstance(out, tuple) else out) * w).sum()

    grads = kg.grad(f, argnums=tuple(range(len(floats))))(*[feeds[k] for k in floats])
    for k, g in zip(floats, grads):
        x = feeds[k]
        fd = np.zeros(x.size)
        for i in range(x.size):
            e = np.zeros(x.size)
            e[i] = FD_H
            e = e.reshape(x.shape)
            fd[i] = (f(*[feeds[j] + (e if j == k else 0) for j in floats]).item()
                     - f(*[feeds[j] - (e if j == k else 0) for j in floats]).item()) / (2 * FD_H)
        scale = max(1.0, float(np.max(np.abs(fd))))
        np.testing.assert_allclose(np.asarray(g.numpy()).ravel(), fd, rtol=0, atol=FD_ATOL * scale, err_msg=k)


@pytest.mark.parametrize("attr, value, expected", [
    ("value", onnx.numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3)),
     np.arange(6, dtype=np.float32).reshape(2, 3)),
    ("value_float", 1.5, np.float32(1.5)), ("value_floats", [1.0, 2.0], np.array([1, 2], np.float32)),
    ("value_int", 3, np.int64(3)), ("value_ints", [4, 5], np.array([4, 5], np.int64)),
])
def test_constant(attr, value, expected):
    node = h.make_node("Constant", [], ["c"], **{attr: value})
    model = h.make_model(h.make_graph([node], "c", [], [h.make_empty_tensor_value_info("c")]),
                         opset_imports=[h.make_opsetid("", 20)])
    got = kg.onnx.load(model)().numpy()
    assert got.dtype == np.asarray(expected).dtype
    np.testing.assert_array_equal(got, expected)
