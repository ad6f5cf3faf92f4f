"""``kg.onnx.export``: run a kinkgrad computation once, record the primitives it applies
(``kg.record_ops``) and write them as an ONNX graph.

The example inputs become the graph's inputs (their shapes fixed, as in a trace), a module's
Parameters its initializers under their names, and any other value the computation used (a NumPy
array, a Python number, a tensor made inside it) a constant. A second run on the same input values
in another order checks that no such constant, and no op, depends on the values (``trace``): export
refuses rather than freeze the example's answer. Max pooling is written as one MaxPool (its windows
and -inf padding recognised), so the tie rule of ``max_pool2d`` applies again after import. The
result is checked by ``onnx.checker``.
"""
from __future__ import annotations

import numpy as np

import kinkgrad

from ..nn.module import Module
from ..ops.factories import as_tensor, tensor
from ..tensor import Tensor
from . import lower_array, lower_math  # noqa: F401  (they fill the table of lowerings)
from .errors import OnnxUnsupportedError, require_onnx
from .lowering import LOWER
from .trace import check_constants, trace

EXPORT_OPSETS = range(14, 22)


def export(module_or_fn, example_inputs, path=None, opset=20, *, input_names=None, output_names=None):
    """Write ``module_or_fn(*example_inputs)`` as an ONNX model (to ``path`` when given) and return the
    ``onnx.ModelProto``. A module is traced in eval mode (dropout off, stored normalisation
    statistics), then put back in the mode it was in."""
    onnx = require_onnx()
    if opset not in EXPORT_OPSETS:
        raise ValueError(f"kg.onnx.export: opset {opset} is not supported; choose one of "
                         f"{EXPORT_OPSETS.start}-{EXPORT_OPSETS.stop - 1} (default 20)")
    inputs = _as_inputs(example_inputs)
    names = dict(_names_from(module_or_fn))
    input_names = list(input_names or names.get("inputs") or _default_names("input", len(inputs)))
    if len(input_names) != len(inputs):
        raise ValueError(f"kg.onnx.export: {len(input_names)} input names for {len(inputs)} example inputs")
    records, outputs = trace(module_or_fn, inputs)
    check_constants(module_or_fn, inputs, records)
    outs = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
    if not outs or not all(isinstance(o, Tensor) for o in outs):
        raise TypeError(f"kg.onnx.export: the computation must return a Tensor or a tuple of Tensors, got "
                        f"{type(outputs).__name__}")
    output_names = list(output_names or names.get("outputs") or _default_names("output", len(outs)))
    if len(output_names) != len(outs):
        raise ValueError(f"kg.onnx.export: {len(output_names)} output names for {len(outs)} outputs")
    b = _Builder(onnx, opset, records, names.get("params", {}), names.get("buffers", {}))
    for name, t in zip(input_names, inputs):
        b.add_input(name, t)
    b.lower_needed(outs)
    for name, t in zip(output_names, outs):
        b.add_output(name, t)
    model = b.model()
    onnx.checker.check_model(model, full_check=True)
    if path is not None:
        onnx.save(model, path)
    return model


def export_onnx(self, path, example_inputs=None, opset=20, **names):
    """Write this model as an ONNX file (``kg.onnx.export``, traced in eval mode). ``example_inputs``
    may be left out when the model knows its input shape (an imported ONNX model, a first layer
    built with ``input_shape`` / ``in_features``); a batch of one is then used."""
    inputs = example_inputs if example_inputs is not None else example_inputs_for(self)
    return export(self, inputs, path, opset, **names)


Module.export_onnx = export_onnx        # every model gets the method from here (nn knows nothing of ONNX)


def example_inputs_for(module):
    """A batch of one of the shape a module declares (an imported ONNX model, a first layer built with
    ``input_shape`` / ``in_features``), for ``Module.export_onnx`` without inputs: seeded normal values
    for floats (distinct values, so the export's constant check can tell them apart), zeros otherwise."""
    rng = np.random.default_rng(0)

    def batch(shape, dtype):
        dtype = np.dtype(dtype)
        return rng.standard_normal(shape).astype(dtype) if dtype.kind == "f" else np.zeros(shape, dtype)

    if hasattr(module, "inputs") and hasattr(module, "input_names"):          # an imported ONNX model
        return tuple(batch([d if isinstance(d, int) and d > 0 else 1 for d in (shape or ())], dtype)
                     for _, dtype, shape in module.inputs)
    first = module
    while getattr(first, "layers", None):
        first = first.layers[0]
    dtype = np.dtype(getattr(first, "dtype", None) or np.float32)
    if getattr(first, "input_shape", None):
        return (batch((1,) + tuple(first.input_shape), dtype),)
    if getattr(first, "in_features", None):
        return (batch((1, first.in_features), dtype),)
    raise ValueError(f"export_onnx: cannot tell the input shape of {type(module).__name__}; pass example_inputs, "
                     "e.g. model.export_onnx(path, (x,)) with x a batch of real inputs")


