"""``kg.linalg``: NumPy's linear-algebra names."""
from .ops.linalg import dot, einsum, matmul, outer
from .ops.norms import norm

__all__ = ["dot", "einsum", "matmul", "outer", "norm"]
