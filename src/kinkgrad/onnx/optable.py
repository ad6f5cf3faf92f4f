"""The importer's operator table: each ONNX op declares the attributes it supports (with their
defaults) and the kinkgrad function that runs it.

A handler receives the node (``n``: its name, attributes with defaults filled in, the model's opset)
and the node's inputs as kinkgrad Tensors (None for an omitted optional input) and returns its
output(s). Handlers compute with kinkgrad's public ops only, so every kink keeps its declaration.
Attribute values a handler cannot honour are refused when the model is loaded (``check``), never
replaced by a different computation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..tensor import Tensor
from .errors import OnnxUnsupportedError

OPSETS = range(13, 23)       # default-domain opsets whose operator semantics the handlers implement

# ONNX TensorProto element types kinkgrad runs (bfloat16, strings, complex and 8-bit floats are not)
DTYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32, 7: np.int64,
          9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64}
DTYPE_NAMES = {1: "float", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 8: "string",
               9: "bool", 10: "float16", 11: "double", 12: "uint32", 13: "uint64", 14: "complex64",
               15: "complex128", 16: "bfloat16"}


@dataclass(frozen=True)
class OpSpec:
    op_type: str
    fn: Callable
    attrs: dict                       # supported attribute -> default (None: no default)
    check: Callable = None            # check(n): raise for attribute values the handler cannot honour
    statistics: tuple = ()            # input slots holding statistics, not weights (buffers, not Parameters)
    doc: str = ""


OPS: dict = {}


def op(*op_types, attrs=None, check=None, statistics=()):
    """Register a handler for one or more ONNX op types."""
    def register(fn):
        for name in op_types:
            OPS[name] = OpSpec(name, fn, dict(attrs or {}), check, tuple(statistics), (fn.__doc__ or "").strip())
        return fn
    return register


@dataclass
class NodeInfo:
    """What a handler knows about its node: name, op, attributes (defaults filled in), opset."""

    name: str
    op_type: str
    attrs: dict
    opset: int
    n_outputs: int = 1
    metadata: dict = field(default_factory=dict)

    def unsupported(self, what, supported):
        return OnnxUnsupportedError(f"ONNX node {self.name!r} ({self.op_type}): {what} is not supported; "
                                    f"supported: {supported}")

    def error(self, message):
        return ValueError(f"ONNX node {self.name!r} ({self.op_type}): {message}")


def static(v, what="value"):
    """A constant input (a shape, axes, pads...) as a NumPy array; kinkgrad runs eagerly, so every
    value is concrete when the node runs."""
    if v is None:
        return None
    return np.asarray(v.data if isinstance(v, Tensor) else v)


def static_ints(v):
    """An int64 tensor input (axes, pads, shape) as a tuple of Python ints (None stays None)."""
    if v is None:
        return None
    return tuple(int(i) for i in static(v).reshape(-1))


def attr_choice(name, allowed):
    """A ``check`` that an attribute takes one of ``allowed`` values."""
    def check(n):
        if n.attrs[name] not in allowed:
            raise n.unsupported(f"{name}={n.attrs[name]!r}", ", ".join(repr(a) for a in allowed))
    return check


def all_checks(*checks):
    def check(n):
        for c in checks:
            if c is not None:
                c(n)
    return check