def _as_inputs(example_inputs):
    items = example_inputs if isinstance(example_inputs, (tuple, list)) else (example_inputs,)
    out = []
    for x in items:
        t = x if isinstance(x, Tensor) else as_tensor(x) if isinstance(x, np.ndarray) else tensor(x)
        out.append(t.detach() if t.requires_grad else t)
    return out


def _default_names(prefix, n):
    return [prefix] if n == 1 else [f"{prefix}_{i}" for i in range(n)]


def _names_from(obj):
    """Parameter names (and, for an imported ONNX model, its input, output and buffer names)."""
    if isinstance(obj, Module):
        yield "params", {id(p): name for name, p in obj.named_parameters()}
        yield "buffers", {id(np.asarray(v)): name for name, v in obj.named_buffers()}
        if hasattr(obj, "input_names") and hasattr(obj, "output_names"):
            yield "inputs", obj.input_names
            yield "outputs", obj.output_names


class _Builder:
    """Collects ONNX nodes, initializers and names while the records are lowered."""

    def __init__(self, onnx, opset, records, param_names, buffer_names):
        self.onnx, self.opset = onnx, opset
        self.records = records
        self.producer = {id(r.output): r for r in records}
        self.by_data = {id(r.output.data): r.output for r in records}     # ops handed a Tensor's array
        self.param_names, self.buffer_names = param_names, buffer_names
        self.names = {}                   # id(Tensor) -> ONNX value name
        self.keep = []                    # the tensors named, kept alive so their ids stay theirs
        self.nodes, self.initializers, self.inputs, self.outputs = [], [], [], []
        self.output_names = []
        self.counter = 0
        self.taken = set()

    # -- names ----------------------------------------------------------------------------------------
    def fresh(self, hint):
        self.counter += 1
        name = f"{hint}_{self.counter}"
        self.taken.add(name)
        return name

    def onnx_type(self, dtype):
        return self.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))

    def add_input(self, name, t):
        self.names[id(t)] = name
        self.keep.append(t)
        self.taken.add(name)
        self.inputs.append(self.onnx.helper.make_tensor_value_info(name, self.onnx_type(t.dtype), list(t.shape)))

    def add_output(self, name, t):
        """Name the output: rename the node output that computed it, or copy it (an input, a constant, or
        a value already given out under another name) through an Identity node."""
        src = self.value(t)
        if name in self.taken and name != src:
            raise ValueError(f"kg.onnx.export: output name {name!r} is already used by another value")
        producing = [node for node in self.nodes if src in node.output]
        if producing and src not in self.output_names:
            for node in self.nodes:
                node.input[:] = [name if v == src else v for v in node.input]
            producing[0].output[:] = [name if v == src else v for v in producing[0].output]
            self.names = {k: (name if v == src else v) for k, v in self.names.items()}
        elif src != name:
            self.nodes.append(self.onnx.helper.make_node("Identity", [src], [name], name=self.fresh("Identity")))
        self.taken.add(name)
        self.output_names.append(name)
        self.outputs.append(self.onnx.helper.make_tensor_value_info(name, self.onnx_type(t.dtype), list(t.shape)))

    def const(self, array, hint="const"):
        """A constant as a Constant node: on import it stays a constant (initializers are weights)."""
        name = self.fresh(hint)
        tensor = self.onnx.numpy_helper.from_array(np.array(array, order="C"), name)
        self.nodes.append(self.onnx.helper.make_node("Constant", [], [name], name=self.fresh("Constant"), value=tensor))
        return name

    def traced_of(self, v):
        """The recorded Tensor behind ``v`` (itself, or the Tensor whose array an op was handed), or None."""
        if isinstance(v, Tensor):
            return v if id(v) in self.producer else None
        return self.by_data.get(id(v)) if isinstance(v, np.ndarray) else None

    def value(self, v, dtype=None, scalar=False):
        """The ONNX name of a traced value: an input, a node's output, a Parameter (an initializer under
        its name) or a constant; cast to ``dtype`` when given and different."""
        traced = self.traced_of(v)
        v = traced if traced is not None else v
        if isinstance(v, Tensor):
            name = self.names.get(id(v))
            if name is None:
                name = self._leaf(v)
            if dtype is not None and np.dtype(dtype) != v.dtype:
                name = self.node("Cast", [name], to=self.onnx_type(dtype))
            if scalar and v.ndim:
                name = self.node("Reshape", [name, self.const(np.array([], np.int64))])
            return name
        arr = np.asarray(v, dtype=dtype)
        return self.const(arr.reshape(()) if scalar else arr)

    def _leaf(self, t):
        """A tensor no recorded op produced: a Parameter or a named buffer (an initializer under its name),
        or a constant made outside the trace (a Constant node)."""
        if id(t) in self.producer:
            raise RuntimeError("internal: a recorded value was used before its op was lowered")
        name = self.param_names.get(id(t)) or self.buffer_names.get(id(t.data))
        if name is None:
            name = self.const(t.data)
        else:
            if name in self.taken:
                name = self.fresh(name)
            self.taken.add(name)
            self.initializers.append(self.onnx.numpy_helper.from_array(np.array(t.data, order="C"), name))
        self.names[id(t)] = name
        self.keep.append(t)
        return name

    # -- nodes ----------------------------------------------------------------------------------------
    def node(self, op_type, inputs, outputs=1, **attrs):
        outs = [self.fresh(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), outs, name=self.fresh(op_type), **attrs))
        return outs[0] if outputs == 1 else outs

    def reduce(self, op_type, x, axes, keepdims):
        """Reduce* with axes as an input (opset 18 and later, and ReduceSum from 13) or an attribute."""
        axes = [int(a) for a in axes]
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.node(op_type, [x, self.const(np.array(axes, np.int64))], keepdims=int(keepdims))
        return self.node(op_type, [x], axes=axes, keepdims=int(keepdims))

    # -- lowering -------------------------------------------------------------------------------------
    def lower_needed(self, outputs):
        """Lower the records the outputs depend on, in recorded (execution) order."""
        needed, stack = set(), [o for o in outputs]
        while stack:
            t = stack.pop()
            rec = self.producer.get(id(t)) if isinstance(t, Tensor) else None
            if rec is None or id(rec) in needed:
                continue
            needed.add(id(rec))
            stack.extend(self._reads(rec))
        for rec in self.records:
            if id(rec) in needed:
                self.names[id(rec.output)] = self._lower(rec)
                self.keep.append(rec.output)

    def _reads(self, rec):
        pool = self._max_pool(rec) if rec.prim.name == "max_pool2d" else None
        if pool:
            return [pool[0]]
        index = rec.params.get("index", ()) if rec.prim.name == "getitem" else ()
        items = list(rec.inputs) + list(index if isinstance(index, tuple) else (index,))
        return [x if isinstance(x, Tensor) else self.traced_of(x) for x in items
                if isinstance(x, Tensor) or self.traced_of(x) is not None]

    def _lower(self, rec):
        name = rec.prim.name
        if name == "max_pool2d":
            pool = self._max_pool(rec)
            if pool is not None:
                source, k, s, pads = pool
                return self.node("MaxPool", [self.value(source)], kernel_shape=list(k), strides=list(s),
                                 pads=[pads[0][0], pads[1][0], pads[0][1], pads[1][1]])
            return self.reduce("ReduceMax", self.value(rec.inputs[0]), rec.params["axis"], rec.params["keepdims"])
        if name not in LOWER:
            raise OnnxUnsupportedError(f"kg.onnx.export: the kinkgrad op {name!r} has no ONNX lowering; exportable "
                                       f"ops: {', '.join(sorted(LOWER) + ['max_pool2d'])}")
        return LOWER[name](self, rec)

    def _max_pool(self, rec):
        """(source, kernel, strides, ((top, bottom), (left, right))) when this max over window axes is
        kg.max_pool2d's: windows2d (axes 4, 5) or the non-overlapping reshape (axes 3, 5), after an
        optional -inf padding of the last two axes."""
        x = rec.inputs[0]
        prod = self.producer.get(id(x))
        axis = tuple(rec.params["axis"])
        if prod is None or rec.params["keepdims"]:
            return None
        if prod.prim.name == "windows2d" and axis == (4, 5) and tuple(prod.params.get("d", (1, 1))) == (1, 1):
            source, k, s = prod.inputs[0], tuple(prod.params["k"]), tuple(prod.params["s"])
        elif prod.prim.name == "reshape" and axis == (3, 5) and len(x.shape) == 6:
            source = prod.inputs[0]
            n, c, oh, k0, ow, k1 = x.shape
            if not isinstance(source, Tensor) or tuple(source.shape) != (n, c, oh * k0, ow * k1):
                return None
            k = s = (k0, k1)
        else:
            return None
        pads = ((0, 0), (0, 0))
        padder = self.producer.get(id(source))
        if padder is not None and padder.prim.name == "pad" and padder.params.get("value") == -np.inf:
            widths = padder.params["pad_width"]
            if all(w == (0, 0) for w in widths[:-2]):
                source, pads = padder.inputs[0], tuple(widths[-2:])
        return source, k, s, pads

    def model(self):
        onnx = self.onnx
        graph = onnx.helper.make_graph(self.nodes, "kinkgrad", self.inputs, self.outputs, self.initializers)
        opsets = [onnx.helper.make_opsetid("", self.opset)]
        model = onnx.helper.make_model(graph, opset_imports=opsets, producer_name="kinkgrad",
                                       producer_version=kinkgrad.__version__)
        model.ir_version = min(model.ir_version, _IR_FOR_OPSET.get(self.opset, 10))
        return model


# the IR version each opset first shipped with (ONNX's versioning table), so that runtimes of that
# generation accept the file
_IR_FOR_OPSET = {14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10}
