"""kg.onnx.export: kinkgrad computations written as ONNX and run by onnxruntime give kinkgrad's outputs;
round trips (kinkgrad -> ONNX -> kinkgrad, ONNX -> kinkgrad -> ONNX) keep values and kink declarations.

Tolerance: float32 outputs agree to RTOL * max(1, max|kg|) with RTOL = 1e-5 (~84 eps32): onnxruntime
and NumPy order the sums of matrix products and convolutions differently (at most a few hundred terms
here) and use their own exp/erf/tanh kernels.
"""
import numpy as np
import onnx
import onnxruntime as ort
import pytest

import kinkgrad as kg
import onnx_models as M
from kinkgrad import nn

RTOL = 1e-5
RNG = np.random.default_rng(0)


def f32(*shape, lo=-2.0, hi=2.0):
    return RNG.uniform(lo, hi, shape).astype(np.float32)


def ort_run(model, inputs):
    sess = ort.InferenceSession(model.SerializeToString())
    return sess.run(None, {i.name: x for i, x in zip(sess.get_inputs(), inputs)})


def assert_close(got, want):
    want = np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype, want.shape, want.dtype)
    if want.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * max(1.0, float(np.max(np.abs(want)))))
    else:
        np.testing.assert_array_equal(got, want)


def check_export(fn, *inputs, opset=20):
    """Export, run in onnxruntime, compare with kinkgrad; returns the model and the primitives traced."""
    inputs = [kg.tensor(x) for x in inputs]
    with kg.no_grad():
        want = fn(*inputs)
    with kg.record_ops() as ops:
        fn(*inputs)
    model = kg.onnx.export(fn, inputs, opset=opset)
    got = ort_run(model, [x.numpy() for x in inputs])
    wants = want if isinstance(want, tuple) else (want,)
    for g, w in zip(got, wants):
        assert_close(g, w.numpy())
    return model, {r.prim.name for r in ops}


