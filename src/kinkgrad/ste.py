"""Ready straight-through estimators: the hard op forward, a simple derivative backward.

| op | forward | backward |
|---|---|---|
| ``ste.round(x)`` | round half to even | 1 |
| ``ste.floor(x)`` | floor | 1 |
| ``ste.sign(x)`` | sign | 1 where abs(x) < 1, else 0 (the hardtanh derivative, BinaryNet) |
| ``ste.heaviside(x)`` | 1[x > 0] | 1 |
| ``ste.clip(x, lo, hi)`` | clip | 1 (gradients pass the bounds) |
"""
from __future__ import annotations

from . import ops
from .custom import straight_through

round = straight_through(ops.round, name="ste.round")
floor = straight_through(ops.floor, name="ste.floor")
sign = straight_through(ops.sign, grad_like=ops.hardtanh, name="ste.sign")
heaviside = straight_through(lambda x: ops.heaviside(x, 0.0), name="ste.heaviside")


def clip(x, lo=None, hi=None):
    return straight_through(lambda v: ops.clip(v, lo, hi), name="ste.clip")(x)
