"""Tracing for export: one run recorded by ``kg.record_ops``, and a second run on the same input values
in another order that catches what a trace would silently freeze.

A trace writes every value it did not see computed by a kinkgrad op as a constant. When such a value
was in fact computed from the inputs (NumPy on ``.data``, ``.item()``, indices built outside the ops)
the exported graph would give the example's answer for every input. So the computation runs again on
a permutation of each input's values (every value stays valid for the computation: same set, other
places) and the two records are compared: the same ops must be applied (no control flow on values),
and every constant must be the same; otherwise export refuses, naming the op.
"""
from __future__ import annotations

import numpy as np

from ..autodiff.primitive import record_ops
from ..context import no_grad
from ..nn.module import Module
from ..ops.factories import tensor
from ..tensor import Tensor
from .errors import OnnxUnsupportedError


def trace(fn, inputs):
    """(records, outputs) of one run; a module runs in eval mode and gets its modes back."""
    modes = [(m, m.training) for m in fn.modules()] if isinstance(fn, Module) else []
    for m, _ in modes:
        m.training = False
    try:
        with no_grad(), record_ops() as records:
            outputs = fn(*inputs)
    finally:
        for m, training in modes:
            m.training = training
    return records, outputs


def check_constants(fn, inputs, records, seed=0):
    """Refuse an export whose constants or ops change with the input values (see the module docstring)."""
    rng = np.random.default_rng(seed)
    shuffled = [tensor(rng.permutation(x.numpy().ravel()).reshape(x.shape)) for x in inputs]
    try:
        again, _ = trace(fn, shuffled)
    except Exception:       # noqa: BLE001  (the computation cannot run on these values: nothing to compare)
        return
    ops_a, ops_b = [r.prim.name for r in records], [r.prim.name for r in again]
    if ops_a != ops_b:
        first = next((i for i, (a, b) in enumerate(zip(ops_a, ops_b)) if a != b), min(len(ops_a), len(ops_b)))
        raise OnnxUnsupportedError(
            f"kg.onnx.export: the computation applies different ops when the input values change (op {first + 1}: "
            f"{_name(ops_a, first)} in one run, {_name(ops_b, first)} in another): Python control flow on tensor "
            "values cannot be traced; make the branch a kg.where, or export each branch")
    traced_a, traced_b = _traced(records, inputs), _traced(again, shuffled)
    for i, (ra, rb) in enumerate(zip(records, again)):
        for j, (a, b) in enumerate(zip(ra.inputs, rb.inputs)):
            if not _same_constant(a, b, traced_a, traced_b):
                raise OnnxUnsupportedError(
                    f"kg.onnx.export: input {j} of {ra.prim.name!r} (op {i + 1} of the trace) depends on the input "
                    "values but was computed outside kinkgrad's ops (NumPy on .data, .item(), indices built by hand), "
                    "so the graph would hold the example's value as a constant; compute it with kinkgrad ops")
        for key in ra.params:
            if not _same_constant(ra.params[key], rb.params.get(key), traced_a, traced_b):
                raise OnnxUnsupportedError(
                    f"kg.onnx.export: the parameter {key!r} of {ra.prim.name!r} (op {i + 1} of the trace) changes with "
                    "the input values (an index or shape computed from them); the graph would freeze it")


def _name(ops, i):
    return repr(ops[i]) if i < len(ops) else "nothing"


def _traced(records, inputs):
    """ids of the values a run computed or took as inputs (tensors and their arrays)."""
    ids = set()
    for t in list(inputs) + [r.output for r in records]:
        ids.add(id(t))
        ids.add(id(t.data))
    return ids


def _same_constant(a, b, traced_a, traced_b):
    if id(a) in traced_a or id(b) in traced_b:
        return id(a) in traced_a and id(b) in traced_b
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same_constant(x, y, traced_a, traced_b) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_constant(a[k], b[k], traced_a, traced_b) for k in a)
    if a is b:
        return True
    if isinstance(a, (Tensor, np.ndarray, np.generic, int, float, bool)) and \
            isinstance(b, (Tensor, np.ndarray, np.generic, int, float, bool)):
        xa, xb = np.asarray(getattr(a, "data", a)), np.asarray(getattr(b, "data", b))
        return xa.shape == xb.shape and bool(np.array_equal(xa, xb, equal_nan=xa.dtype.kind == "f"))
    return a == b
