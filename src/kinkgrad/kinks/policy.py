"""The active kink policy: a preset plus per-op overrides, context-local and nestable.

The policy is read when a derivative is computed (``backward``, ``grad``, ``jvp``), so wrap the
code that differentiates: ``with kg.kinks("jax"): loss.backward()`` or ``kg.grad(f, kinks="jax")``.

>>> import kinkgrad as kg
>>> with kg.kinks("right"):
...     kg.grad(kg.relu)(0.0)
tensor(1.)
"""
from __future__ import annotations

import contextlib
import numbers
from contextvars import ContextVar

import numpy as np

from .presets import BASE, DESCRIPTIONS, TABLES

PRESETS = {k: DESCRIPTIONS[k] for k in BASE}
SIDES = ("default", "left", "right", "mid", "zero", "nan", "random", "raise", "split", "first", "last",
         "limit", "directional")
TIES = ("split", "first", "last")
SINGULAR = ("limit", "zero", "nan", "raise")


class Policy:
    """An immutable policy: ``preset`` for every op, ``overrides`` by op name, a tie rule, a rule
    for singular points, and (when active) the audit that records every decision."""

    __slots__ = ("preset", "overrides", "ties", "singular", "seed", "rng", "audit", "is_default", "depth",
                 "undecided")

    def __init__(self, preset="default", overrides=None, ties=None, singular="limit", seed=None, audit=None,
                 depth=1):
        if preset not in BASE:
            raise ValueError(f"kinks: unknown preset {preset!r}; choose one of {', '.join(BASE)}")
        if ties is not None and ties not in TIES:
            raise ValueError(f"kinks: ties={ties!r} is not one of {', '.join(TIES)}")
        if singular not in SINGULAR:
            raise ValueError(f"kinks: singular={singular!r} is not one of {', '.join(SINGULAR)}")
        for op, rule in (overrides or {}).items():
            if not (isinstance(rule, numbers.Real) or rule in SIDES or callable(rule) or isinstance(rule, dict)):
                raise ValueError(
                    f"kinks: override {op}={rule!r} must be a number (the derivative at the kink), "
                    f"one of {', '.join(SIDES)}, a {{kink label: rule}} dict, or a function")
        self.preset = preset
        self.overrides = dict(overrides or {})
        self.ties = ties
        self.singular = singular
        self.seed = seed
        needs_rng = preset in ("random", "directional") or "random" in self.overrides.values()
        self.rng = np.random.default_rng(seed) if needs_rng else None
        self.audit = audit
        self.depth = int(depth)          # directional mode: probing directions carried per value
        self.undecided = [0]             # directional mode: kinks no direction could decide
        # the fast path: ops skip kink detection entirely when nothing could change their result
        self.is_default = (preset == "default" and not self.overrides and ties is None
                           and singular == "limit" and audit is None)

    def rule_for(self, op, tie=False):
        """The rule that decides ``op``'s kinks (``tie``: the op's kinks are ties between candidates)."""
        if op in self.overrides:
            return self.overrides[op]
        if tie and self.ties is not None:
            return self.ties
        table = TABLES.get(self.preset)
        if table is not None and op in table:
            return table[op]
        return BASE[self.preset]

    def merged(self, preset=None, ties=None, singular=None, seed=None, audit=None, depth=None, **overrides):
        return Policy(preset or self.preset, {**self.overrides, **overrides}, ties or self.ties,
                      singular or self.singular, self.seed if seed is None else seed,
                      self.audit if audit is None else audit, self.depth if depth is None else depth)

    def __repr__(self):
        extra = "".join(f", {k}={v!r}" for k, v in self.overrides.items())
        if self.ties:
            extra += f", ties={self.ties!r}"
        if self.singular != "limit":
            extra += f", singular={self.singular!r}"
        return f"Policy({self.preset!r}{extra})"


_DEFAULT = Policy()
_POLICY: ContextVar[Policy] = ContextVar("kinkgrad_kinks", default=_DEFAULT)


def current():
    return _POLICY.get()


def coerce(spec=None, ties=None, singular=None, seed=None, depth=None, **overrides):
    """A Policy from a preset name, a Policy, or a dict of overrides, on top of the active one."""
    base = _POLICY.get()
    kw = dict(ties=ties, singular=singular, seed=seed, depth=depth)
    if isinstance(spec, Policy):
        return spec.merged(**kw, **overrides)
    if isinstance(spec, dict):
        return base.merged(**kw, **spec, **overrides)
    return base.merged(preset=spec, **kw, **overrides)


@contextlib.contextmanager
def kinks(preset=None, *, ties=None, singular=None, seed=None, depth=None, **overrides):
    """Scope a kink policy: ``with kg.kinks("right"):``, ``kg.kinks(relu=1.0, ties="first")``,
    ``kg.kinks("random", seed=0)``, ``kg.kinks(singular="zero")``, ``kg.kinks("directional",
    seed=0, depth=2)`` (``depth``: probing directions carried, for ties the first leaves open)."""
    from ..autodiff.state import _set

    policy = coerce(preset, ties, singular, seed, depth, **overrides)
    token = _POLICY.set(policy)
    try:
        with _set(**state_flags(policy)):
            yield policy
    finally:
        _POLICY.reset(token)


def state_flags(policy):
    """The engine switches a policy needs: call sites for ``raise``, directions for ``directional``."""
    flags = {}
    if policy.preset == "raise" or "raise" in policy.overrides.values() or policy.singular == "raise":
        flags["sites"] = True
    if policy.preset == "directional":
        flags["directional"] = policy.depth
    return flags


def set_kinks(preset="default", *, ties=None, singular="limit", seed=None, **overrides):
    """Set the policy for the current context (the process default when called at top level)."""
    _POLICY.set(Policy(preset, overrides, ties, singular, seed))


def get_kinks():
    return _POLICY.get()
