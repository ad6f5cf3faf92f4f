"""Kink declarations: what a nonsmooth op tells the resolver about its non-differentiable points.

An op never picks its derivative at a kink; it says *where* the kinks are and what the one-sided
derivatives there are, and the resolver (``kinks.resolve``) applies the active policy. Every
declaration is registered under its op's name, so a policy can check the op names and rule words
it is given, and docs and tests can be generated from the declarations.
"""
from __future__ import annotations

import numpy as np

KINDS = ("kink", "jump", "tie", "singular")


class Kink:
    """Non-differentiable points of an op with respect to one input (or each input alike).

    ``at(*xs, **params)`` returns the boolean mask of elements sitting on a kink;
    ``left`` / ``right`` give the one-sided derivatives there (numbers, or functions of the inputs);
    ``kind``: ``"kink"`` (continuous, the slopes differ), ``"jump"`` (a step; both sides flat),
    ``"tie"`` (several inputs select the output, ``maximum(a, a)``) or ``"singular"`` (the
    derivative is infinite or undefined, ``sqrt`` at 0); ``label`` names one of several kinks of
    the same op (``"lo"``/``"hi"``) so a policy can treat them apart; ``distance(*xs, **params)``
    (optional) is how far each element is from the nearest kink, for the audit's ``tol=`` band and
    for tests that sample away from kinks; ``rules``: rule words this op understands beyond the
    general ones, ``{word: meaning}`` (``median``: ``"lower"``...), which a policy may then use.

    The op's own derivative formula must already give the ``default`` value at the kink (the
    minimum-norm element of the Clarke interval; the even split for ties; the limit at singular
    points), so the default policy costs nothing.
    """

    __slots__ = ("at", "left", "right", "kind", "where", "label", "distance", "switch", "rules")

    def __init__(self, at, left=0.0, right=0.0, kind="kink", where="", label=None, distance=None, switch=None,
                 rules=None):
        if kind not in KINDS:
            raise ValueError(f"Kink: kind must be one of {KINDS}, got {kind!r}")
        self.at = at
        self.left = left
        self.right = right
        self.kind = kind
        self.where = where      # human description, e.g. "x = 0"
        self.label = label
        self.distance = distance
        # directional mode: the tangent of the quantity whose increase moves this input to its
        # "right" piece, given the inputs' tangents ``ts`` (None = 0); by default the input's own
        self.switch = switch or _own_tangent
        self.rules = dict(rules or {})

    def one_sided(self, xs, params):
        return _value(self.left, xs, params), _value(self.right, xs, params)

    def near(self, tol, xs, params):
        """Elements within ``tol`` of a kink (None when no band was asked for or none is defined)."""
        if not tol or self.distance is None:
            return None
        return np.asarray(self.distance(*xs, **params)) <= tol

    def __repr__(self):
        return f"Kink({self.kind} at {self.where or '?'})"


def _own_tangent(i, ts, xs, params):
    return 0.0 if ts[i] is None else ts[i]


def difference_switch(i, ts, xs, params):
    """For a tie between two inputs: input i moves to its 'right' piece when it grows past the other."""
    ti = 0.0 if ts[i] is None else ts[i]
    tj = 0.0 if ts[1 - i] is None else ts[1 - i]
    return np.asarray(ti) - np.asarray(tj)


def _value(v, xs, params):
    if callable(v):
        return v(*xs, **params)
    return v


def at_point(c):
    """A Kink ``at`` / ``distance`` pair for a kink at the constant ``c``."""
    return (lambda x, *rest, **params: x == c), (lambda x, *rest, **params: np.abs(x - c))


def tie(where="tied candidates", rules=None):
    """The declaration of a tie among candidates (max/min reductions, pooling, order statistics):
    the op finds its tied elements itself and asks the resolver how to weight them."""
    return Kink(lambda *a, **k: None, 0.0, 1.0, kind="tie", where=where, rules=rules)


TIE = tie()

# -- the registry ---------------------------------------------------------------------------------
DECLARED: dict = {}     # op name -> its Kink, or a tuple with one Kink (or None) per input


def register(op, kinks):
    """Record ``op``'s declaration (called for every primitive that declares kinks)."""
    DECLARED[op] = kinks


def kinks_of(op):
    """The distinct Kinks an op declared (a tuple; empty for an unknown op)."""
    decl = DECLARED.get(op)
    if decl is None:
        return ()
    decls = decl if isinstance(decl, tuple) else (decl,)
    return tuple(dict.fromkeys(k for k in decls if k is not None))


def for_input(kinks, i):
    """The Kink that applies to input ``i`` (a single declaration applies to every input)."""
    return kinks[i] if isinstance(kinks, tuple) else kinks
