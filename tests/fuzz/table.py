"""The fuzz table's vocabulary: what an op entry says, and the helpers the entries are written with.

An entry ``FuzzOp`` says:

* ``kg`` / ``torch``: the same function in both libraries, called with one tensor per operand and the
  step's parameters as keywords (axes, bounds, constant indices, shifts);
* ``plan(g)``: given the program built so far (``program.Builder``), pick operands (existing variables,
  or new leaves of a fitting shape) and parameters; None when the op does not fit now. Domain shifts
  are parameters computed from the current values (``log(x + s)`` with ``s`` lifting ``x`` to >= 0.2),
  so smooth ops never meet a singular point or leave their domain;
* ``kink(xs, p)``: the smallest distance of the inputs ``xs`` (NumPy values) from a kink, jump, tie or
  branch switch of the op (None: smooth). Away from kinks a step is kept only when it is >= ``MARGIN``;
  at kinks a step may sit exactly on one, but only where kinkgrad and PyTorch see bitwise-equal inputs;
* ``at_kinks``: empty when the op takes part in the at-kinks run under ``kg.kinks("torch")``, else the
  reason it is left out (a documented difference from PyTorch, not a convention);
* ``rtol``: a looser tolerance where PyTorch's own float64 kernel is known to be less accurate.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

MARGIN = 1e-3          # away-from-kinks distance; rounding differences between the libraries are ~1e-13
INF = math.inf
RTOL = 1e-10           # float64 comparison tolerance (see compare.py)


@dataclass(frozen=True)
class FuzzOp:
    name: str
    family: str
    kg: Callable
    torch: Callable
    plan: Callable
    kink: Callable = None
    at_kinks: str = ""
    rtol: float = RTOL


# -- distances -----------------------------------------------------------------------------------------
def min_of(a):
    a = np.asarray(a, dtype=float)
    return float(np.min(a)) if a.size else INF


def d_points(x, *points):
    """Distance of the elements of ``x`` from the nearest of ``points`` (None entries ignored)."""
    return min((min_of(np.abs(x - p)) for p in points if p is not None), default=INF)


def d_integer(x, offset=0.0):
    y = np.asarray(x) - offset
    return min_of(np.abs(y - np.round(y)))


def _rows(x, axis):
    """``x`` with the reduced ``axis`` (None: all, int or tuple) flattened into the last axis."""
    x = np.asarray(x, dtype=float)
    if axis is None:
        return x.reshape(1, -1)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    axes = tuple(a % x.ndim for a in axes)
    keep = [a for a in range(x.ndim) if a not in axes]
    moved = np.transpose(x, keep + list(axes))
    return moved.reshape(moved.shape[:len(keep)] + (-1,))


def gap(x, axis=None):
    """Smallest difference between two elements of one row along ``axis`` (ties: 0)."""
    r = np.sort(_rows(x, axis), axis=-1)
    return min_of(np.diff(r, axis=-1)) if r.shape[-1] > 1 else INF


def top_gap(x, axis=None, largest=True):
    """Gap between the best and second-best element of each row (max/min reductions, argmax)."""
    r = np.sort(_rows(x, axis), axis=-1)
    if r.shape[-1] < 2:
        return INF
    return min_of(r[..., -1] - r[..., -2]) if largest else min_of(r[..., 1] - r[..., 0])


def window_gap(x, k, s, p):
    """Top gap within every max_pool2d window (padding is -inf, as in both libraries)."""
    x4 = np.asarray(x, dtype=float)
    x4 = x4 if x4.ndim == 4 else x4[None]
    xp = np.pad(x4, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])), constant_values=-np.inf)
    w = np.lib.stride_tricks.sliding_window_view(xp, k, axis=(2, 3))[:, :, ::s[0], ::s[1]]
    return top_gap(w.reshape(w.shape[:4] + (-1,)), -1)


def pos_shift(x, floor=0.2):
    """The smallest multiple of 0.25 that lifts min(x) to >= floor (a domain shift)."""
    m = min_of(x)
    return 0.0 if m >= floor else math.ceil((floor - m) / 0.25) * 0.25


def cap_shift(x, top):
    """The smallest multiple of 0.25 that brings max(x) down to <= top (exp, 2 ** x)."""
    m = -min_of(-np.asarray(x, dtype=float))
    return 0.0 if m <= top else math.ceil((m - top) / 0.25) * 0.25


def tdim(axis, nd):
    """A kinkgrad/NumPy axis as torch's ``dim`` (None: every axis)."""
    return tuple(range(nd)) if axis is None else axis


