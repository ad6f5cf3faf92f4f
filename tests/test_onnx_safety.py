"""Reading ONNX files safely and refusing clearly: truncated or malformed files, unsupported operators,
opsets and attributes, external data outside the model's directory; loading never runs code from the
file; a missing onnx package names the extra to install."""
import pathlib
import re
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, numpy_helper
from onnx import helper as h

import kinkgrad as kg
import onnx_models as M
from kinkgrad.onnx import OnnxFormatError, OnnxUnsupportedError


def tiny_model(nodes=None, inputs=None, outputs=None, inits=(), opset=20, ir=8):
    nodes = nodes if nodes is not None else [h.make_node("Relu", ["x"], ["y"], name="act")]
    inputs = inputs if inputs is not None else [h.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])]
    outputs = outputs if outputs is not None else [h.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])]
    model = h.make_model(h.make_graph(nodes, "g", inputs, outputs, list(inits)),
                         opset_imports=[h.make_opsetid("", opset)])
    model.ir_version = ir
    return model


def kg_exported_bytes():
    w = np.arange(12, dtype=np.float32).reshape(3, 4) / 10
    model = kg.onnx.export(lambda x: kg.relu(x @ w), (np.ones((2, 3), np.float32),))
    return model.SerializeToString()


# -- truncated and malformed files ------------------------------------------------------------------
def test_every_truncation_of_a_small_model_is_refused(tmp_path):
    data = kg_exported_bytes()
    assert kg.onnx.load(data)(np.ones((2, 3), np.float32)).shape == (2, 4)
    path = tmp_path / "cut.onnx"
    for cut in range(len(data)):
        path.write_bytes(data[:cut])
        with pytest.raises(OnnxFormatError, match="cut.onnx") as info:
            kg.onnx.load(path)
        assert "truncated" in str(info.value) or "not" in str(info.value), str(info.value)


def test_truncated_pytorch_export_is_refused(tmp_path):
    model, inputs = M.mlp()
    path = M.export(model, inputs, tmp_path / "mlp.onnx")
    data = path.read_bytes()
    proto = onnx.load(str(path))
    required = len(data) - sum(len(p.SerializeToString()) + 4 for p in proto.metadata_props)
    for fraction in np.linspace(0.02, 0.98, 25):
        cut = int(fraction * required)
        (tmp_path / "cut.onnx").write_bytes(data[:cut])
        with pytest.raises(OnnxFormatError):
            kg.onnx.load(tmp_path / "cut.onnx")


@pytest.mark.parametrize("data", [b"", b"\x00" * 64, b"hello, this is not a model\n" * 20, bytes(range(256)) * 4,
                                  b'{"graph": []}', b"\x89PNG\r\n\x1a\n" + b"\x00" * 100],
                         ids=["empty", "zeros", "text", "bytes", "json", "png"])
def test_non_onnx_data_is_refused(data, tmp_path):
    path = tmp_path / "bad.onnx"
    path.write_bytes(data)
    with pytest.raises(OnnxFormatError, match="bad.onnx"):
        kg.onnx.load(path)


def test_inconsistent_graphs_are_refused():
    with pytest.raises(OnnxFormatError, match="node 'act' \\(Relu\\) reads 'missing'"):
        kg.onnx.load(tiny_model([h.make_node("Relu", ["missing"], ["y"], name="act")]))
    twice = [h.make_node("Relu", ["x"], ["y"], name="a"), h.make_node("Neg", ["x"], ["y"], name="b")]
    with pytest.raises(OnnxFormatError, match="writes 'y', which is already defined"):
        kg.onnx.load(tiny_model(twice))
    with pytest.raises(OnnxFormatError, match="graph output 'z' is produced by no node"):
        kg.onnx.load(tiny_model(outputs=[h.make_tensor_value_info("z", TensorProto.FLOAT, [2])]))
    bad = numpy_helper.from_array(np.ones(6, np.float32), "w")
    bad.dims[:] = [7]                                          # 6 values stored, 7 declared
    node = [h.make_node("Add", ["x", "w"], ["y"], name="add")]
    with pytest.raises(OnnxFormatError, match="initializer 'w'"):
        kg.onnx.load(tiny_model(node, inits=[bad]))
    no_opset = tiny_model()
    del no_opset.opset_import[:]
    with pytest.raises(OnnxFormatError, match="declares no opset"):
        kg.onnx.load(no_opset)
    with pytest.raises(TypeError, match="expects a path, bytes or an onnx.ModelProto"):
        kg.onnx.load(42)
    with pytest.raises(FileNotFoundError):
        kg.onnx.load("/nonexistent/model.onnx")