IMG = f32(2, 3, 7, 8)
X = f32(3, 5)
MASK = RNG.random((3, 5)) < 0.5                       # constant index arrays (a trace fixes them)
ORDER = np.argsort(RNG.random((3, 5)), axis=1)
CASES = {
    "arithmetic": (lambda x, y: (x + y) * x - y / (1.5 + kg.abs(y)) + x ** 2 - (-x) ** 3.0 + 2 ** x, X, f32(3, 5)),
    "smooth": (lambda x: kg.exp(x) + kg.log(kg.abs(x) + 1) + kg.sqrt(kg.abs(x)) + kg.sin(x) * kg.cos(x)
               + kg.tan(x / 4) + kg.tanh(x) + kg.sigmoid(x) + kg.erf(x) + kg.expm1(x) + kg.log1p(kg.abs(x))
               + kg.square(x) + kg.reciprocal(x + 3.0), X),
    "activations": (lambda x: kg.relu(x) + kg.leaky_relu(x, 0.2) + kg.elu(x, 0.5) + kg.selu(x) + kg.celu(x)
                    + kg.gelu(x) + kg.gelu(x, "tanh") + kg.silu(x) + kg.mish(x) + kg.softsign(x) + kg.softplus(x)
                    + kg.softplus(x, beta=2.0, threshold=1.0) + kg.hardswish(x) + kg.hardsigmoid(x) + kg.relu6(x)
                    + kg.hardtanh(x, -0.5, 0.5) + kg.softshrink(x, 0.5) + kg.hardshrink(x, 0.5)
                    + kg.threshold(x, 0.3, 0.0) + kg.threshold(x, 0.3, -1.0) + kg.prelu(x, np.float32(0.25)), X),
    "kinked": (lambda x, y: kg.maximum(x, y) - kg.minimum(x, 0.5) + kg.clip(x, -0.5, 1.0) + kg.clip(x, y, None)
               + kg.sign(x) + kg.floor(x) + kg.ceil(x) + kg.round(x) + kg.trunc(x) + kg.heaviside(x)
               + kg.mod(x, 0.7) + kg.fmod(x, 0.7), X, f32(3, 5)),
    "logic": (lambda x, y: kg.where((x > y) & ~(x <= 0.1) | (x == y) | (x != 0.5) & (x >= y) & (y < 1.0), x, y)
              + kg.isnan(x).astype(np.float32) + kg.isinf(x).astype(np.float32)
              + kg.isfinite(x).astype(np.float32), X, f32(3, 5)),
    "reductions": (lambda x: (kg.sum(x, 1), kg.mean(x, 0, keepdims=True), kg.max(x, 1), kg.min(x),
                              kg.prod(x, 0), kg.logsumexp(x, 1), kg.linalg.norm(x, axis=1), kg.var(x, 0),
                              kg.softmax(x, 0), kg.log_softmax(x), kg.cumsum(x, 1), kg.argmax(x, 1),
                              kg.argmin(x), kg.max(x, 0, return_indices=True)[0],
                              kg.min(x, 1, return_indices=True)[0]), X),
    "order": (lambda x: (kg.sort(x, axis=0), kg.sort(x, descending=True), kg.topk(x, 2)[0], kg.argsort(x, 1)), X),
    "shapes": (lambda x: (kg.reshape(x, (5, 3)), kg.transpose(x), kg.broadcast_to(x[:, None], (3, 2, 5)),
                          kg.concatenate([x, x * 2], 1), kg.pad(x, ((1, 0), (0, 2)), 0.5), kg.flip(x, 1),
                          kg.stack([x, x], 0), kg.split(x, [2], 1)[1], kg.sum_to(x, (1, 5)), kg.tile(x, (2, 1)),
                          kg.repeat(x, 2, 0), x.clone(), x.astype(np.float64)), X),
    "indexing": (lambda x: (x[1], x[:, 1:4:2], x[::-1, -1], x[None, 1:, ..., None], x[np.array([2, 0, 2])],
                            x[:, np.array([[1, 3], [0, 0]])], x[MASK], x[np.array([0, 2]), np.array([1, 4])],
                            kg.take(x, np.array([4, 0]), axis=1), kg.take_along_axis(x, ORDER, axis=1)), X),
    "linear": (lambda x, w: (x @ w, kg.affine(x, w, np.ones(4, np.float32)), kg.einsum("ij,jk->ik", x, w),
                             kg.matmul(x[None], w), kg.dot(x[0], x[1])), X, f32(5, 4)),
    "conv": (lambda x, w, b: (kg.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2)),
                              kg.conv2d(x, np.ones((6, 1, 2, 2), np.float32), None, groups=3),
                              kg.conv_transpose2d(x, w.transpose(1, 0, 2, 3), None, stride=2, padding=(1, 0),
                                                  output_padding=1)),
             IMG, f32(4, 3, 3, 2), f32(4)),
    "pooling": (lambda x: (kg.max_pool2d(x, 2), kg.max_pool2d(x, 3, 1, 1), kg.max_pool2d(x, (2, 3), (1, 2)),
                           kg.avg_pool2d(x, 2), kg.avg_pool2d(x, 3, 2, 1), kg.max_pool2d(x[0], 2)), IMG),
    "losses": (lambda p, t: (kg.losses.mse(t, p), kg.losses.mae(t, p), kg.losses.huber(t, p),
                             kg.softmax_cross_entropy(p, np.array([0, 4, 2]))), X, f32(3, 5)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_export_runs_in_onnxruntime_with_kinkgrads_outputs(name):
    fn, *inputs = CASES[name]
    check_export(fn, *inputs)


def test_every_lowering_is_exercised():
    from kinkgrad.onnx.export import LOWER

    traced = set()
    for fn, *inputs in CASES.values():
        with kg.record_ops() as ops:
            fn(*[kg.tensor(x) for x in inputs])
        traced |= {r.prim.name for r in ops}
    assert set(LOWER) - traced == set()


@pytest.mark.parametrize("opset", [14, 17, 18, 21])
def test_other_opsets(opset):
    fn, x = CASES["reductions"]
    model, _ = check_export(fn, x, opset=opset)
    assert model.opset_import[0].version == opset


def _models():
    conv = nn.Sequential([nn.Conv2d(3, 8, 3, padding=1, seed=0), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 4, 3, seed=1), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
                          nn.Dense(10, activation="gelu", seed=2), nn.Dropout(0.5), nn.Dense(3, seed=3)])
    mlp = nn.Sequential([nn.Dense(16, activation="relu", input_shape=(6,), seed=0), nn.LayerNorm(16),
                         nn.Dense(16, activation="leaky_relu", seed=1), nn.Linear(16, 4, seed=2)])
    seq1d = nn.Sequential([nn.Conv1d(3, 5, 3, padding=1, seed=0), nn.Hardswish(), nn.Flatten()])
    return {"cnn": (conv, f32(4, 3, 8, 8)), "mlp": (mlp, f32(5, 6)), "conv1d": (seq1d, f32(2, 3, 7))}


