"""Linear algebra: matmul (batched, NumPy's 1-D rules), dot, outer, einsum, norms."""
from __future__ import annotations

import numpy as np

from ..autodiff.primitive import Primitive
from ..tensor import Tensor
from ._declare import ndim_of, shape_of
from .shape import reshape


def _as_matrices(m, g, a, b):
    """View the 1-D cases of matmul as matrices so one rule covers all of them."""
    if ndim_of(a) == 1 and ndim_of(b) == 1:
        g = m.reshape(g, (1, 1))
    elif ndim_of(a) == 1:
        g = m.expand_dims(g, -2)
    elif ndim_of(b) == 1:
        g = m.expand_dims(g, -1)
    a2 = m.expand_dims(a, 0) if ndim_of(a) == 1 else a
    b2 = m.expand_dims(b, -1) if ndim_of(b) == 1 else b
    return g, a2, b2


def _matmul_da(m, g, out, a, b):
    g, a2, b2 = _as_matrices(m, g, a, b)
    ga = m.matmul(g, m.swapaxes(b2, -1, -2))
    return m.sum_to(ga, shape_of(a)) if ndim_of(a) > 1 else m.reshape(m.sum_to(ga, (1, shape_of(a)[0])), shape_of(a))


def _matmul_db(m, g, out, a, b):
    g, a2, b2 = _as_matrices(m, g, a, b)
    gb = m.matmul(m.swapaxes(a2, -1, -2), g)
    return m.sum_to(gb, shape_of(b)) if ndim_of(b) > 1 else m.reshape(m.sum_to(gb, (shape_of(b)[0], 1)), shape_of(b))


_matmul = Primitive("matmul", np.matmul, vjp=(_matmul_da, _matmul_db), linear=True,
                    doc="Matrix product with NumPy's broadcasting and 1-D promotion rules.")


def matmul(a, b):
    """``a @ b``: batched matrix product (1-D operands are promoted as in NumPy)."""
    sa, sb = shape_of(a), shape_of(b)
    if len(sa) == 0 or len(sb) == 0:
        raise ValueError(f"matmul: operands must be at least 1-D, got shapes {tuple(sa)} and {tuple(sb)}")
    ka = sa[-1]
    kb = sb[-2] if len(sb) > 1 else sb[0]
    if ka != kb:
        raise ValueError(f"matmul: inner dimensions differ: shapes {tuple(sa)} and {tuple(sb)} ({ka} != {kb})")
    try:
        np.broadcast_shapes(tuple(sa[:-2]), tuple(sb[:-2]))
    except ValueError:
        raise ValueError(f"matmul: batch dimensions of {tuple(sa)} and {tuple(sb)} do not broadcast") from None
    return _matmul(a, b)


# -- affine: x @ w + b as one node ------------------------------------------------------------------
def _affine_kernel(x, w, b):
    """x @ w + b (b may be None); also the forward of a convolution after im2col."""
    out = np.matmul(x, w)
    if b is None:
        return out
    if out.dtype == np.result_type(out, b):
        out += b            # the product is a fresh array: adding in place saves an output-sized allocation
        return out
    return out + b


def _rows(m, a):
    """Every axis but the last flattened: the weight gradient of a batched x is one matrix product."""
    shape = shape_of(a)
    return a if len(shape) == 2 else m.reshape(a, (-1, shape[-1]))


_affine = Primitive(
    "affine", _affine_kernel,
    vjp=(lambda m, g, out, x, w, b: m.matmul(g, m.swapaxes(w, -1, -2)),
         lambda m, g, out, x, w, b: m.matmul(m.swapaxes(_rows(m, x), -1, -2), _rows(m, g)),
         lambda m, g, out, x, w, b: m.sum_to(g, shape_of(b))),
    jvp=(lambda m, t, out, x, w, b: m.matmul(t, w),
         lambda m, t, out, x, w, b: m.matmul(x, t),
         lambda m, t, out, x, w, b: m.broadcast_to(t, shape_of(out))),
    doc="x @ w + b for a weight matrix w: a dense layer's pre-activation in one node.")


