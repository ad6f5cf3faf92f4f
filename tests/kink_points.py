"""Where the kinks are, read from the ops' own declarations instead of restated by hand.

Every nonsmooth primitive declares its kinks (``kinkgrad.kinks.declare``): ``Kink.at`` marks the
elements sitting on one, ``Kink.distance`` says how far each element is from the nearest. Tests use
them two ways:

* ``kink_positions``: the points of a fine grid (multiples of ``GRID_STEP`` in ``[low, high]``) that
  ``at`` marks, e.g. ``kink_positions("hardtanh", lo=-2.0, hi=3.0)`` -> ``[-2., 3.]``;
  ``around`` adds points beside each kink, so a check sees the kink and both smooth pieces.
* ``kink_distance``: the declared distance to the nearest kink, for sampling away from kinks
  (``opspecs.away_from_kinks``).

``others`` are the op's other inputs as its declaration reads them (``clip(x, a_min, a_max)``:
``others=(-1.0, 2.0)``), ``wrt`` the position of the varying input among them; ``params`` are the
op's keyword parameters (``negative_slope``, ``lambd``, ``lo`` / ``hi``...). The range arguments are
named ``low`` / ``high`` (NumPy's ``uniform`` names) because ``lo`` / ``hi`` are hardtanh's and
relu6's own parameters.
"""
from __future__ import annotations

import numpy as np

from kinkgrad.kinks.declare import DECLARED

# 1/8: every kink the tests place points on (0, +-0.5, +-1, +-3, 6, integers, half-integers, the
# bounds chosen in the tables) is a multiple of it, so the grid holds each one exactly
GRID_STEP = 0.125
OFFSETS = (-0.37, 0.41)     # beside a kink: far from it (and from the next one) on both sides

# SELU's constants (Klambauer et al. 2017, "Self-Normalizing Neural Networks", eq. 14): kg.selu
# passes them to its primitive, whose declaration has a kink at 0 only when alpha != 1
SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805


def declared_kink(op, wrt=0):
    """The Kink ``op`` declared for input ``wrt`` (a single declaration applies to every input)."""
    if op not in DECLARED:
        raise KeyError(f"{op!r} declares no kinks; declared ops: {sorted(DECLARED)}")
    decl = DECLARED[op]
    kink = decl[wrt] if isinstance(decl, tuple) else decl
    if kink is None:
        raise ValueError(f"{op} declares no kink for its input {wrt}")
    return kink


def _inputs(x, others, wrt):
    xs = list(others)
    xs.insert(wrt, x)
    return xs


def kink_mask(op, x, others=(), wrt=0, **params):
    """``Kink.at`` of ``op``'s declaration for input ``wrt``, as a boolean array shaped like ``x``."""
    mask = declared_kink(op, wrt).at(*_inputs(x, others, wrt), **params)
    if mask is None:
        raise ValueError(f"{op} finds its kinks itself (its Kink.at returns None): give its kink points by hand")
    return np.broadcast_to(np.asarray(mask, dtype=bool), np.shape(x))


def kink_positions(op, low=-3.0, high=3.0, others=(), wrt=0, step=GRID_STEP, **params):
    """The grid points in ``[low, high]`` (multiples of ``step``) on a declared kink of ``op``."""
    n = round((high - low) / step)
    grid = low + step * np.arange(n + 1)
    found = grid[kink_mask(op, grid, others, wrt, **params)]
    if found.size == 0:
        raise ValueError(f"{op}: no declared kink on the grid {low}:{high}:{step} (params {params}, others {others})")
    return found


def around(positions, offsets=OFFSETS):
    """Each kink followed by the points ``kink + offset``: ``[k1, k1 - 0.37, k1 + 0.41, k2, ...]``."""
    return np.array([p + o for p in positions for o in (0.0,) + tuple(offsets)], dtype=np.float64)


def kink_distance(op, x, others=(), wrt=0, **params):
    """The declared distance of each element of ``x`` to ``op``'s nearest kink (``Kink.distance``)."""
    kink = declared_kink(op, wrt)
    if kink.distance is None:
        raise ValueError(f"{op}'s declaration has no distance: sample away from its kinks by hand")
    return np.broadcast_to(np.asarray(kink.distance(*_inputs(x, others, wrt), **params), dtype=np.float64),
                           np.shape(x))
