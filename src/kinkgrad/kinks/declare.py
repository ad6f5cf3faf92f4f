"""Kink declarations: what a nonsmooth op tells the resolver about its non-differentiable points.

An op never picks its derivative at a kink; it says *where* the kinks are and what the one-sided
derivatives there are, and the resolver (``kinks.resolve``) applies the active policy.
"""
from __future__ import annotations


class Kink:
    """Non-differentiable points of an elementwise op with respect to one input.

    ``at(*xs, **params)`` returns the boolean mask of elements sitting on a kink;
    ``left``/``right`` give the one-sided derivatives there (numbers, or functions of the inputs).
    ``kind`` is ``"kink"`` (continuous, slopes differ), ``"jump"`` (a step: both sides flat) or
    ``"tie"`` (several inputs select the output, e.g. ``maximum(a, a)``).
    The op's own derivative formula must already give the ``default`` value at the kink (the
    minimum-norm element of the Clarke interval), so the default policy costs nothing.
    """

    __slots__ = ("at", "left", "right", "kind", "where")

    def __init__(self, at, left, right, kind="kink", where=""):
        self.at = at
        self.left = left
        self.right = right
        self.kind = kind
        self.where = where      # human description, e.g. "x = 0"

    def one_sided(self, xs, params, mask):
        return _value(self.left, xs, params, mask), _value(self.right, xs, params, mask)

    def __repr__(self):
        return f"Kink({self.kind} at {self.where or '?'})"


def _value(v, xs, params, mask):
    if callable(v):
        return v(*xs, **params)
    return v
