"""The active kink policy: a preset plus per-op overrides, context-local and nestable.

>>> import kinkgrad as kg
>>> with kg.kinks("right"):
...     kg.grad(kg.relu)(0.0)
tensor(1.)
"""
from __future__ import annotations

import contextlib
import numbers
from contextvars import ContextVar

PRESETS = {
    "default": "minimum-norm element of the local Clarke set (relu'(0)=0, abs'(0)=0, ties split evenly)",
    "left": "one-sided derivative from the left",
    "right": "one-sided derivative from the right",
    "mid": "average of the left and right one-sided derivatives",
    "zero": "0 at every kink",
    "nan": "NaN at every kink (shows where a result depends on a convention)",
}
SIDES = ("default", "left", "right", "mid", "zero", "nan")
TIES = ("split", "first", "last")


class Policy:
    """An immutable policy: ``preset`` for every op, ``overrides`` by op name, and a tie rule."""

    __slots__ = ("preset", "overrides", "ties")

    def __init__(self, preset="default", overrides=None, ties="split"):
        if preset not in PRESETS:
            raise ValueError(f"kinks: unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
        if ties not in TIES:
            raise ValueError(f"kinks: ties={ties!r} is not one of {', '.join(TIES)}")
        for op, rule in (overrides or {}).items():
            if not (isinstance(rule, numbers.Real) or rule in SIDES):
                raise ValueError(
                    f"kinks: override {op}={rule!r} must be a number (the derivative at the kink) "
                    f"or one of {', '.join(SIDES)}")
        self.preset = preset
        self.overrides = dict(overrides or {})
        self.ties = ties

    def rule_for(self, op):
        return self.overrides.get(op, self.preset)

    @property
    def is_default(self):
        return self.preset == "default" and not self.overrides and self.ties == "split"

    def merged(self, preset=None, ties=None, **overrides):
        return Policy(preset or self.preset, {**self.overrides, **overrides}, ties or self.ties)

    def __repr__(self):
        extra = "".join(f", {k}={v!r}" for k, v in self.overrides.items())
        return f"Policy({self.preset!r}{extra}, ties={self.ties!r})"


_DEFAULT = Policy()
_POLICY: ContextVar[Policy] = ContextVar("kinkgrad_kinks", default=_DEFAULT)


def current():
    return _POLICY.get()


def _coerce(spec=None, ties=None, **overrides):
    base = _POLICY.get()
    if isinstance(spec, Policy):
        return spec.merged(ties=ties, **overrides)
    return base.merged(preset=spec, ties=ties, **overrides)


@contextlib.contextmanager
def kinks(preset=None, *, ties=None, **overrides):
    """Scope a kink policy: ``with kg.kinks("right"):`` or ``with kg.kinks(relu=1.0, ties="first"):``."""
    token = _POLICY.set(_coerce(preset, ties, **overrides))
    try:
        yield _POLICY.get()
    finally:
        _POLICY.reset(token)


def set_kinks(preset="default", *, ties="split", **overrides):
    """Set the policy for the current context (the process default when called at top level)."""
    _POLICY.set(Policy(preset, overrides, ties))


def get_kinks():
    return _POLICY.get()
