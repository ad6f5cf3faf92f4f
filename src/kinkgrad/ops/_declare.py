"""Shorthands for declaring primitives, and argument normalisation shared by the op families."""
from __future__ import annotations

import numpy as np

from ..autodiff.primitive import Primitive
from ..tensor import Tensor


def elementwise(name, impl, *derivs, kinks=None, doc=None, **kw):
    """An elementwise primitive stated by its partial derivatives, one per input.

    Ops with kinks are selections among pieces, some with slope exactly 0 (relu below 0, the loser of
    maximum): forward mode keeps those zero partials exact (``exact_zero_partials``)."""
    decls = kinks if isinstance(kinks, tuple) else (kinks,)
    kw.setdefault("exact_zero_partials", any(k is not None and k.kind != "singular" for k in decls))
    return Primitive(name, impl, derivs=tuple(derivs), kinks=kinks, doc=doc, **kw)


def comparison(name, impl, tie_break=None):
    """A comparison: boolean output, no derivative (it is piecewise constant). ``tie_break(sign)``
    gives its result at equality when x + t v is compared instead of x (directional mode)."""
    return Primitive(name, impl, differentiable=False, piecewise_constant=True, tie_break=tie_break)


def normalize_axis(axis, ndim, op="op"):
    """``axis`` as a sorted tuple of non-negative ints (None = all axes)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"{op}: axis {a} is out of range for a tensor with {ndim} dimension(s)")
        out.append(int(a) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out))


def int_pair(v, name, op, minimum=1):
    """An int or a pair of ints (kernel size, stride, padding...) as a pair, checked."""
    v = (int(v), int(v)) if isinstance(v, (int, np.integer)) else tuple(int(e) for e in v)
    if len(v) != 2 or min(v) < minimum:
        kind = "a non-negative" if minimum == 0 else "a positive"
        raise ValueError(f"{op}: {name} must be {kind} int or a pair of them, got {v}")
    return v


def shape_of(x):
    return x.shape if isinstance(x, (Tensor, np.ndarray)) else np.shape(x)


def ndim_of(x):
    return len(shape_of(x))
