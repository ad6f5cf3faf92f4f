"""The two ways an ONNX model can be refused, and the import of the optional ``onnx`` package."""
from __future__ import annotations


class OnnxFormatError(ValueError):
    """The file or model is not valid ONNX (not protobuf, truncated, inconsistent graph)."""


class OnnxUnsupportedError(NotImplementedError):
    """Valid ONNX that kinkgrad does not run: an operator, opset, attribute value or data type it
    does not implement. The message names the node, the op and what is supported; kinkgrad never
    substitutes a different computation."""


def require_onnx():
    """The ``onnx`` module, or an ImportError that says how to install it."""
    try:
        import onnx
    except ImportError as e:
        raise ImportError('kinkgrad.onnx needs the onnx package: pip install "kinkgrad[onnx]"') from e
    return onnx