# -- unsupported: named, with what is supported ------------------------------------------------------
def test_unsupported_operator_names_node_op_and_the_supported_list():
    nodes = [h.make_node("Relu", ["x"], ["r"], name="first"),
             h.make_node("NonMaxSuppression", ["r"], ["y"], name="nms")]
    with pytest.raises(OnnxUnsupportedError) as info:
        kg.onnx.load(tiny_model(nodes))
    msg = str(info.value)
    assert "node 'nms' uses op 'NonMaxSuppression'" in msg and "Supported operators:" in msg and "MaxPool" in msg


def test_unsupported_domain():
    node = h.make_node("FusedConv", ["x"], ["y"], name="fused", domain="com.microsoft")
    model = tiny_model([node])
    model.opset_import.append(h.make_opsetid("com.microsoft", 1))
    with pytest.raises(OnnxUnsupportedError, match="'FusedConv' of domain 'com.microsoft'"):
        kg.onnx.load(model)


@pytest.mark.parametrize("opset, hint", [(11, "convert_version"), (12, "convert_version"), (23, "lower opset")])
def test_unsupported_opset(opset, hint):
    with pytest.raises(OnnxUnsupportedError, match=f"opset {opset} is not supported; supported: opsets 13-22.*{hint}"):
        kg.onnx.load(tiny_model(opset=opset))


@pytest.mark.parametrize("node, match", [
    (h.make_node("Relu", ["x"], ["y"], name="r", alpha=1.0), "node 'r' \\(Relu\\): attribute 'alpha' is not supported"),
    (h.make_node("Gelu", ["x"], ["y"], name="g", approximate="erf"),
     "node 'g' \\(Gelu\\): approximate='erf' is not supported; supported: 'none', 'tanh'"),
    (h.make_node("MaxPool", ["x"], ["y"], name="p", kernel_shape=[2], dilations=[2]), "dilations=\\[2\\]"),
    (h.make_node("MaxPool", ["x"], ["y", "i"], name="p", kernel_shape=[2]), "the Indices output"),
    (h.make_node("Pad", ["x"], ["y"], name="p", mode="mirror"), "mode='mirror'"),
    (h.make_node("Cast", ["x"], ["y"], name="c", to=TensorProto.STRING), "cast to ONNX type 8"),
    (h.make_node("Shrink", ["x"], ["y"], name="s", bias=0.2, lambd=0.5), "bias=0 \\(hardshrink\\)"),
    (h.make_node("If", ["x"], ["y"], name="branch", then_branch=h.make_graph([], "t", [], []),
                 else_branch=h.make_graph([], "e", [], [])), "node 'branch' uses op 'If'"),
], ids=["attribute", "value", "dilations", "indices", "pad-mode", "cast-string", "shrink", "subgraph"])
def test_unsupported_attributes_name_node_and_alternatives(node, match):
    with pytest.raises(OnnxUnsupportedError, match=match):
        kg.onnx.load(tiny_model([node]))


def test_unsupported_at_run_time_names_the_node():
    node = h.make_node("Conv", ["x", "w"], ["y"], name="conv3d")
    inputs = [h.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 3, 3, 3]),
              h.make_tensor_value_info("w", TensorProto.FLOAT, [1, 1, 2, 2, 2])]
    model = kg.onnx.load(tiny_model([node], inputs=inputs))
    with pytest.raises(OnnxUnsupportedError, match="'conv3d' \\(Conv\\): a 5-D input.*1-D and 2-D"):
        model(np.ones((1, 1, 3, 3, 3), np.float32), np.ones((1, 1, 2, 2, 2), np.float32))


def test_string_and_bfloat16_tensors_are_refused():
    strings = h.make_tensor("s", TensorProto.STRING, [1], [b"x"])
    with pytest.raises(OnnxUnsupportedError, match="initializer 's' has type string"):
        kg.onnx.load(tiny_model(inits=[strings]))
    bf16 = [h.make_tensor_value_info("x", TensorProto.BFLOAT16, [2, 3])]
    with pytest.raises(OnnxUnsupportedError, match="graph input 'x' has type bfloat16"):
        kg.onnx.load(tiny_model(inputs=bf16))


