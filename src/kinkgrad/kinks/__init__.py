"""The kink model: declarations (``declare``), policies and presets (``policy``, ``presets``), the
resolver (``resolve``), the audit (``audit``) and cut-gradient warnings (``cuts``)."""
from .audit import AuditReport, audit
from .cuts import NonDifferentiableWarning
from .declare import Kink
from .policy import PRESETS, Policy, get_kinks, kinks, set_kinks
from .resolve import KinkError

__all__ = ["AuditReport", "Kink", "KinkError", "NonDifferentiableWarning", "PRESETS", "Policy", "audit",
           "get_kinks", "kinks", "set_kinks"]
