"""The engine: primitives and nodes (``primitive``), reverse mode (``backward``), directional mode
(``directional``), functional transforms (``transforms``), and the NumPy rule namespace (``rawops``)."""
from . import backward, directional, primitive, rawops, transforms  # noqa: F401  (backward and directional install themselves)
