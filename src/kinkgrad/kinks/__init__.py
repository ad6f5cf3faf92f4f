"""The kink model: declarations (``declare``), policies (``policy``) and the resolver (``resolve``)."""
from .declare import Kink
from .policy import PRESETS, Policy, get_kinks, kinks, set_kinks

__all__ = ["Kink", "PRESETS", "Policy", "get_kinks", "kinks", "set_kinks"]