@pytest.mark.parametrize("name", ["cnn", "mlp", "conv1d"])
def test_kinkgrad_model_to_onnxruntime(name, tmp_path):
    model, x = _models()[name]
    model(x)                                    # builds lazily sized layers and batch statistics (training mode)
    model.train()
    path = tmp_path / "m.onnx"
    proto = model.export_onnx(path, (x,))
    assert model.training                       # traced in eval mode, then restored
    model.eval()
    assert_close(ort_run(proto, [x])[0], model(x).numpy())
    reloaded = kg.onnx.load(path)               # and back: the same values, the Parameters under their names
    assert_close(reloaded(x).numpy(), model(x).numpy())
    assert {n for n, _ in model.named_parameters()} <= {n for n, _ in reloaded.named_parameters()}


def test_export_onnx_without_inputs_uses_the_declared_input_shape(tmp_path):
    model = _models()["mlp"][0]
    proto = model.export_onnx(tmp_path / "m.onnx")
    assert [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim] == [1, 6]
    with pytest.raises(ValueError, match="pass example_inputs"):
        nn.Sequential([nn.Conv2d(1, 2, 3)]).export_onnx(tmp_path / "c.onnx")


def test_pooling_and_activations_keep_their_onnx_ops():
    model, _ = check_export(CASES["pooling"][0], IMG)
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("MaxPool") == 4 and "ReduceMax" not in ops
    model, _ = check_export(lambda x: kg.clip(kg.abs(kg.relu(x)), 0.0, 1.0), X)
    assert {"Relu", "Abs", "Clip"} <= {n.op_type for n in model.graph.node}


def test_round_trip_keeps_the_kink_declarations():
    """kinkgrad -> ONNX -> kinkgrad: the same kinked ops run, so every preset gives the same gradient at
    kinks (max-pool ties, relu at 0, clip at its bounds, abs at 0, maximum ties)."""
    def f(x, y):
        p = kg.max_pool2d(kg.relu(x), 2)
        return kg.clip(p, 0.0, 1.0) + kg.abs(x[:, :, ::2, ::2]) + kg.maximum(p, y)

    x = np.zeros((1, 2, 4, 4), np.float32)
    x[0, 0, :2, :2] = 0.5                          # a window of ties
    x[0, 1, 2:, 2:] = 1.0                          # ties at clip's upper bound
    y = np.full((1, 2, 2, 2), 0.5, np.float32)     # maximum ties with the 0.5 window
    loaded = kg.onnx.load(kg.onnx.export(f, (x, y)))
    for preset in ("default", "torch", "jax", "tensorflow", "left", "right", "directional"):
        want = kg.grad(lambda a, b: f(a, b).sum(), argnums=(0, 1), kinks=preset, seed=0)(x, y)
        got = kg.grad(lambda a, b: loaded(a, b).sum(), argnums=(0, 1), kinks=preset, seed=0)(x, y)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g.numpy(), w.numpy(), err_msg=preset)
    with kg.audit() as report:
        kg.grad(lambda a: loaded(a, y).sum())(x)
    assert {"max_pool2d", "relu", "clip", "abs", "maximum"} <= {r["op"] for r in report.to_dict()["rows"]}


@pytest.mark.parametrize("name", ["mlp", "cnn", "residual", "abs_max_min_where"])
def test_onnx_to_kinkgrad_to_onnx_matches_the_original(name, tmp_path):
    model, inputs = getattr(M, name)()
    path = M.export(model, inputs, tmp_path / "orig.onnx", dynamo=(name != "cnn"))
    original = onnx.load(str(path))
    again = kg.onnx.export(kg.onnx.load(path), inputs)
    assert [i.name for i in again.graph.input] == [i.name for i in original.graph.input]
    assert [o.name for o in again.graph.output] == [o.name for o in original.graph.output]
    for g, w in zip(ort_run(again, inputs), ort_run(original, inputs)):
        assert_close(g, w)


