"""Reading an ONNX model safely: decode the protobuf, check the graph, convert tensors and attributes.

Nothing in the file is executed: a model is protobuf data (operator names, attributes, tensors), and
only the operators of ``optable`` can run. Tensors stored in external files are read only from
relative paths inside the model's own directory (no absolute paths, no ``..``, no symbolic links
out), so a file cannot make kinkgrad read elsewhere. Every inconsistency (truncation, undefined
inputs, sizes that do not match the dims) is an ``OnnxFormatError`` naming the file and the part.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from . import ops_math, ops_nn, ops_shape  # noqa: F401  (they fill the operator table)
from .errors import OnnxFormatError, OnnxUnsupportedError, require_onnx
from .optable import DTYPE_NAMES, DTYPES, OPS, OPSETS, NodeInfo

_DEFAULT_DOMAINS = ("", "ai.onnx")


@dataclass
class ValueInfo:
    name: str
    dtype: np.dtype
    shape: tuple        # ints for fixed dims, strings for named (symbolic) ones, None for unknown


@dataclass
class GraphNode:
    info: NodeInfo
    inputs: list        # value names ("" = an omitted optional input)
    outputs: list


@dataclass
class Graph:
    source: str
    inputs: list        # ValueInfo of the graph's real inputs (initializers excluded)
    outputs: list       # ValueInfo of the outputs
    initializers: dict  # name -> ndarray
    nodes: list         # GraphNode, in execution order
    opset: int


def supported_ops():
    """The ONNX operators (default domain) the importer runs, sorted."""
    return sorted(OPS)


def read(source):
    """A ``Graph`` from a path, bytes, or an ``onnx.ModelProto``."""
    onnx = require_onnx()
    model, where, base_dir = _decode(onnx, source)
    if model.functions:
        try:
            model = onnx.inliner.inline_local_functions(model)
        except Exception as e:      # noqa: BLE001  (the inliner raises several C++-side error types)
            raise OnnxFormatError(f"{where}: its model-local functions could not be inlined: {e}") from None
    return _graph(onnx, model, where, base_dir)


def _decode(onnx, source):
    if isinstance(source, onnx.ModelProto):
        return source, "the given ONNX model", None
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, where, base_dir = bytes(source), "the given ONNX bytes", None
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"kg.onnx.load: no such file: {path}")
        with open(path, "rb") as f:
            data = f.read()
        where, base_dir = path, os.path.dirname(os.path.abspath(path))
    else:
        raise TypeError(f"kg.onnx.load: expects a path, bytes or an onnx.ModelProto, got {type(source).__name__}")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception as e:      # noqa: BLE001  (protobuf's DecodeError, or RuntimeError from its C++ backend)
        raise OnnxFormatError(f"{where}: not a valid ONNX model: the protobuf data does not decode ({e}); the file "
                              f"is truncated, corrupt or not an ONNX file ({len(data)} bytes)") from None
    if not model.HasField("graph") or model.ir_version <= 0:
        raise OnnxFormatError(f"{where}: not a valid ONNX model: no {'graph' if model.ir_version else 'ir_version'} "
                              f"(the file is truncated or not an ONNX file, {len(data)} bytes)")
    return model, where, base_dir


def _opset(model, where):
    versions = {imp.domain: imp.version for imp in model.opset_import}
    default = [versions[d] for d in _DEFAULT_DOMAINS if d in versions]
    if not default:
        raise OnnxFormatError(f"{where}: declares no opset for the default ONNX domain (opset_import is empty or "
                              "truncated)")
    version = default[0]
    if version not in OPSETS:
        hint = ("convert it first: onnx.version_converter.convert_version(model, 17)" if version < OPSETS.start
                else "export it with a lower opset (torch.onnx.export(..., opset_version=20))")
        raise OnnxUnsupportedError(f"{where}: opset {version} is not supported; supported: opsets "
                                   f"{OPSETS.start}-{OPSETS.stop - 1} of the default domain; {hint}")
    return version


def _graph(onnx, model, where, base_dir):
    opset = _opset(model, where)
    g = model.graph
    if g.sparse_initializer:
        raise OnnxUnsupportedError(f"{where}: sparse initializers are not supported (dense initializers are)")
    inits = {}
    for t in g.initializer:
        inits[t.name] = tensor_to_array(onnx, t, where, base_dir)
    inputs = [_value_info(v, where) for v in g.input if v.name not in inits]
    outputs = [_value_info(v, where, need_type=False) for v in g.output]
    defined = set(inits) | {v.name for v in inputs}
    nodes = []
    problems = []
    for index, node in enumerate(g.node):
        name = node.name or f"{node.op_type}_{index}"
        if node.domain not in _DEFAULT_DOMAINS or node.op_type not in OPS:
            problems.append(_unsupported_op(node, name))
            defined.update(node.output)
            continue
        for v in node.input:
            if v and v not in defined:
                raise OnnxFormatError(
                    f"{where}: node {name!r} ({node.op_type}) reads {v!r}, which no earlier node, initializer or "
                    "graph input defines (nodes must be in execution order; the file may be truncated or malformed)")
        spec = OPS[node.op_type]
        info = NodeInfo(name, node.op_type, _attributes(onnx, node, name, spec, where, base_dir), opset,
                        n_outputs=len(node.output), metadata=_metadata(node))
        if spec.check is not None:
            spec.check(info)
        for v in node.output:
            if v and v in defined:
                raise OnnxFormatError(f"{where}: node {name!r} ({node.op_type}) writes {v!r}, which is already "
                                      "defined (ONNX values are assigned once)")
            defined.add(v)
        nodes.append(GraphNode(info, list(node.input), list(node.output)))
    if problems:
        raise OnnxUnsupportedError(f"{where}: " + "; ".join(problems) + f". Supported operators: "
                                   f"{', '.join(sorted(OPS))}")
    if not outputs:
        raise OnnxFormatError(f"{where}: the graph has no outputs (the file may be truncated)")
    for v in outputs:
        if v.name not in defined:
            raise OnnxFormatError(f"{where}: graph output {v.name!r} is produced by no node, initializer or input "
                                  "(the file may be truncated or malformed)")
    return Graph(where, inputs, outputs, inits, nodes, opset)


def _unsupported_op(node, name):
    if node.domain not in _DEFAULT_DOMAINS:
        return f"node {name!r} uses op {node.op_type!r} of domain {node.domain!r}, which is not supported (only " \
               "the default ONNX domain is)"
    return f"node {name!r} uses op {node.op_type!r}, which is not supported"


def _value_info(v, where, need_type=True):
    t = v.type
    if t.WhichOneof("value") != "tensor_type":
        if need_type:
            raise OnnxUnsupportedError(f"{where}: graph input {v.name!r} is a {t.WhichOneof('value')}, not a tensor; "
                                       "only tensor inputs are supported")
        return ValueInfo(v.name, None, None)
    elem = t.tensor_type.elem_type
    if elem not in DTYPES and (need_type or elem):
        raise OnnxUnsupportedError(f"{where}: graph {'input' if need_type else 'output'} {v.name!r} has type "
                                   f"{DTYPE_NAMES.get(elem, elem)}; supported: bool, integers, float16/32/64")
    shape = None
    if t.tensor_type.HasField("shape"):
        shape = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                      for d in t.tensor_type.shape.dim)
    return ValueInfo(v.name, np.dtype(DTYPES[elem]) if elem in DTYPES else None, shape)


def _metadata(node):
    """What the exporter recorded about the node's origin; here: the source framework's op, when
    torch.onnx's exporter wrote it (``namespace``: '...: aten.relu6.default')."""
    props = {p.key: p.value for p in node.metadata_props}
    namespace = props.get("namespace", "")
    source = namespace.rsplit(": ", 1)[-1].strip() if namespace else ""
    return {"source_op": source} if source else {}


