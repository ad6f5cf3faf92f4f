"""ONNX import and export: bring a model trained elsewhere, audit its kinks, send kinkgrad models out.

>>> model = kg.onnx.load("model.onnx")          # doctest: +SKIP
>>> y = model(x)                                # kinkgrad ops: Relu is kg.relu, MaxPool kg.max_pool2d...
>>> kg.onnx.export(model, (x,), "again.onnx")   # doctest: +SKIP

``load`` builds a ``kg.nn.Module`` whose forward runs kinkgrad ops, so every kink keeps its
declaration (presets, ``kg.audit()`` and directional mode apply) and the weights are Parameters
(differentiable, trainable, saved by ``state_dict``). ``export`` records the primitives a kinkgrad
computation applies and writes them as an ONNX graph. Reading an ONNX file never runs code from it:
the file is protobuf data, decoded and checked here, with tensors stored outside it read only from
the model's own directory. Needs the optional ``onnx`` package: ``pip install "kinkgrad[onnx]"``.
"""
from __future__ import annotations

from .errors import OnnxFormatError, OnnxUnsupportedError
from .export import export
from .model import OnnxModule, load
from .optable import OPSETS
from .reading import supported_ops

__all__ = ["OPSETS", "OnnxFormatError", "OnnxModule", "OnnxUnsupportedError", "export", "load", "supported_ops"]