def affine(x, w, b=None):
    """``x @ w + b`` with ``w`` of shape (in, out) (Keras' kernel layout) as one node: one output
    allocation instead of two and one graph node instead of two (PyTorch's ``addmm``)."""
    x, w, b = (v if v is None or isinstance(v, (Tensor, np.ndarray, float, int)) else np.asarray(v) for v in (x, w, b))
    sx, sw = tuple(shape_of(x)), tuple(shape_of(w))
    if len(sw) != 2 or len(sx) == 0 or sx[-1] != sw[0]:
        raise ValueError(f"affine: expects x (..., in) and w (in, out), got shapes {sx} and {sw}")
    if b is None:
        return matmul(x, w)
    out_shape, sb = sx[:-1] + (sw[1],), tuple(shape_of(b))
    try:
        fits = sb == (sw[1],) or np.broadcast_shapes(out_shape, sb) == out_shape   # (the usual bias first)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"affine: bias of shape {tuple(shape_of(b))} does not broadcast to the output shape "
                         f"{out_shape} (x {sx}, w {sw}); give one value per output unit, shape ({sw[1]},)")
    return _affine(x, w, b)


def dot(a, b):
    """Inner product of two 1-D tensors, or matmul otherwise."""
    if ndim_of(a) == 0 or ndim_of(b) == 0:
        return a * b
    if ndim_of(a) == 1 and ndim_of(b) == 1 and shape_of(a) != shape_of(b):
        raise ValueError(f"dot: vectors of different lengths, shapes {tuple(shape_of(a))} and {tuple(shape_of(b))}")
    return matmul(a, b)


def outer(a, b):
    """Outer product of two vectors (flattened first)."""
    return reshape(a, (-1, 1)) * reshape(b, (1, -1))


# -- einsum -----------------------------------------------------------------------------------
def _parse_einsum(spec, n):
    spec = spec.replace(" ", "")
    if "." in spec:
        raise NotImplementedError("einsum: ellipsis ('...') is not supported yet; spell the axes out")
    if "->" in spec:
        ins, out = spec.split("->")
    else:
        ins = spec
        letters = ins.replace(",", "")
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    terms = ins.split(",")
    if len(terms) != n:
        raise ValueError(f"einsum: spec {spec!r} names {len(terms)} operand(s) but {n} were given")
    return terms, out


def _einsum_vjp(m, g, out, *xs, spec):
    terms, out_term = _parse_einsum(spec, len(xs))
    grads = []
    for i, term in enumerate(terms):
        if len(set(term)) != len(term):
            raise NotImplementedError(f"einsum: the derivative for a repeated index in operand {term!r} "
                                      "(a diagonal) is not implemented")
        others = [t for j, t in enumerate(terms) if j != i]
        present = set(out_term).union(*others) if others else set(out_term)
        kept = "".join(c for c in term if c in present)
        gi = m.einsum(",".join([out_term] + others) + "->" + kept, g, *[x for j, x in enumerate(xs) if j != i])
        if kept != term:    # indices summed only inside this operand: broadcast back
            shape = [shape_of(xs[i])[term.index(c)] if c in kept else 1 for c in term]
            gi = m.broadcast_to(m.reshape(gi, tuple(shape)), shape_of(xs[i]))
        grads.append(gi)
    return grads


_einsum = Primitive("einsum", lambda *xs, spec: np.einsum(spec, *xs, optimize=len(xs) > 2),
                    vjp=_einsum_vjp, linear=True, joint_rules=True,
                    doc="Einstein summation (multilinear in its operands).")


def einsum(spec, *operands):
    """Einstein summation, e.g. ``einsum("bij,bjk->bik", a, b)``."""
    terms, _ = _parse_einsum(spec, len(operands))
    for term, x in zip(terms, operands):
        if len(term) != ndim_of(x):
            raise ValueError(f"einsum: operand {term!r} has {len(term)} indices but shape {tuple(shape_of(x))}")
    return _einsum(*operands, spec=spec)
