"""The engine: ``primitive`` and nodes, ``backward`` (reverse mode), ``directional``, ``transforms``, ``safety``."""
from . import backward, directional, primitive, safety, transforms  # noqa: F401  (some install themselves)
