"""The exporter's table: each kinkgrad primitive written as ONNX nodes (filled by ``lower_math`` and
``lower_array``).

A lowering receives the builder ``b`` and one recorded application ``rec`` (primitive, inputs,
parameters, output) and returns the ONNX name of the output. Kinked ops become the ONNX op that the
importer maps back onto the same kinkgrad op (relu -> Relu -> relu, max_pool2d -> MaxPool ->
max_pool2d, clip -> Clip -> clip), so a round trip keeps the kink declarations; where ONNX has no
such op (hardtanh, relu6) the nearest one with the same values is used (Clip) and its convention
applies after re-import. Primitives without a lowering raise ``OnnxUnsupportedError`` naming them.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor

LOWER = {}


def lowers(*names):
    def register(fn):
        for name in names:
            LOWER[name] = fn
        return fn
    return register


def out_dtype(rec):
    return rec.output.dtype


def param(rec, name, index, default=None):
    """A primitive's parameter, given as a keyword (a parameter) or positionally (an extra input)."""
    if name in rec.params:
        return rec.params[name]
    if len(rec.inputs) > index:
        v = rec.inputs[index]
        return np.asarray(v.data if isinstance(v, Tensor) else v).item()
    return default


def common_dtype(rec):
    """The dtype both sides of a comparison are cast to (Python numbers adapt, as in NumPy)."""
    dtypes = [x.dtype for x in rec.inputs if isinstance(x, (Tensor, np.ndarray))]
    return np.result_type(*dtypes) if dtypes else np.dtype(np.float32)
