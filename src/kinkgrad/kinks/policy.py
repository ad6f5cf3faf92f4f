"""The active kink policy: a preset plus per-op overrides, context-local and nestable.

The policy is read when a derivative is computed (``backward``, ``grad``, ``jvp``), so wrap the
code that differentiates: ``with kg.kinks("jax"): loss.backward()`` or ``kg.grad(f, kinks="jax")``.
``kg.set_kinks(...)`` sets the process default, seen by every thread and task that has not scoped
its own with ``kg.kinks``.

>>> import kinkgrad as kg
>>> with kg.kinks("right"):
...     kg.grad(kg.relu)(0.0)
tensor(1.)
"""
from __future__ import annotations

import contextlib
import difflib
import numbers

import numpy as np

from ..context import default_state, scoped, set_default, state
from .declare import DECLARED, kinks_of
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
        if not isinstance(preset, str):
            raise TypeError(f"kinks: the preset is a name ({', '.join(BASE)}), got {type(preset).__name__} {preset!r}")
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise TypeError(f"kinks: seed must be an int (or None), got {type(seed).__name__} {seed!r}")
        if preset not in BASE:
            raise ValueError(f"kinks: unknown preset {preset!r}{_suggest(preset, BASE)}; "
                             f"choose one of {', '.join(BASE)}")
        if ties is not None and ties not in TIES:
            raise ValueError(f"kinks: ties={ties!r} is not one of {', '.join(TIES)}")
        if singular not in SINGULAR:
            raise ValueError(f"kinks: singular={singular!r} is not one of {', '.join(SINGULAR)}")
        for op, rule in (overrides or {}).items():
            check_override(op, rule)
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

    def engine_flags(self):
        """The engine switches this policy needs: call sites recorded for ``raise`` and the audit,
        probing directions carried for ``directional``."""
        raises = self.preset == "raise" or "raise" in self.overrides.values() or self.singular == "raise"
        return {"sites": raises or self.audit is not None,
                "directional": self.depth if self.preset == "directional" else 0}

    def __repr__(self):
        extra = "".join(f", {k}={v!r}" for k, v in self.overrides.items())
        if self.ties:
            extra += f", ties={self.ties!r}"
        if self.singular != "limit":
            extra += f", singular={self.singular!r}"
        return f"Policy({self.preset!r}{extra})"


def _suggest(word, choices):
    close = difflib.get_close_matches(str(word), list(choices), n=3)
    return f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""


def check_override(op, rule):
    """Refuse an override for an op that declares no kinks, or a rule word the op does not know."""
    if op not in DECLARED:
        raise ValueError(f"kinks: no op named {op!r} declares kinks{_suggest(op, DECLARED)}; "
                         "`python -m kinkgrad table` lists the ops and their conventions")
    if isinstance(rule, bool) or not (isinstance(rule, (numbers.Real, dict, str)) or callable(rule)):
        raise ValueError(f"kinks: override {op}={rule!r} must be a number (the derivative at the kink), a rule "
                         f"word, a {{kink label: rule}} dict, or a function")
    for r in (rule.values() if isinstance(rule, dict) else (rule,)):
        if isinstance(r, str):
            own = {w for k in kinks_of(op) for w in k.rules}
            if r not in SIDES and r not in own:
                words = SIDES + tuple(sorted(own))
                raise ValueError(f"kinks: {op}={r!r} is not a rule{_suggest(r, words)}; {op} takes "
                                 f"{', '.join(words)}, a number or a function")


def current():
    """The policy in effect here: the innermost ``kg.kinks`` scope, else the process default."""
    return state().policy


def coerce(spec=None, ties=None, singular=None, seed=None, depth=None, **overrides):
    """A Policy from a preset name, a Policy, or a dict of overrides, on top of the active one."""
    base = current()
    kw = dict(ties=ties, singular=singular, seed=seed, depth=depth)
    if isinstance(spec, Policy):
        return spec.merged(**kw, **overrides)
    if isinstance(spec, dict):
        return base.merged(**kw, **spec, **overrides)
    return base.merged(preset=spec, **kw, **overrides)


def use(policy):
    """Run a block under ``policy`` (a Policy), with the engine switches it needs (call sites stay
    recorded under anomaly mode)."""
    flags = policy.engine_flags()
    flags["sites"] = flags["sites"] or state().anomaly
    return scoped(policy=policy, **flags)


@contextlib.contextmanager
def kinks(preset=None, *, ties=None, singular=None, seed=None, depth=None, **overrides):
    """Scope a kink policy: ``with kg.kinks("right"):``, ``kg.kinks(relu=1.0, ties="first")``,
    ``kg.kinks("random", seed=0)``, ``kg.kinks(singular="zero")``, ``kg.kinks("directional",
    seed=0, depth=2)`` (``depth``: probing directions carried, for ties the first leaves open).
    ``kg.kinks.current()`` is the policy in effect."""
    policy = coerce(preset, ties, singular, seed, depth, **overrides)
    with use(policy):
        yield policy


kinks.current = current


def set_kinks(preset="default", *, ties=None, singular="limit", seed=None, **overrides):
    """Set the process default policy: every thread and task that has not scoped its own with
    ``kg.kinks(...)`` uses it, including threads started later (like ``torch.set_default_dtype``)."""
    policy = Policy(preset, overrides, ties, singular, seed)
    flags = policy.engine_flags()
    flags["sites"] = flags["sites"] or default_state().anomaly
    set_default(policy=policy, **flags)


def get_kinks():
    return current()


set_default(policy=Policy())