def _attributes(onnx, node, name, spec, where, base_dir):
    attrs = dict(spec.attrs)
    A = onnx.AttributeProto
    for a in node.attribute:
        if a.name not in spec.attrs:
            known = ", ".join(sorted(spec.attrs)) or "none"
            raise OnnxUnsupportedError(f"{where}: node {name!r} ({node.op_type}): attribute {a.name!r} is not "
                                       f"supported; supported attributes: {known}")
        if a.ref_attr_name:
            raise OnnxFormatError(f"{where}: node {name!r} ({node.op_type}): attribute {a.name!r} refers to a "
                                  "function attribute outside a function")
        kind = a.type
        if kind == A.FLOAT:
            attrs[a.name] = float(a.f)
        elif kind == A.INT:
            attrs[a.name] = int(a.i)
        elif kind == A.STRING:
            attrs[a.name] = a.s.decode("utf-8", errors="replace")
        elif kind == A.FLOATS:
            attrs[a.name] = [float(v) for v in a.floats]
        elif kind == A.INTS:
            attrs[a.name] = [int(v) for v in a.ints]
        elif kind == A.TENSOR:
            attrs[a.name] = tensor_to_array(onnx, a.t, where, base_dir, f"attribute {a.name!r} of node {name!r}")
        else:
            kind_name = A.AttributeType.Name(kind)
            raise OnnxUnsupportedError(f"{where}: node {name!r} ({node.op_type}): attribute {a.name!r} of type "
                                       f"{kind_name} is not supported (subgraphs, sparse tensors and type protos "
                                       "are not)")
    return attrs


