"""The whole fuzz table: ``OPS`` (name -> FuzzOp) and the families the generator draws from."""
from __future__ import annotations

from .ops_arrays import INDEX, REDUCE, SHAPE, SOFTMAX
from .ops_elementwise import BINARY, KINKS, SMOOTH
from .ops_math import CONV, LINALG, LOSS, NORM, ORDER

ALL = SMOOTH + KINKS + BINARY + REDUCE + SOFTMAX + SHAPE + INDEX + LINALG + ORDER + CONV + NORM + LOSS
OPS = {op.name: op for op in ALL}
assert len(OPS) == len(ALL), "op names must be unique"
FAMILIES = sorted({op.family for op in ALL})
