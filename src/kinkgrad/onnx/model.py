"""``kg.onnx.load``: an ONNX graph as a kinkgrad Module whose forward runs kinkgrad ops node by node.

Every node runs inside ``name_scope(<node name>)``, so ``kg.audit()`` counts kink hits per ONNX
node (``report.by_scope()``). Weights (float initializers) are Parameters named as in the file;
statistics (BatchNormalization's mean and variance), integer constants and 0-d scalars that exporters
lift out of the code (clip bounds, comparison thresholds, exponents) are buffers: saved with the
weights, not trained, not differentiated (``scalar_parameters=True`` makes the float scalars
Parameters too).
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ..context import name_scope
from ..nn import Model, Parameter
from ..ops.factories import as_tensor
from ..tensor import Tensor
from .optable import OPS
from .reading import read


def load(source, *, scalar_parameters=False, source_ops=True):
    """Build a ``kg.nn.Module`` from an ONNX model (a path, bytes or an ``onnx.ModelProto``).

    ``source_ops``: where the exporter recorded which framework op a node came from (torch.onnx's
    dynamo exporter does), use the kinkgrad op with that op's kink convention when ONNX has no op of
    its own (PyTorch's relu6 / hardtanh are exported as Clip: same values, 0 at the bounds where
    clamp gives 1). Unsupported operators, opsets, attributes or types raise
    ``OnnxUnsupportedError`` naming the node; an invalid or truncated file ``OnnxFormatError``.
    """
    return OnnxModule(read(source), scalar_parameters=scalar_parameters, source_ops=source_ops)


class OnnxModule(Model):
    """An ONNX graph run by kinkgrad: call it with the graph's inputs (positionally in the file's
    order, or by name); returns one Tensor, or a tuple for several outputs. A ``kg.nn.Model``: it
    fine-tunes with ``compile``/``fit`` or any optimizer, and saves with ``save_weights``.

    ``inputs`` / ``outputs``: (name, dtype, shape) of the graph's inputs and outputs (a shape entry is
    an int, a dimension name, or None); ``nodes``: (name, op type) in execution order."""

    def __init__(self, graph, scalar_parameters=False, source_ops=True):
        super().__init__()
        self.source, self.opset = graph.source, graph.opset
        self.inputs = [(v.name, v.dtype, v.shape) for v in graph.inputs]
        self.outputs = [(v.name, v.dtype, v.shape) for v in graph.outputs]
        self.nodes = [(node.info.name, node.info.op_type) for node in graph.nodes]
        self._graph = graph
        if not source_ops:
            for node in graph.nodes:
                node.info.metadata = {}
        uses, stat_uses = {}, {}
        for node in graph.nodes:
            stats = OPS[node.info.op_type].statistics
            for slot, name in enumerate(node.inputs):
                uses[name] = uses.get(name, 0) + 1
                stat_uses[name] = stat_uses.get(name, 0) + (slot in stats)
        self._params, self._buffers_by_name = OrderedDict(), OrderedDict()
        for name, arr in graph.initializers.items():
            weight = arr.dtype.kind == "f" and (arr.ndim > 0 or scalar_parameters)
            only_statistics = stat_uses.get(name, 0) and stat_uses[name] == uses[name]
            if weight and not only_statistics:
                self._params[name] = Parameter(arr)
            else:
                self._buffers_by_name[name] = arr
        # values are dropped once no later node reads them (memory of long graphs)
        last = {}
        for i, node in enumerate(graph.nodes):
            for name in node.inputs:
                last[name] = i
        keep = {v.name for v in graph.outputs}
        self._free_after = [[] for _ in graph.nodes]
        for name, i in last.items():
            if name and name not in keep and name not in graph.initializers:
                self._free_after[i].append(name)

    # -- parameters and buffers under their ONNX names --------------------------------------------------
    def _own_parameters(self):
        return list(self._params.items())

    def _own_buffers(self):
        return list(self._buffers_by_name.items())

    def _set_buffer(self, dotted, value):
        self._buffers_by_name[dotted] = value

    @property
    def input_names(self):
        return [name for name, _, _ in self.inputs]

    @property
    def output_names(self):
        return [name for name, _, _ in self.outputs]

    # -- running ----------------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        env = self._bind(args, kwargs)
        env.update(self._params)
        env.update((name, Tensor._wrap(arr)) for name, arr in self._buffers_by_name.items())
        for node, free in zip(self._graph.nodes, self._free_after):
            info = node.info
            xs = [env[v] if v else None for v in node.inputs]
            with name_scope(info.name):
                try:
                    out = OPS[info.op_type].fn(info, *xs)
                except (ValueError, TypeError, IndexError) as e:
                    if str(e).startswith("ONNX node"):
                        raise
                    raise type(e)(f"ONNX node {info.name!r} ({info.op_type}): {e}") from e
            outs = out if isinstance(out, tuple) else (out,)
            if len(outs) < sum(1 for v in node.outputs if v):
                raise ValueError(f"ONNX node {info.name!r} ({info.op_type}): {len(node.outputs)} outputs requested, "
                                 f"kinkgrad computes {len(outs)}")
            for name, value in zip(node.outputs, outs):
                if name:
                    env[name] = value
            for name in free:
                env.pop(name, None)
        results = tuple(env[name] for name in self.output_names)
        return results[0] if len(results) == 1 else results

    def _bind(self, args, kwargs):
        names = self.input_names
        if len(args) > len(names):
            raise TypeError(f"{self._label()}: takes {len(names)} input(s) ({', '.join(names)}), got {len(args)}")
        given = dict(zip(names, args))
        for k, v in kwargs.items():
            if k not in names:
                raise TypeError(f"{self._label()}: no input named {k!r}; inputs: {', '.join(names)}")
            if k in given:
                raise TypeError(f"{self._label()}: input {k!r} given twice")
            given[k] = v
        missing = [k for k in names if k not in given]
        if missing:
            raise TypeError(f"{self._label()}: missing input(s) {', '.join(missing)} (inputs: {', '.join(names)})")
        return {name: _as_input(given[name], dtype, shape, name, self._label()) for name, dtype, shape in self.inputs}

    def _label(self):
        return f"ONNX model {self.source}"

    def __repr__(self):
        ins = ", ".join(f"{n}: {d} {_shape_text(s)}" for n, d, s in self.inputs)
        outs = ", ".join(f"{n}: {_shape_text(s)}" for n, _, s in self.outputs)
        return (f"OnnxModule({self.source!r}, opset {self.opset}, {len(self.nodes)} nodes, "
                f"{len(self._params)} parameters; inputs {ins}; outputs {outs})")


def _shape_text(shape):
    return "(?)" if shape is None else "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"


def _as_input(value, dtype, shape, name, label):
    """A graph input as a Tensor of the declared dtype (a differentiable cast when it differs), its
    shape checked against the declared one (named dimensions match anything)."""
    t = value if isinstance(value, Tensor) else as_tensor(np.asarray(getattr(value, "data", value)))
    if shape is not None:
        ok = len(t.shape) == len(shape) and all(not isinstance(d, int) or d == 0 or d == s
                                                 for d, s in zip(shape, t.shape))
        if not ok:
            raise ValueError(f"{label}: input {name!r} expects shape {_shape_text(shape)} ('?' or a name: any size), "
                             f"got {tuple(t.shape)}")
    if dtype is not None and t.dtype != dtype:
        if t.dtype.kind == "f" and dtype.kind != "f" or t.dtype.kind == "b" and dtype.kind != "b":
            raise TypeError(f"{label}: input {name!r} expects {dtype.name}, got {t.dtype.name}")
        t = t.astype(dtype)
    return t
