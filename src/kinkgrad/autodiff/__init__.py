"""The engine: primitives and nodes (``primitive``), reverse mode (``backward``), directional mode
(``directional``), functional transforms (``transforms``), in-place safety and anomaly mode
(``safety``), and the NumPy rule namespace (``rawops``)."""
from . import backward, directional, primitive, rawops, safety, transforms  # noqa: F401  (some install themselves)