# -- plans ---------------------------------------------------------------------------------------------
def unary(params=None, fits=None):
    """One operand (fits(shape) must hold); params(g, x) -> dict or None."""
    def plan(g):
        x = g.var(fits)
        if x is None:
            return None
        p = params(g, x) if params else {}
        return None if p is None else ([x], p)
    return plan


def choose(**options):
    """Parameters drawn independently from lists of options."""
    return lambda g, x: {k: g.pick(v) for k, v in options.items()}


def binary(params=None, into=False):
    """x and a broadcast-compatible second operand (an existing variable or a new leaf), in either order."""
    def plan(g):
        x = g.var()
        y = g.operand(g.shape(x), into=into)
        p = params(g, x, y) if params else {}
        if p is None:
            return None
        return ([x, y] if into or g.coin() else [y, x]), p
    return plan


def axis_params(g, x, tuples=True, none=True, keepdims=True):
    return {"axis": g.axis(g.shape(x), none=none, tuples=tuples), "keepdims": keepdims and g.coin()}


def reduction(tuples=True, none=True, extra=None, fits=None):
    def params(g, x):
        p = axis_params(g, x, tuples, none)
        return {**p, **(extra(g, x, p) if extra else {})}
    return unary(params, fits=fits or (lambda s: len(s) >= 1))


def odd_axis(g, x):
    """median over an odd number of elements (the rows of the chosen axis, or all)."""
    shape = g.shape(x)
    axes = [None] + list(range(len(shape)))
    ok = [a for a in axes if (int(np.prod(shape)) if a is None else shape[a]) % 2 == 1]
    return {"axis": g.pick(ok), "keepdims": g.coin()} if ok else None


def even_axis(g, x):
    shape = g.shape(x)
    axes = [None] + list(range(len(shape)))
    ok = [a for a in axes if (int(np.prod(shape)) if a is None else shape[a]) % 2 == 0]
    return {"axis": g.pick(ok), "keepdims": g.coin()} if ok else None


def torch_median(x, axis, keepdims):
    if axis is None:
        m = torch.median(x)
        return m.reshape((1,) * x.ndim) if keepdims else m
    # contiguous: torch 2.13's median(x, dim) of an expanded (stride-0) tensor returns uninitialised memory
    # (torch.median(torch.tensor(3.5).expand(3), 0).values gives e.g. 6.9e-310)
    return torch.median(x.contiguous(), axis, keepdim=keepdims).values


def torch_quantile(x, q, axis, keepdims):
    if axis is None:
        y = torch.quantile(x.reshape(-1), q)
        return y.reshape((1,) * x.ndim) if keepdims else y
    return torch.quantile(x, q, dim=axis, keepdim=keepdims)


ge1 = lambda shape: len(shape) >= 1
ge2 = lambda shape: len(shape) >= 2
abs0 = lambda xs, p: d_points(xs[0], 0.0)
shift_pos = lambda g, x: {"s": pos_shift(g.val(x))}


def axis_int(g, x):
    return {"axis": g.axis(g.shape(x), none=False, tuples=False)}


def paired(g, params):
    """x (at least 1-d) and a second operand of exactly its shape (index sources: argmax, argsort)."""
    x = g.var(ge1)
    if x is None:
        return None
    return [x, g.operand(g.shape(x), same=True)], params(x)
