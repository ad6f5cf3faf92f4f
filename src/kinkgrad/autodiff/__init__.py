"""The engine: primitives and nodes (``primitive``), reverse mode (``backward``), directional mode
(``directional``), functional transforms (``transforms``), in-place safety and anomaly mode
(``safety``)."""
from . import backward, directional, primitive, safety, transforms  # noqa: F401  (some install themselves)
