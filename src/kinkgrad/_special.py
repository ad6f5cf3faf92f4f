"""Special functions NumPy lacks, vectorised (no SciPy dependency)."""
from __future__ import annotations

import math

import numpy as np

_verf = np.frompyfunc(math.erf, 1, 1)


def erf(x):
    """Error function, exact to double precision via ``math.erf`` (vectorised with frompyfunc)."""
    x = np.asarray(x)
    return np.asarray(_verf(x), dtype=x.dtype if x.dtype.kind == "f" else np.float64)
