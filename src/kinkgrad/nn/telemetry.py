"""Kink telemetry for ``fit(audit=True)`` and ``evaluate(audit=True)``: one ``kg.audit()`` around the
epoch; every layer called inside the model runs in ``kg.name_scope(layer.name)`` while an audit is
active, so the report splits the counts per layer (plus ``loss``, ``regularization``, and the model's own
name for ops its forward runs outside any layer).

Per epoch: ``hits`` (elements evaluated exactly at a kink during the backward passes), ``dependent``
(those whose upstream gradient was nonzero: the update depended on the kink convention),
``evaluated`` (elements of nonsmooth ops evaluated), ``rate`` = hits / evaluated, and ``layers``.
"""
from __future__ import annotations

import kinkgrad as kg


def _label(scope, root):
    """Layers are scoped by name; what ran unscoped ran in the model's own forward."""
    return root if scope is None else scope


def summarize(report, root):
    """The dict ``History.kinks`` holds for one epoch, from an AuditReport."""
    layers = {}
    for scope, counts in report.by_scope().items():
        row = layers.setdefault(_label(scope, root), {"hits": 0, "dependent": 0, "evaluated": 0})
        for k in row:
            row[k] += counts[k]
    evaluated = sum(r["evaluated"] for r in layers.values())
    hits = report.hits
    return {"hits": hits, "dependent": report.dependent, "evaluated": evaluated,
            "rate": hits / evaluated if evaluated else 0.0, "layers": layers}


class EpochAudit:
    """``with EpochAudit(model.name) as a: ...`` then ``a.result``."""

    def __init__(self, root):
        self.root, self.result = root, None

    def __enter__(self):
        self._ctx = kg.audit()
        self.report = self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        try:
            return self._ctx.__exit__(*exc)
        finally:
            self.result = summarize(self.report, self.root)
