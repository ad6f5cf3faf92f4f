"""Weight and activity regularizers (Keras' ``kernel_regularizer=``, ``bias_regularizer=``,
``activity_regularizer=``): penalties added to the training loss.

``l1(0.01)`` adds ``0.01 * sum(|w|)``; its derivative at w == 0 is abs'(0) under the active kink
policy (0 by default), so an audit in ``fit`` counts weights sitting exactly at 0. ``l2(0.01)`` adds
``0.01 * sum(w ** 2)`` (Keras' convention: no factor 1/2).
"""
from __future__ import annotations

from .. import ops
from ..configured import Configured
from ._checks import real


class Regularizer(Configured):
    """``regularizer(weights) -> scalar tensor``; ``get_config()`` for saving."""

    def __call__(self, x):
        raise NotImplementedError


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x ** 2)``."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = real("L1L2", "l1", l1, low=0.0)
        self.l2 = real("L1L2", "l2", l2, low=0.0)

    def __call__(self, x):
        total = None
        if self.l1:
            total = self.l1 * ops.sum(ops.abs(x))
        if self.l2:
            term = self.l2 * ops.sum(x * x)
            total = term if total is None else total + term
        return total if total is not None else ops.sum(x * 0.0)


class L1(L1L2):
    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


def l1(l1=0.01):
    return L1(l1)


def l2(l2=0.01):
    return L2(l2)


def l1_l2(l1=0.01, l2=0.01):
    return L1L2(l1, l2)


REGULARIZERS = {"L1": L1, "L2": L2, "L1L2": L1L2}
_BY_NAME = {"l1": L1, "l2": L2, "l1_l2": L1L2}


def get(spec, owner="layer", name="regularizer"):
    """None, ``"l1"``/``"l2"``/``"l1_l2"`` (Keras' default factor 0.01), a Regularizer, a saved
    ``{"class_name", "config"}`` dict, or any callable ``f(weights) -> scalar``."""
    if spec is None or isinstance(spec, Regularizer):
        return spec
    if isinstance(spec, str):
        if spec not in _BY_NAME:
            raise ValueError(f"{owner}: unknown {name} {spec!r}; choose one of {', '.join(_BY_NAME)}, or pass "
                             "kg.nn.regularizers.l2(0.001)")
        return L1L2(0.01, 0.01) if spec == "l1_l2" else _BY_NAME[spec]()
    if isinstance(spec, dict) and spec.get("class_name") in REGULARIZERS:
        return REGULARIZERS[spec["class_name"]].from_config(spec.get("config", {}))
    if callable(spec):
        return spec
    raise TypeError(f"{owner}: {name} must be 'l1', 'l2', a regularizer or a function of the weights, got "
                    f"{spec!r} ({type(spec).__name__})")


def serialize(reg):
    if reg is None:
        return None
    if isinstance(reg, Regularizer):
        return {"class_name": type(reg).__name__, "config": reg.get_config()}
    raise TypeError(f"cannot save the regularizer {reg!r}: write it as a subclass of "
                    "kinkgrad.nn.regularizers.Regularizer with get_config()")
