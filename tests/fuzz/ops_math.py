"""Fuzz table, the rest: linear algebra, order statistics, convolution and pooling, norms, losses."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

import kinkgrad as kg

from .table import (
    INF,
    FuzzOp,
    abs0,
    axis_int,
    axis_params,
    binary,
    choose,
    d_points,
    even_axis,
    gap,
    ge1,
    ge2,
    min_of,
    odd_axis,
    paired,
    top_gap,
    torch_median,
    torch_quantile,
    unary,
    window_gap,
)


# -- linear algebra ------------------------------------------------------------------------------------
def _matmul_plan(g):
    """x @ W or W @ x with a new weight leaf W (a vector, a matrix or a broadcast batch of matrices)."""
    x = g.var(ge1)
    if x is None:
        return None
    shape = g.shape(x)
    m = g.int(1, 4)
    if len(shape) >= 2 and g.coin():
        return [g.leaf(g.pick([(m, shape[-2]), (shape[-2],)])), x], {}
    n = shape[-1]
    options = [(n, m), (n,)] + ([(g.pick([1, shape[-3]]) if len(shape) >= 3 else g.int(1, 2), n, m)]
                                if len(shape) >= 2 else [])
    return [x, g.leaf(g.pick(options))], {}


def _dot_plan(g):
    x = g.var(lambda s: len(s) in (1, 2))
    if x is None:
        return None
    n = g.shape(x)[-1]
    return [x, g.leaf(g.pick([(n,), (n, g.int(1, 3))]))], {}


def _affine_plan(g):
    x = g.var(ge1)
    if x is None:
        return None
    n, m = g.shape(x)[-1], g.int(1, 4)
    return [x, g.leaf((n, m)), g.leaf(g.pick([(m,), (1, m)]) if len(g.shape(x)) >= 2 else (m,))], {}


_EINSUM = {  # spec -> shapes of the extra leaves, from the first operand's shape
    1: [("i,i->", lambda s, k: [s]), ("i,j->ij", lambda s, k: [(k,)])],
    2: [("ij->ji", lambda s, k: []), ("ij->i", lambda s, k: []), ("ij->", lambda s, k: []),
        ("ij,jk->ik", lambda s, k: [(s[1], k)]), ("ij,ij->i", lambda s, k: [s]),
        ("ij,jk,kl->il", lambda s, k: [(s[1], k), (k, 2)]), ("ij,jk", lambda s, k: [(s[1], k)])],
    3: [("bij,bjk->bik", lambda s, k: [(s[0], s[2], k)]), ("bij->bji", lambda s, k: []),
        ("bij,jk->bk", lambda s, k: [(s[2], k)])],
}


def _einsum_plan(g):
    x = g.var(lambda s: len(s) in _EINSUM)
    if x is None:
        return None
    spec, extra = g.pick(_EINSUM[len(g.shape(x))])
    return [x] + [g.leaf(s) for s in extra(g.shape(x), g.int(1, 3))], {"spec": spec}


LINALG = [
    FuzzOp("matmul", "linalg", kg.matmul, torch.matmul, _matmul_plan),
    FuzzOp("op_matmul", "linalg", lambda a, b: a @ b, lambda a, b: a @ b, _matmul_plan),
    FuzzOp("dot", "linalg", kg.dot, torch.matmul, _dot_plan),
    FuzzOp("outer", "linalg", kg.outer, lambda a, b: torch.outer(a.reshape(-1), b.reshape(-1)), binary()),
    FuzzOp("affine", "linalg", kg.affine, lambda x, w, b: x @ w + b, _affine_plan),
    FuzzOp("einsum", "linalg", lambda *xs, spec: kg.einsum(spec, *xs), lambda *xs, spec: torch.einsum(spec, *xs),
           _einsum_plan),
]


# -- order statistics ----------------------------------------------------------------------------------
def _topk_params(g, x):
    axis = g.axis(g.shape(x), none=False, tuples=False)
    return {"k": g.int(1, g.shape(x)[axis]), "axis": axis, "largest": g.coin()}


def _quantile_params(g, x):
    return {"q": g.pick([0.0, 0.25, 0.3, 0.5, 0.75, 1.0]), "axis": g.axis(g.shape(x), none=True, tuples=False),
            "keepdims": g.coin()}


def _row_gap(xs, p):
    return gap(xs[0], p.get("axis"))


ORDER = [
    FuzzOp("sort", "order", lambda x, axis, descending: kg.sort(x, axis=axis, descending=descending),
           lambda x, axis, descending: torch.sort(x, axis, descending=descending).values,
           unary(lambda g, x: {**axis_int(g, x), "descending": g.coin()}, ge1), kink=_row_gap),
    FuzzOp("topk", "order", lambda x, k, axis, largest: kg.topk(x, k, axis=axis, largest=largest)[0],
           lambda x, k, axis, largest: torch.topk(x, k, axis, largest=largest).values, unary(_topk_params, ge1),
           kink=_row_gap),
    FuzzOp("median_odd", "order", lambda x, axis, keepdims: kg.median(x, axis=axis, keepdims=keepdims),
           torch_median, unary(odd_axis, ge1), kink=_row_gap),
    # NumPy's median of an even count is the mean of the two middle values: torch.quantile(x, 0.5)
    FuzzOp("median_even", "order", lambda x, axis, keepdims: kg.median(x, axis=axis, keepdims=keepdims),
           lambda x, axis, keepdims: torch_quantile(x, 0.5, axis, keepdims), unary(even_axis, ge1),
           kink=_row_gap,
           at_kinks="kg.median of an even count is NumPy's mean of the two middle values, torch.median the lower "
                    "one: different functions; the torch preset's median rule reproduces torch.median (odd counts)"),
    FuzzOp("quantile", "order", lambda x, q, axis, keepdims: kg.quantile(x, q, axis=axis, keepdims=keepdims),
           torch_quantile, unary(_quantile_params, ge1), kink=_row_gap),
    FuzzOp("cummax", "order", lambda x, axis: kg.cummax(x, axis=axis), lambda x, axis: torch.cummax(x, axis).values,
           unary(axis_int, ge1), kink=_row_gap),
    FuzzOp("cummin", "order", lambda x, axis: kg.cummin(x, axis=axis), lambda x, axis: torch.cummin(x, axis).values,
           unary(axis_int, ge1), kink=_row_gap),
    FuzzOp("gather_argsort", "order",
           lambda x, y, axis: kg.take_along_axis(x, kg.argsort(y, axis=axis), axis),
           lambda x, y, axis: torch.take_along_dim(x, torch.argsort(y, dim=axis, stable=True), axis),
           lambda g: paired(g, lambda x: axis_int(g, x)), kink=lambda xs, p: gap(xs[1], p["axis"])),
]


# -- convolution and pooling -----------------------------------------------------------------------------
def _conv_plan(g):
    x = g.var(lambda s: len(s) == 4 and min(s[2:]) >= 2)
    if x is None:
        return None
    n, c, h, w = g.shape(x)
    k = (g.int(1, 3), g.int(1, 3))
    p = {"stride": g.int(1, 2), "padding": g.int(0, 1), "dilation": g.int(1, 2)}
    if min(size + 2 * p["padding"] - p["dilation"] * (kk - 1) for size, kk in zip((h, w), k)) < 1:
        return None
    o = g.int(1, 3)
    args = [x, g.leaf((o, c) + k)]
    return (args + [g.leaf((o,))] if g.coin() else args), p


def _pool_plan(g):
    x = g.var(lambda s: len(s) in (3, 4) and min(s[-2:]) >= 2)
    if x is None:
        return None
    h, w = g.shape(x)[-2:]
    k = g.pick([(2, 2), (3, 3), (2, 3), (1, 2)])
    p = tuple(g.int(0, kk // 2) for kk in k)
    if h + 2 * p[0] < k[0] or w + 2 * p[1] < k[1]:
        return None
    return [x], {"k": k, "stride": g.pick([None, 1, 2, (1, 2)]), "padding": p}


def _pool_kink(xs, p):
    s = p["stride"] if p["stride"] is not None else p["k"]
    s = (s, s) if isinstance(s, int) else s
    return window_gap(xs[0], p["k"], s, p["padding"])


CONV = [
    FuzzOp("conv2d", "conv", lambda x, w, b=None, **p: kg.conv2d(x, w, b, **p),
           lambda x, w, b=None, **p: F.conv2d(x, w, b, **p), _conv_plan),
    FuzzOp("max_pool2d", "conv", lambda x, k, stride, padding: kg.max_pool2d(x, k, stride, padding),
           lambda x, k, stride, padding: F.max_pool2d(x, k, stride, padding), _pool_plan, kink=_pool_kink),
    FuzzOp("avg_pool2d", "conv", lambda x, k, stride, padding: kg.avg_pool2d(x, k, stride, padding),
           lambda x, k, stride, padding: F.avg_pool2d(x, k, stride, padding), _pool_plan),
]


# -- norms -----------------------------------------------------------------------------------------------
def _vector_axis(g, x):
    """A single axis, or None for a 1-d tensor (vector norms other than 2 need one axis)."""
    shape = g.shape(x)
    return {"axis": None if len(shape) == 1 and g.coin() else g.int(0, len(shape) - 1), "keepdims": g.coin()}


def _fro_axes(g, x):
    nd = len(g.shape(x))
    a, b = g.rng.choice(nd, 2, replace=False)
    return {"axis": (int(a), int(b)), "keepdims": g.coin()}


def _norm_op(name, order, params, kink):
    return FuzzOp(name, "norm", lambda x, axis, keepdims: kg.linalg.norm(x, order, axis=axis, keepdims=keepdims),
                  lambda x, axis, keepdims: torch.linalg.vector_norm(x, 2 if order in (None, "fro") else order,
                                                                     dim=axis, keepdim=keepdims),
                  unary(params, ge2 if order == "fro" else ge1), kink=kink)


_norm_zero = lambda xs, p: min_of(np.sqrt(np.sum(np.asarray(xs[0]) ** 2, axis=p["axis"])))
_abs_min = lambda xs, p: min_of(np.abs(xs[0]))

NORM = [
    _norm_op("norm_l2", None, lambda g, x: axis_params(g, x), _norm_zero),
    _norm_op("norm_fro", "fro", _fro_axes, _norm_zero),
    _norm_op("norm_l1", 1, _vector_axis, _abs_min),
    _norm_op("norm_inf", INF, _vector_axis,
             lambda xs, p: min(_abs_min(xs, p), top_gap(np.abs(xs[0]), p["axis"]))),
    _norm_op("norm_-inf", -INF, _vector_axis,
             lambda xs, p: min(_abs_min(xs, p), top_gap(np.abs(xs[0]), p["axis"], largest=False))),
    _norm_op("norm_p3", 3, _vector_axis, _abs_min),
]


# -- losses (Keras order loss(y_true, y_pred); torch's are loss(input=y_pred, target=y_true)) --------------
def _treduce(v, reduction):
    return v.mean() if reduction == "mean" else v.sum() if reduction == "sum" else v


def _loss_plan(extra=None):
    def plan(g):
        x = g.var()
        p = {"reduction": g.pick(["mean", "sum", "none"]), **(extra(g, x) if extra else {})}
        return [g.operand(g.shape(x), same=True), x], p
    return plan


def _labels_plan(values):
    def plan(g):
        x = g.var()
        return [x], {"y": g.rng.choice(values, g.shape(x)).astype(float), "reduction": g.pick(["mean", "sum", "none"])}
    return plan


def _log_cosh_plan(g):
    plan = _loss_plan()(g)
    r = g.val(plan[0][1]) - g.val(plan[0][0])
    return plan if min_of(-np.abs(r)) >= -30 else None


_residual = lambda xs, p: min_of(np.abs(xs[1] - xs[0]))

LOSS = [
    FuzzOp("loss_mse", "loss", lambda t, x, reduction: kg.losses.mse(t, x, reduction=reduction),
           lambda t, x, reduction: F.mse_loss(x, t, reduction=reduction), _loss_plan()),
    FuzzOp("loss_mae", "loss", lambda t, x, reduction: kg.losses.mae(t, x, reduction=reduction),
           lambda t, x, reduction: F.l1_loss(x, t, reduction=reduction), _loss_plan(), kink=_residual),
    FuzzOp("loss_huber", "loss", lambda t, x, reduction, delta: kg.losses.huber(t, x, delta, reduction=reduction),
           lambda t, x, reduction, delta: F.huber_loss(x, t, reduction=reduction, delta=delta),
           _loss_plan(choose(delta=[1.0, 0.5])),
           kink=lambda xs, p: min(_residual(xs, p), d_points(np.abs(xs[1] - xs[0]), p["delta"]))),
    FuzzOp("loss_smooth_l1", "loss", lambda t, x, reduction, beta: kg.losses.smooth_l1(t, x, beta, reduction=reduction),
           lambda t, x, reduction, beta: F.smooth_l1_loss(x, t, reduction=reduction, beta=beta),
           _loss_plan(choose(beta=[1.0, 0.5, 0.0])),
           kink=lambda xs, p: min(_residual(xs, p), d_points(np.abs(xs[1] - xs[0]), p["beta"]))),
    # log cosh(r) is smooth; kinkgrad computes it from |r| (the kink of abs cancels), so the audit sees r = 0
    FuzzOp("loss_log_cosh", "loss", lambda t, x, reduction: kg.losses.log_cosh(t, x, reduction=reduction),
           lambda t, x, reduction: _treduce(torch.log(torch.cosh(x - t)), reduction), _log_cosh_plan,
           kink=_residual),
    FuzzOp("loss_bce_logits", "loss",
           lambda x, y, reduction: kg.losses.binary_crossentropy(y, x, from_logits=True, reduction=reduction),
           lambda x, y, reduction: F.binary_cross_entropy_with_logits(x, torch.as_tensor(y), reduction=reduction),
           _labels_plan([0.0, 1.0]), kink=abs0),
    FuzzOp("loss_hinge", "loss", lambda x, y, reduction: kg.losses.hinge(y, x, reduction=reduction),
           lambda x, y, reduction: _treduce(torch.relu(1 - torch.as_tensor(y) * x), reduction),
           _labels_plan([-1.0, 1.0]), kink=lambda xs, p: d_points(p["y"] * xs[0], 1.0)),
    FuzzOp("loss_pinball", "loss", lambda t, x, reduction, q: kg.losses.quantile(t, x, q, reduction=reduction),
           lambda t, x, reduction, q: _treduce(torch.maximum(q * (t - x), (q - 1) * (t - x)), reduction),
           _loss_plan(choose(q=[0.5, 0.2, 0.9])), kink=_residual,
           at_kinks="PyTorch has no pinball loss: its side is a composition (maximum of two lines), whose tie rule "
                    "is not a PyTorch convention for this loss"),
]

