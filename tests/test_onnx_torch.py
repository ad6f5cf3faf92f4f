"""Models exported by torch.onnx.export (PyTorch 2.13, both exporters) and loaded by kg.onnx.load:
outputs and gradients (inputs and weights) equal PyTorch's on random inputs, and at engineered kinks
``kg.kinks("torch")`` reproduces PyTorch's own gradients.

Tolerances (float32, eps = 1.2e-7): |kg - torch| <= RTOL * max(1, max|torch|). Both compute the same
sums of at most a few hundred products in different orders (im2col + GEMM vs direct convolution,
folded batch-norm scale), so each value carries ~sqrt(n) * eps relative error of the sum of absolute
terms; RTOL = 2e-5 (~170 eps) covers that with margin, while a wrong derivative is off by O(1).
At the engineered kinks every input and weight is a small dyadic number, so the sums before each kink
are exact and the kink is hit exactly in both libraries; what follows (batch norm, bias) is rounded
as above, hence the same tolerance.
"""
import numpy as np
import pytest

import kinkgrad as kg
import onnx_models as M

RTOL = 2e-5

MODELS = {"mlp": M.mlp, "cnn": M.cnn, "residual": M.residual, "abs_max_min_where": M.abs_max_min_where}
# what the issue asks each model to exercise, checked on the exported graph
EXPECTED_OPS = {"mlp": {"Gemm", "Relu", "LeakyRelu"}, "cnn": {"Conv", "BatchNormalization", "MaxPool"},
                "residual": {"Conv", "Clip", "Add"}, "abs_max_min_where": {"Abs", "Max", "Min", "Where", "Greater"}}


def close(got, want):
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * max(1.0, float(np.max(np.abs(want)))))


def _export(tmp_path_factory, name, engineered, dynamo=True):
    model, inputs = MODELS[name](engineered)
    kwargs = {}
    if name == "cnn":       # keep BatchNormalization a node of its own (both exporters fold it by default)
        kwargs = {"optimize": False} if dynamo else {"do_constant_folding": False}
    path = tmp_path_factory.mktemp("onnx") / f"{name}_{'kink' if engineered else 'rand'}_{dynamo}.onnx"
    M.export(model, inputs, path, dynamo=dynamo, **kwargs)
    return model, inputs, path


@pytest.fixture(scope="module", params=[(n, d) for n in MODELS for d in (True, False)],
                ids=[f"{n}-{'dynamo' if d else 'legacy'}" for n in MODELS for d in (True, False)])
def random_case(request, tmp_path_factory):
    name, dynamo = request.param
    return (name,) + _export(tmp_path_factory, name, False, dynamo)


@pytest.fixture(scope="module", params=list(MODELS))
def kink_case(request, tmp_path_factory):
    return (request.param,) + _export(tmp_path_factory, request.param, True)


def test_exported_graph_has_the_ops_under_test(random_case):
    import onnx

    name, _, _, path = random_case
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert EXPECTED_OPS[name] <= ops, sorted(ops)
    if name == "cnn" and "_False" in path.name:       # the legacy exporter writes the global pooling as such
        assert "GlobalAveragePool" in ops


def test_outputs_and_gradients_equal_pytorch_on_random_inputs(random_case):
    name, model, inputs, path = random_case
    loaded = kg.onnx.load(path)
    cot = np.random.default_rng(9).standard_normal(model(*map(M.torch.as_tensor, inputs)).shape).astype(np.float32)
    t_out, t_gx, t_gw = M.torch_run(model, inputs, cot)
    k_out, k_gx, k_gw = M.kg_run(loaded, inputs, cot)
    close(k_out, t_out)
    for k, t in zip(k_gx, t_gx):
        close(k, t)
    shared = set(k_gw) & set(t_gw)
    assert shared, (sorted(k_gw), sorted(t_gw))
    assert shared == set(t_gw)          # every PyTorch parameter is a kinkgrad Parameter, same name
    for p in shared:
        close(k_gw[p], t_gw[p])


def test_torch_preset_equals_pytorch_at_engineered_kinks(kink_case):
    name, model, inputs, path = kink_case
    loaded = kg.onnx.load(path)
    cot = np.random.default_rng(10).standard_normal(model(*map(M.torch.as_tensor, inputs)).shape).astype(np.float32)
    with kg.audit() as report:
        k_out, k_gx, k_gw = M.kg_run(loaded, inputs, cot, kinks="torch")
    t_out, t_gx, t_gw = M.torch_run(model, inputs, cot)
    assert report.dependent > 0, f"no kink reached with a nonzero gradient:\n{report}"
    close(k_out, t_out)
    for k, t in zip(k_gx, t_gx):
        close(k, t)
    for p in set(k_gw) & set(t_gw):
        close(k_gw[p], t_gw[p])


