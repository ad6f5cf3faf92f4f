"""Documentation generated from the declarations: each op's kinks, their one-sided derivatives, and
the value the default and the framework presets give there, read from the preset tables (never
retyped, so the docs cannot drift from what the resolver does)."""
from __future__ import annotations

import numbers

import numpy as np

from .declare import kinks_of
from .presets import BASE, TABLES

SHOWN_PRESETS = ("default", "torch", "jax", "tensorflow")
_KIND = {"kink": "Kink", "jump": "Jump", "tie": "Ties", "singular": "Singular point"}
_TIE_WORDS = {"default": "shared evenly", "split": "shared evenly", "first": "all to the first",
              "last": "all to the last"}
_SINGULAR_WORDS = {"default": "the one-sided limit", "limit": "the one-sided limit", "zero": "0", "nan": "NaN"}


def _number(v):
    v = float(v)
    if np.isnan(v):
        return "NaN"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:g}"


def _rule_text(rule, kink):
    """What ``rule`` gives at ``kink``: a number where the one-sided derivatives are constants,
    otherwise the rule in words."""
    if isinstance(rule, dict):
        rule = rule.get(kink.label, "default")
    if callable(rule):
        doc = (getattr(rule, "__doc__", None) or getattr(rule, "__name__", "a custom rule")).strip()
        return doc.split("\n")[0].rstrip(".")
    if isinstance(rule, numbers.Real) and not isinstance(rule, bool):
        return _number(rule)
    if kink.kind == "tie":
        return _TIE_WORDS.get(rule, kink.rules.get(rule, rule))
    if kink.kind == "singular":
        return _SINGULAR_WORDS.get(rule, rule)
    if rule in kink.rules:
        return kink.rules[rule]
    left, right = kink.left, kink.right
    if callable(left) or callable(right):
        return {"default": "minimum-norm one-sided derivative"}.get(rule, f"the {rule} derivative")
    lo, hi = min(left, right), max(left, right)
    value = {"default": 0.0 if lo <= 0 <= hi else (lo if lo > 0 else hi), "left": left, "right": right,
             "mid": (left + right) / 2, "zero": 0.0, "nan": np.nan}.get(rule)
    return rule if value is None else _number(value)


def describe(op):
    """The ``Kink:`` lines of ``op``'s docstring (empty when the op declares no kinks)."""
    lines = []
    for kink in kinks_of(op):
        head = f"{_KIND[kink.kind]}: {kink.where or 'where the op declares'}"
        if kink.kind in ("kink", "jump") and not (callable(kink.left) or callable(kink.right)):
            head += f"; one-sided derivatives {_number(kink.left)} (left) and {_number(kink.right)} (right)"
        values = []
        for preset in SHOWN_PRESETS:
            table = TABLES.get(preset, {})
            rule = table.get(op, BASE[preset])
            values.append(f"{preset} {_rule_text(rule, kink)}")
        lines.append(f"{head}. Value there: {'; '.join(values)}.")
        if kink.rules:
            lines.append("Rules of its own: " + "; ".join(f"``{w}``: {m}" for w, m in kink.rules.items()) + ".")
    return "\n".join(lines)


def with_kink_lines(doc, op):
    """``doc`` followed by the generated kink lines of ``op``."""
    extra = describe(op)
    doc = (doc or "").rstrip()
    return f"{doc}\n\n{extra}" if extra else doc


def documents(op):
    """Decorator for a function that applies ``op``'s primitive: append ``op``'s kink lines to its
    docstring."""
    def attach(fn):
        fn.__doc__ = with_kink_lines(fn.__doc__, op)
        return fn
    return attach