def test_wrong_inputs_are_named():
    model = kg.onnx.load(tiny_model())
    with pytest.raises(ValueError, match="input 'x' expects shape \\(2, 3\\).*got \\(3, 2\\)"):
        model(np.ones((3, 2), np.float32))
    with pytest.raises(TypeError, match="missing input\\(s\\) x"):
        model()
    with pytest.raises(TypeError, match="no input named 'z'"):
        model(z=np.ones((2, 3)))
    assert model(np.ones((2, 3))).dtype == np.float32           # float64 data converted to the declared type


# -- no code runs; files are read only inside the model's directory ---------------------------------------
def test_loading_never_executes_code_from_the_file(tmp_path, monkeypatch):
    sentinel = tmp_path / "pwned"
    payload = f"__import__('pathlib').Path({str(sentinel)!r}).write_text('ran')"
    monkeypatch.chdir(tmp_path)
    node = h.make_node("Relu", ["x"], ["y"], name=payload, doc_string=payload)
    node.metadata_props.add(key="namespace", value=payload)
    model = tiny_model([node])
    model.producer_name, model.doc_string = payload, payload
    model.metadata_props.add(key=payload, value=payload)
    loaded = kg.onnx.load(model.SerializeToString())
    loaded(np.ones((2, 3), np.float32))
    evil = [h.make_node(payload, ["x"], ["y"], name=payload, attr=payload)]       # as an op type and attribute
    with pytest.raises(OnnxUnsupportedError):
        kg.onnx.load(tiny_model(evil))
    evil_domain = tiny_model([h.make_node("Relu", ["x"], ["y"], domain=payload)])
    with pytest.raises(OnnxUnsupportedError):
        kg.onnx.load(evil_domain)
    assert not sentinel.exists()


def test_importer_sources_hold_no_code_execution_paths():
    src = pathlib.Path(kg.onnx.__file__).parent
    calls = re.compile(r"(?<![.\w])(eval|exec|compile|__import__)\(|import pickle|pickle\.|importlib|allow_pickle=True")
    for path in list(src.glob("*.py")) + [src.parent / "cli" / "audit.py"]:
        assert not calls.search(path.read_text()), (path.name, calls.search(path.read_text()))


def _external_model(location):
    w = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), "w")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value=location)
    w.external_data.add(key="length", value="24")
    return tiny_model([h.make_node("Add", ["x", "w"], ["y"], name="add")], inits=[w])


def test_external_data_is_read_only_inside_the_models_directory(tmp_path):
    (tmp_path / "models").mkdir()
    np.arange(6, dtype=np.float32).tofile(tmp_path / "models" / "w.bin")
    np.arange(6, dtype=np.float32).tofile(tmp_path / "secret.bin")
    (tmp_path / "models" / "link.bin").symlink_to(tmp_path / "secret.bin")
    good = tmp_path / "models" / "good.onnx"
    good.write_bytes(_external_model("w.bin").SerializeToString())
    np.testing.assert_array_equal(kg.onnx.load(good)(np.zeros((2, 3), np.float32)).numpy(),
                                  np.arange(6).reshape(2, 3))
    for location, match in (("../secret.bin", "only relative paths inside"), (str(tmp_path / "secret.bin"),
                            "only relative paths inside"), ("link.bin", "resolves outside")):
        bad = tmp_path / "models" / "bad.onnx"
        bad.write_bytes(_external_model(location).SerializeToString())
        with pytest.raises(OnnxFormatError, match=match):
            kg.onnx.load(bad)
    with pytest.raises(OnnxFormatError, match="load the model from its path"):
        kg.onnx.load(_external_model("w.bin").SerializeToString())


def test_missing_onnx_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match='pip install "kinkgrad\\[onnx\\]"'):
        kg.onnx.load(b"")
    with pytest.raises(ImportError, match='pip install "kinkgrad\\[onnx\\]"'):
        kg.onnx.export(kg.relu, (np.ones(2),))
    code = "import sys; sys.modules['onnx'] = None; import kinkgrad as kg; print(kg.relu(kg.tensor([1.0])))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