def tensor_to_array(onnx, t, where, base_dir, what=None):
    """A TensorProto's data as a NumPy array of its dims, external data read from inside ``base_dir``."""
    what = what or f"initializer {t.name!r}"
    if t.data_type not in DTYPES:
        raise OnnxUnsupportedError(f"{where}: {what} has type {DTYPE_NAMES.get(t.data_type, t.data_type)}; "
                                   "supported: bool, integers, float16/32/64")
    dtype = np.dtype(DTYPES[t.data_type])
    dims = tuple(int(d) for d in t.dims)
    if any(d < 0 for d in dims):
        raise OnnxFormatError(f"{where}: {what} has negative dims {dims}")
    if t.data_location == onnx.TensorProto.EXTERNAL:
        raw = _external_bytes(t, where, base_dir, what)
        arr = np.frombuffer(raw, dtype=dtype.newbyteorder("<"))
    else:
        try:
            arr = onnx.numpy_helper.to_array(t)
        except Exception as e:      # noqa: BLE001  (numpy/onnx raise ValueError, TypeError...)
            raise OnnxFormatError(f"{where}: {what} does not hold {int(np.prod(dims))} {dtype.name} values for "
                                  f"dims {dims} ({e}); the file may be truncated") from None
    if arr.size != int(np.prod(dims)):
        raise OnnxFormatError(f"{where}: {what} holds {arr.size} values but its dims {dims} need "
                              f"{int(np.prod(dims))}; the file may be truncated")
    return np.array(arr, dtype=dtype).reshape(dims)


def _external_bytes(t, where, base_dir, what):
    info = {e.key: e.value for e in t.external_data}
    location = info.get("location", "")
    if base_dir is None:
        raise OnnxFormatError(f"{where}: {what} is stored in an external file ({location!r}); load the model from its "
                              "path so the file can be found next to it")
    parts = location.replace("\\", "/").split("/")
    if not location or os.path.isabs(location) or ".." in parts or location.startswith("/"):
        raise OnnxFormatError(f"{where}: {what} names external data at {location!r}; only relative paths inside the "
                              "model's directory are read")
    path = os.path.realpath(os.path.join(base_dir, location))
    if os.path.commonpath([path, os.path.realpath(base_dir)]) != os.path.realpath(base_dir):
        raise OnnxFormatError(f"{where}: {what}: external data {location!r} resolves outside the model's directory")
    if not os.path.isfile(path):
        raise OnnxFormatError(f"{where}: {what}: external data file {location!r} not found next to the model")
    offset, length = int(info.get("offset", 0)), info.get("length")
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read(int(length)) if length is not None else f.read()
    if length is not None and len(data) != int(length):
        raise OnnxFormatError(f"{where}: {what}: external data {location!r} is shorter than its declared length")
    return data