def test_unsupported_primitive_and_bad_arguments_are_named():
    with pytest.raises(kg.onnx.OnnxUnsupportedError, match="'median'.*exportable ops"):
        kg.onnx.export(lambda x: kg.median(x, axis=0), (X,))
    with pytest.raises(ValueError, match="opset 9 is not supported"):
        kg.onnx.export(kg.relu, (X,), opset=9)
    with pytest.raises(TypeError, match="must return a Tensor"):
        kg.onnx.export(lambda x: x.numpy(), (X,))
    with pytest.raises(ValueError, match="2 input names for 1"):
        kg.onnx.export(kg.relu, (X,), input_names=["a", "b"])


def test_names_and_file(tmp_path):
    path = tmp_path / "f.onnx"
    kg.onnx.export(lambda a, b: (a + b, a * b), (X, X), path, input_names=["a", "b"], output_names=["s", "p"])
    proto = onnx.load(str(path))
    assert [i.name for i in proto.graph.input] == ["a", "b"] and [o.name for o in proto.graph.output] == ["s", "p"]
    assert proto.producer_name == "kinkgrad"


def test_values_computed_outside_the_ops_are_refused_not_frozen():
    """A trace would hold these as the example's constants; a second run on permuted values exposes them."""
    for fn in (lambda x: x * float(x[0, 0].item()), lambda x: x[x.numpy() > 0],
               lambda x: kg.take(x, np.argmax(x.numpy(), axis=1), axis=1)):
        with pytest.raises(kg.onnx.OnnxUnsupportedError, match="depends on the input values|changes with the input"):
            kg.onnx.export(fn, (X,))


def test_indices_and_conditions_computed_by_the_ops_stay_live():
    """where's condition, argmax / argsort indices and TopK's indices are graph values: the export is right
    for other inputs too, not only for the example."""
    def f(x):
        picked = kg.take(x, kg.argmax(x, axis=1), axis=1)
        ordered = kg.take_along_axis(x, kg.argsort(x, axis=1), axis=1)
        return kg.where(x > 0.5, x, -x), picked, ordered, x[kg.argmin(x, axis=0)]

    model = kg.onnx.export(f, (X,))
    other = f32(3, 5)
    for got, want in zip(ort_run(model, [other]), f(kg.tensor(other))):
        assert_close(got, want.numpy())


def test_imported_topk_argmax_gather_export_for_any_input(tmp_path):
    """An ONNX graph whose TopK indices, ArgMax (last index) and integer division feed later nodes:
    kinkgrad -> ONNX -> onnxruntime equals the original on inputs other than the traced one."""
    from onnx import TensorProto
    from onnx import helper as h

    nodes = [h.make_node("TopK", ["x", "k"], ["v", "i"], axis=1),
             h.make_node("GatherElements", ["x", "i"], ["g"], axis=1),
             h.make_node("ArgMax", ["x"], ["a"], axis=1, select_last_index=1),
             h.make_node("Div", ["a", "two"], ["half"]),
             h.make_node("Gather", ["x", "half"], ["rows"], axis=0),
             h.make_node("Add", ["v", "g"], ["y"])]
    graph = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", TensorProto.FLOAT, [4, 6])],
                         [h.make_tensor_value_info("y", TensorProto.FLOAT, None),
                          h.make_tensor_value_info("rows", TensorProto.FLOAT, None)],
                         [onnx.numpy_helper.from_array(np.array([3], np.int64), "k"),
                          onnx.numpy_helper.from_array(np.array(2, np.int64), "two")])
    original = h.make_model(graph, opset_imports=[h.make_opsetid("", 20)])
    original.ir_version = 9
    again = kg.onnx.export(kg.onnx.load(original), (np.round(f32(4, 6), 1),))
    other = np.round(f32(4, 6), 1)                   # rounded: ties for TopK and ArgMax's last index
    for got, want in zip(ort_run(again, [other]), ort_run(original, [other])):
        assert_close(got, want)
