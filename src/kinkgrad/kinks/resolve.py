"""The resolver: the single choke point where every derivative at a kink is decided.

Ops hand over their natural derivative ``d`` (which already holds the ``default`` value at kinks)
plus their kink declaration; the resolver patches the kink elements according to the active
policy. Under the default policy with no overrides it returns ``d`` untouched without even
locating the kinks, so the common path pays nothing.
"""
from __future__ import annotations

import numpy as np

from .policy import _POLICY


def _min_norm(left, right):
    """The element of [min(l, r), max(l, r)] closest to 0."""
    lo, hi = np.minimum(left, right), np.maximum(left, right)
    return np.where(lo > 0, lo, np.where(hi < 0, hi, 0.0))


def kink_value(rule, left, right):
    """The derivative a rule assigns at a kink with one-sided derivatives ``left`` and ``right``."""
    if isinstance(rule, (int, float)) and not isinstance(rule, bool):
        return float(rule)
    if rule == "default":
        return _min_norm(left, right)
    if rule == "left":
        return left
    if rule == "right":
        return right
    if rule == "mid":
        return (np.asarray(left) + np.asarray(right)) / 2
    if rule == "zero":
        return 0.0
    if rule == "nan":
        return np.nan
    raise ValueError(f"unknown kink rule {rule!r}")


def resolve_elementwise(prim, i, d, m, raw_xs, params):
    policy = _POLICY.get()
    if policy.is_default:
        return d
    kink = prim.kinks[i] if isinstance(prim.kinks, tuple) else prim.kinks
    if kink is None:
        return d
    rule = policy.rule_for(prim.name)
    if rule == "default":
        return d
    mask = kink.at(*raw_xs, **params)
    if not np.any(mask):
        return d
    left, right = kink.one_sided(raw_xs, params, mask)
    value = kink_value(rule, left, right)
    if isinstance(value, np.ndarray):
        value = value.astype(np.result_type(d), copy=False)
    return m.where(mask, value, d)
