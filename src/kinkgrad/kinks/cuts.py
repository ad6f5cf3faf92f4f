"""Loud non-differentiability: say which op cut a gradient, instead of silent zeros.

A gradient is *cut* when every path from the output to an input passes through piecewise-constant
ops (step, round, floor, sign, argmax, comparisons, integer casts): the chain rule then gives 0
everywhere (or no graph at all). That is almost never what a training loop wants, so kinkgrad
emits one ``NonDifferentiableWarning`` per call site naming the op(s) and suggesting a surrogate.
"""
from __future__ import annotations

import warnings

from ..context import user_frame

_warned = set()


class NonDifferentiableWarning(UserWarning):
    """A requested gradient is identically zero because piecewise-constant ops cut every path."""


def describe(cuts):
    names = []
    for op, site in cuts:
        text = f"{op} (at {site})" if site else op
        if text not in names:
            names.append(text)
    return ", ".join(names)


def warn_cut(cuts, what):
    """Warn once per (op, call site) set that ``what`` (e.g. "the gradient w.r.t. argument 0")
    is zero because of ``cuts`` (pairs of op name and creation site)."""
    key = (what, tuple(sorted({(op, str(site)) for op, site in cuts})))
    if key in _warned:
        return
    _warned.add(key)
    warnings.warn(
        f"{what} is zero everywhere: every path to it passes through piecewise-constant op(s) "
        f"{describe(cuts)}, whose derivative is 0 wherever it exists. To train through them, use "
        "a straight-through estimator (kg.straight_through, kg.ste.round ...) or a surrogate "
        "gradient (kg.surrogate.heaviside ...).",
        NonDifferentiableWarning, stacklevel=user_frame(1)[1] + 1)   # the user's line, not kinkgrad's
