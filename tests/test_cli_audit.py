"""``kinkgrad audit MODEL.onnx``: kink hits per node, gradients per convention, their disagreement, as a
table and as JSON; on a float16 export of a CNN it finds more kink hits than on the float32 one."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import kinkgrad as kg
import onnx_models as M
from kinkgrad.cli import main
from kinkgrad.cli.audit import CONVENTIONS, audit_model


@pytest.fixture(scope="module")
def cnn_files(tmp_path_factory):
    """The CNN exported by PyTorch in float32 and in float16, on a batch of 16 images of 16x16."""
    folder = tmp_path_factory.mktemp("audit")
    model, _ = M.cnn()
    x = np.random.default_rng(5).standard_normal((16, 3, 16, 16)).astype(np.float32)
    f32 = M.export(model, (x,), folder / "cnn32.onnx", dynamo=False)
    f16 = M.export(model.half(), (x.astype(np.float16),), folder / "cnn16.onnx", dynamo=False)
    model.float()
    return f32, f16


def test_audit_prints_the_table_and_writes_json(cnn_files, tmp_path, capsys):
    out_json = tmp_path / "report.json"
    assert main(["audit", str(cnn_files[0]), "--json", str(out_json)]) == 0
    text = capsys.readouterr().out
    for heading in ("kink hits per node", "gradient under each convention", "largest disagreement",
                    "gradient elements that depend on the convention"):
        assert heading in text
    report = json.loads(out_json.read_text())
    nodes = {name: op for name, op in kg.onnx.load(cnn_files[0]).nodes}
    assert report["node_hits"] and all(nodes[r["node"]] == r["onnx_op"] for r in report["node_hits"])
    pools = [r for r in report["node_hits"] if r["onnx_op"] == "MaxPool"]
    assert pools and pools[0]["op"] == "max_pool2d" and pools[0]["at_kink"] > 0   # relu's zeros tie in windows
    assert set(report["conventions"]) == set(CONVENTIONS)
    assert report["conventions"]["default"]["relative_difference_from_default"] == 0
    worst = report["largest_disagreement"]["relative_norm"]
    assert all(v["relative_difference_from_default"] <= worst + 1e-12 for v in report["conventions"].values())
    assert report["gradient_elements"] == 16 * 3 * 16 * 16
    for row in report["node_hits"]:
        assert f"{row['node']}" in text


def test_float16_export_has_more_kink_hits_than_float32(cnn_files):
    r32, r16 = audit_model(cnn_files[0]), audit_model(cnn_files[1])
    hits32 = sum(r["at_kink"] for r in r32["node_hits"])
    hits16 = sum(r["at_kink"] for r in r16["node_hits"])
    assert hits16 > hits32
    assert {r["dtype"] for r in r16["node_hits"] if r["op"] in ("relu", "max_pool2d")} == {"float16"}
    assert r16["convention_dependent_elements"] >= r32["convention_dependent_elements"]


def test_gradients_are_those_of_each_preset(tmp_path):
    """The reported norms are the norms of kg.grad under each preset for the same batch and cotangent."""
    model, inputs = M.residual(engineered=True)
    path = M.export(model, inputs, tmp_path / "res.onnx")
    np.save(tmp_path / "x.npy", inputs[0])
    report = audit_model(path, inputs=tmp_path / "x.npy", seed=3)
    loaded = kg.onnx.load(path)
    rng = np.random.default_rng(3)
    w = rng.standard_normal((2, 4, 5, 5)).astype(np.float32)          # the audit's cotangent (first draw)
    for preset in CONVENTIONS:
        g = kg.grad(lambda x: (loaded(x) * w).sum(), kinks=preset, seed=3)(inputs[0])
        assert report["conventions"][preset]["norm"] == pytest.approx(float(np.linalg.norm(g.numpy())), rel=1e-6)
    assert report["conventions"]["torch"]["relative_difference_from_default"] > 0    # clamp at its bounds
    assert report["convention_dependent_elements"] > 0
    assert {r["op"] for r in report["node_hits"] if r["at_kink"]} >= {"clip", "relu6"}


def test_wrt_weights_and_npz_inputs(tmp_path, capsys):
    model, inputs = M.abs_max_min_where(engineered=True)
    path = M.export(model, inputs, tmp_path / "amw.onnx")
    names = kg.onnx.load(path).input_names
    np.savez(tmp_path / "in.npz", **dict(zip(names, inputs)))
    assert main(["audit", str(path), "--inputs", str(tmp_path / "in.npz"), "--wrt", "weights"]) == 0
    text = capsys.readouterr().out
    assert "with respect to the weights: 30 elements" in text        # lin.weight (5x5) and lin.bias (5)
    np.save(tmp_path / "one.npy", inputs[0])
    with pytest.raises(ValueError, match="2 inputs .*give an .npz"):
        audit_model(path, inputs=tmp_path / "one.npy")
    np.savez(tmp_path / "objects.npz", **{names[0]: np.array([{"a": 1}], dtype=object), names[1]: inputs[1]})
    with pytest.raises(ValueError, match="pickle"):                 # object arrays are never unpickled
        audit_model(path, inputs=tmp_path / "objects.npz")


def test_batch_needs_a_dynamic_batch_axis(tmp_path):
    model, inputs = M.mlp()
    fixed = M.export(model, inputs, tmp_path / "fixed.onnx", dynamo=False)
    with pytest.raises(ValueError, match="fixed batch of 5; --batch 8 needs a model exported with a dynamic"):
        audit_model(fixed, batch=8)
    dynamic = M.export(model, inputs, tmp_path / "dyn.onnx", dynamo=False, input_names=["x"],
                       dynamic_axes={"x": {0: "batch"}})
    report = audit_model(dynamic, batch=7)
    assert report["inputs"][0]["shape"] == [7, 6] and report["gradient_elements"] == 42


def test_integer_inputs_need_given_values(tmp_path):
    class Embed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(10, 4)

        def forward(self, idx):
            return torch.relu(self.emb(idx))

    path = M.export(Embed(), (np.array([[1, 2, 3]]),), tmp_path / "emb.onnx", dynamo=False)
    with pytest.raises(ValueError, match="int64: random values would mean nothing; give --inputs"):
        audit_model(path)
    np.save(tmp_path / "idx.npy", np.array([[4, 4, 9]]))
    report = audit_model(path, inputs=tmp_path / "idx.npy", wrt="weights")
    assert report["gradient_elements"] == 40


def test_python_dash_m_kinkgrad_audit(cnn_files):
    res = subprocess.run([sys.executable, "-m", "kinkgrad", "audit", str(cnn_files[1])], capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "max_pool2d" in res.stdout and "float16" in res.stdout


def test_bad_files_exit_with_a_message(tmp_path, capsys):
    assert main(["audit", str(tmp_path / "missing.onnx")]) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    assert main(["audit", str(tmp_path / "junk.onnx")]) == 2
    assert "not a valid ONNX model" in capsys.readouterr().err