def _hits_by_op(report):
    hits = {}
    for r in report.to_dict()["rows"]:
        hits[r["op"]] = hits.get(r["op"], 0) + r["at_kink"]
    return hits


KINKED_OPS = {"mlp": {"relu", "leaky_relu"}, "cnn": {"max_pool2d"}, "residual": {"clip", "relu6"},
              "abs_max_min_where": {"abs", "maximum", "minimum"}}


def test_engineered_kinks_are_hit_per_node(kink_case):
    name, model, inputs, path = kink_case
    loaded = kg.onnx.load(path)
    with kg.audit() as report:
        M.kg_run(loaded, inputs, np.ones(model(*map(M.torch.as_tensor, inputs)).shape, np.float32))
    hits = _hits_by_op(report)
    assert all(hits.get(op, 0) > 0 for op in KINKED_OPS[name]), hits
    scopes = {s for s, v in report.by_scope().items() if v["hits"]}
    assert scopes and scopes <= {node for node, _ in loaded.nodes}, scopes     # counted per ONNX node


def test_conventions_matter_at_the_engineered_kinks(tmp_path_factory):
    """The engineered points are real kinks: the default convention differs from PyTorch's there
    (max-pool ties split vs first; clamp at its bounds 0 vs 1)."""
    for name in ("cnn", "residual"):
        model, inputs, path = _export(tmp_path_factory, name, True)
        loaded = kg.onnx.load(path)
        cot = np.ones(model(*map(M.torch.as_tensor, inputs)).shape, np.float32)
        _, gx_torch, gw_torch = M.kg_run(loaded, inputs, cot, kinks="torch")
        _, gx_default, gw_default = M.kg_run(loaded, inputs, cot)
        differs = [not np.allclose(a, b) for a, b in zip(gx_torch, gx_default)]
        differs += [not np.allclose(gw_torch[p], gw_default[p]) for p in gw_torch]
        assert any(differs), name


def test_relu6_keeps_pytorchs_convention_only_with_source_ops(tmp_path_factory):
    """F.relu6 is exported as Clip; the node's metadata names aten.relu6, so kinkgrad uses relu6 (0 at the
    bounds, as PyTorch); without the metadata (source_ops=False) the Clip convention (torch: 1) applies."""
    model, inputs, path = _export(tmp_path_factory, "residual", True)
    cot = np.ones((2, 4, 5, 5), np.float32)
    _, gx_src, _ = M.kg_run(kg.onnx.load(path), inputs, cot, kinks="torch")
    _, gx_clip, _ = M.kg_run(kg.onnx.load(path, source_ops=False), inputs, cot, kinks="torch")
    _, t_gx, _ = M.torch_run(model, inputs, cot)
    close(gx_src[0], t_gx[0])
    assert not np.allclose(gx_clip[0], t_gx[0])


def test_imported_model_fine_tunes_and_saves(tmp_path):
    """The weights are Parameters of a kg.nn.Model: fit trains them, save_weights / load_weights keep them."""
    model, inputs = M.mlp()
    path = M.export(model, inputs, tmp_path / "mlp.onnx")
    loaded = kg.onnx.load(path)
    x = np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32)
    y = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    before = float(kg.losses.mse(y, loaded(x)).item())
    loaded.compile(optimizer=kg.optim.Adam(lr=0.02), loss="mse")
    loaded.fit(x, y, epochs=30, batch_size=5, verbose=0)
    after = float(kg.losses.mse(y, loaded(x)).item())
    assert after < 0.5 * before
    loaded.save_weights(tmp_path / "w.safetensors")
    fresh = kg.onnx.load(path)
    assert not np.allclose(fresh(x).numpy(), loaded(x).numpy())
    fresh.load_weights(tmp_path / "w.safetensors")
    np.testing.assert_array_equal(fresh(x).numpy(), loaded(x).numpy())


def test_weights_are_parameters_statistics_and_scalars_are_buffers(tmp_path_factory):
    _, _, path = _export(tmp_path_factory, "cnn", False, dynamo=True)
    loaded = kg.onnx.load(path)
    params, buffers = dict(loaded.named_parameters()), dict(loaded.named_buffers())
    assert {"conv1.weight", "conv1.bias", "bn.weight", "bn.bias", "fc.weight"} <= set(params)
    assert {"bn.running_mean", "bn.running_var"} <= set(buffers)          # statistics: saved, not trained
    assert set(loaded.state_dict()) == set(params) | set(buffers)
    _, _, path = _export(tmp_path_factory, "residual", False, dynamo=True)
    scalars = [n for n, b in kg.onnx.load(path).named_buffers() if np.ndim(b) == 0]
    assert scalars                                                        # clip bounds lifted by the exporter
    assert set(scalars) <= {n for n, _ in kg.onnx.load(path, scalar_parameters=True).named_parameters()}
