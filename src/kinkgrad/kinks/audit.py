"""The audit: what happened at kinks while derivatives were computed.

>>> import kinkgrad as kg
>>> with kg.audit() as report:
...     _ = kg.grad(lambda x: kg.relu(x).sum())(kg.tensor([-1.0, 0.0, 2.0]))
>>> report.semantics
'convention-dependent'

Every decision of the resolver is counted per op, per user call site and per input: how many
elements sat exactly on a kink (and, with ``tol=``, within ``tol`` of one), their dtype, the rule
that decided, and how many of them had a nonzero upstream gradient (only those make the result
depend on the convention). Nothing is recorded, and nothing is paid, outside an audit.
"""
from __future__ import annotations

import contextlib
import copy

import numpy as np

from .policy import current, use


def _rule_name(rule):
    if callable(rule):
        return getattr(rule, "__name__", "custom")
    return str(rule)


class AuditReport:
    """Counts per (op, call site, input). ``semantics`` sums them up in one word."""

    def __init__(self, tol=None):
        self.tol = tol
        self.rows = {}
        self.surrogates = 0
        self.certified = 0
        self.directional = {}

    def _row(self, op, site, i, dtype, rule, kind):
        scope = getattr(site, "scope", None)
        key = (op, str(site) if site else "?", i, scope)
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = {"op": op, "site": key[1], "scope": scope, "input": i, "kind": kind,
                                    "dtype": str(dtype), "rule": _rule_name(rule), "evaluated": 0, "at_kink": 0,
                                    "near_kink": 0, "dependent": 0}
        return row

    def record(self, op, site, kink, mask, raw_xs, g, rule, i, near=None):
        x = np.asarray(raw_xs[0]) if raw_xs else np.asarray(0.0)
        mask = np.broadcast_to(np.asarray(mask, dtype=bool), np.shape(mask))
        row = self._row(op, site, i, x.dtype, rule, kink.kind)
        row["evaluated"] += int(np.size(mask))
        row["at_kink"] += int(np.count_nonzero(mask))
        if near is not None:
            row["near_kink"] += int(np.count_nonzero(near))
        if g is not None and np.any(mask):
            gm = np.broadcast_to(np.asarray(getattr(g, "data", g)), np.broadcast_shapes(np.shape(g), mask.shape))
            row["dependent"] += int(np.count_nonzero(np.broadcast_to(mask, gm.shape) & (gm != 0)))

    def record_ties(self, op, site, tied, g, rule, x):
        row = self._row(op, site, 0, np.asarray(x).dtype if x is not None else "?", rule, "tie")
        row["evaluated"] += int(np.size(tied))
        row["at_kink"] += int(np.count_nonzero(tied))
        if g is not None:
            gm = np.asarray(getattr(g, "data", g))
            row["dependent"] += int(np.count_nonzero(tied & np.broadcast_to(gm != 0, tied.shape)))
        else:
            row["dependent"] += int(np.count_nonzero(tied))

    def record_directional(self, op, site, counts, total):
        """Directional mode decided ``total`` kinks: ``counts[k]`` of them by direction k + 1."""
        key = (op, str(site) if site else "?")
        row = self.directional.setdefault(key, {"op": op, "site": key[1], "kinks": 0, "first_order": 0,
                                                "higher_order": 0, "undecided": 0})
        row["kinks"] += total
        row["first_order"] += counts[0] if counts else 0
        row["higher_order"] += sum(counts[1:])
        row["undecided"] += total - sum(counts)
        self.certified += total

    def snapshot(self):
        return copy.deepcopy((self.rows, self.directional, self.surrogates, self.certified))

    def restore(self, snap):
        self.rows, self.directional, self.surrogates, self.certified = snap

    @property
    def hits(self):
        return sum(r["at_kink"] for r in self.rows.values())

    @property
    def dependent(self):
        """Kink elements whose upstream gradient was nonzero (the result depended on the convention)."""
        return sum(r["dependent"] for r in self.rows.values())

    def by_scope(self):
        """``{name_scope label: {"hits": ..., "dependent": ..., "evaluated": ...}}`` (None = no scope)."""
        out = {}
        for r in self.rows.values():
            s = out.setdefault(r["scope"], {"hits": 0, "dependent": 0, "evaluated": 0})
            s["hits"] += r["at_kink"]
            s["dependent"] += r["dependent"]
            s["evaluated"] += r["evaluated"]
        return out

    @property
    def semantics(self):
        """``exact`` (no kink influenced the result), ``convention-dependent``, ``surrogate`` or
        ``certified``."""
        if self.surrogates:
            return "surrogate"
        if self.certified:
            return "certified"
        if any(r["dependent"] for r in self.rows.values()):
            return "convention-dependent"
        return "exact"

    def to_dict(self):
        return {"semantics": self.semantics, "tol": self.tol, "rows": [dict(r) for r in self.rows.values()],
                "directional": [dict(r) for r in self.directional.values()]}

    def __str__(self):
        scoped = any(r["scope"] for r in self.rows.values())
        head = ["op", "input", "site"] + (["scope"] if scoped else []) + [
            "dtype", "rule", "evaluated", "at kink", "near kink", "dependent"]
        lines = [f"kink audit: {self.semantics}"
                 + ("" if self.hits else " (no element sat on a kink)")]
        if self.rows:
            body = [[r["op"], str(r["input"]), r["site"]] + ([r["scope"] or "-"] if scoped else []) + [
                     r["dtype"], r["rule"], str(r["evaluated"]), str(r["at_kink"]),
                     str(r["near_kink"]) if self.tol else "-", str(r["dependent"])]
                    for r in self.rows.values()]
            widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
            lines.append("  ".join(h.ljust(w) for h, w in zip(head, widths)))
            lines.extend("  ".join(c.ljust(w) for c, w in zip(b, widths)) for b in body)
        for r in self.directional.values():
            lines.append(f"certified: {r['op']} at {r['site']}: {r['kinks']} kink(s) decided, {r['first_order']} by "
                         f"the first direction, {r['higher_order']} by later ones, {r['undecided']} flat in all "
                         "(minimum-norm piece)")
        lines.append("'dependent' counts kink elements whose upstream gradient was nonzero: "
                     "only they make the result depend on the convention.")
        return "\n".join(lines)

    __repr__ = __str__


@contextlib.contextmanager
def audit(tol=None):
    """Record every kink decision made inside the block (see ``AuditReport``).

    ``tol``: also count elements within ``tol`` of a kink (where the op declares a distance).
    Call sites are recorded for ops created inside the block.
    """
    report = AuditReport(tol)
    with use(current().merged(audit=report)):
        yield report
