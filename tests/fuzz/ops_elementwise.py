"""Fuzz table, elementwise part: smooth functions (domain shifts keep them off singular points),
nonsmooth functions with their kinks, and binary operators with broadcasting."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

import kinkgrad as kg

from .table import FuzzOp, binary, cap_shift, choose, d_integer, d_points, min_of, pos_shift, shift_pos, unary


# -- the table: elementwise ------------------------------------------------------------------------
def E(name, kgf, tf, params=None, kink=None, family="smooth", fits=None, **kw):
    return FuzzOp(name, family, kgf, tf, unary(params, fits), kink, **kw)


def K(name, kgf, tf, params=None, kink=None, **kw):
    return E(name, kgf, tf, params, kink or (lambda xs, p: d_points(xs[0], 0.0)), family="kinks", **kw)


SMOOTH = [
    E("exp", lambda x, s: kg.exp(x - s), lambda x, s: torch.exp(x - s), lambda g, x: {"s": cap_shift(g.val(x), 3)}),
    E("expm1", lambda x, s: kg.expm1(x - s), lambda x, s: torch.expm1(x - s),
      lambda g, x: {"s": cap_shift(g.val(x), 3)}),
    E("log", lambda x, s: kg.log(x + s), lambda x, s: torch.log(x + s), shift_pos),
    E("log1p", lambda x, s: kg.log1p(x + s), lambda x, s: torch.log1p(x + s),
      lambda g, x: {"s": pos_shift(g.val(x), -0.8)}),
    E("sqrt", lambda x, s: kg.sqrt(x + s), lambda x, s: torch.sqrt(x + s), shift_pos),
    E("reciprocal", lambda x, s: kg.reciprocal(x + s), lambda x, s: torch.reciprocal(x + s), shift_pos),
    E("sin", kg.sin, torch.sin), E("cos", kg.cos, torch.cos), E("tanh", kg.tanh, torch.tanh),
    E("tan", lambda x, c: kg.tan(x * c), lambda x, c: torch.tan(x * c),
      lambda g, x: {"c": 2.0 ** -max(0, math.ceil(math.log2(max(1e-300, -min_of(-np.abs(g.val(x)))) / 1.2)))}),
    E("sigmoid", kg.sigmoid, torch.sigmoid), E("erf", kg.erf, torch.erf), E("square", kg.square, torch.square),
    E("negative", kg.negative, torch.negative), E("op_neg", lambda x: -x, lambda x: -x),
    E("gelu", kg.gelu, F.gelu),
    E("gelu_tanh", lambda x: kg.gelu(x, approximate="tanh"), lambda x: F.gelu(x, approximate="tanh")),
    E("silu", kg.silu, F.silu), E("mish", kg.mish, F.mish), E("clone", lambda x: x.clone(), torch.clone),
    # PyTorch's softplus returns x where beta x > threshold (20 by default): kinkgrad's threshold=20 is the
    # same function, with a jump of ~2e-9 at the threshold (kept >= MARGIN away from it)
    E("softplus_threshold20", lambda x, beta: kg.softplus(x, beta=beta, threshold=20),
      lambda x, beta: F.softplus(x, beta, 20), choose(beta=[1.0, 2.0]),
      kink=lambda xs, p: d_points(p["beta"] * xs[0], 20.0)),
    E("softplus_exact", lambda x, beta: kg.softplus(x, beta=beta), lambda x, beta: F.softplus(x, beta),
      lambda g, x: (lambda b: {"beta": b} if -min_of(-g.val(x)) * b < 20 else None)(g.pick([1.0, 0.5])),
      at_kinks="kg.softplus is exact (no threshold) while F.softplus returns x above beta x > 20: a different "
               "forward function, not a kink convention (a preset never changes values; tests/kink_cases.py)"),
    E("power_int", lambda x, p: x ** p, lambda x, p: x ** p, choose(p=[2, 3])),
    E("power_frac", lambda x, s, p: (x + s) ** p, lambda x, s, p: (x + s) ** p,
      lambda g, x: {"s": pos_shift(g.val(x)), "p": g.pick([2.5, 0.5, -1.5])}),
    E("op_rpow", lambda x, s: 2.0 ** (x - s), lambda x, s: 2.0 ** (x - s), lambda g, x: {"s": cap_shift(g.val(x), 5)}),
]

KINKS = [
    K("abs", kg.abs, torch.abs), K("op_abs", lambda x: abs(x), lambda x: abs(x)), K("relu", kg.relu, torch.relu),
    K("leaky_relu", lambda x, slope: kg.leaky_relu(x, slope), lambda x, slope: F.leaky_relu(x, slope),
      choose(slope=[0.01, 0.2])),
    K("relu6", kg.relu6, F.relu6, kink=lambda xs, p: d_points(xs[0], 0.0, 6.0)),
    K("hardtanh", lambda x, lo, hi: kg.hardtanh(x, lo, hi), lambda x, lo, hi: F.hardtanh(x, lo, hi),
      lambda g, x: dict(zip(("lo", "hi"), g.pick([(-1.0, 1.0), (-0.5, 2.0), (0.0, 0.5)]))),
      kink=lambda xs, p: d_points(xs[0], p["lo"], p["hi"])),
    K("clip", lambda x, lo, hi: kg.clip(x, lo, hi), lambda x, lo, hi: torch.clamp(x, lo, hi),
      lambda g, x: dict(zip(("lo", "hi"), g.pick([(-1.0, 1.0), (-0.5, 0.5), (0.0, None), (None, 0.5), (-2.0, 0.0)]))),
      kink=lambda xs, p: d_points(xs[0], p["lo"], p["hi"])),
    K("hardswish", kg.hardswish, F.hardswish, kink=lambda xs, p: d_points(xs[0], -3.0, 3.0)),
    # torch 2.13's float64 hardsigmoid backward multiplies by 1/6 rounded to float32 (relative error 3e-8 per
    # use, compounding along a chain: up to 1.7e-7 seen)
    K("hardsigmoid", kg.hardsigmoid, F.hardsigmoid, kink=lambda xs, p: d_points(xs[0], -3.0, 3.0), rtol=1e-6),
    K("softshrink", lambda x, lambd: kg.softshrink(x, lambd), lambda x, lambd: F.softshrink(x, lambd),
      choose(lambd=[0.5, 1.0]), kink=lambda xs, p: d_points(np.abs(xs[0]), p["lambd"])),
    K("hardshrink", lambda x, lambd: kg.hardshrink(x, lambd=lambd), lambda x, lambd: F.hardshrink(x, lambd),
      choose(lambd=[0.5, 1.0]), kink=lambda xs, p: d_points(np.abs(xs[0]), p["lambd"])),
    K("threshold", lambda x, th, value: kg.threshold(x, th, value), lambda x, th, value: F.threshold(x, th, value),
      choose(th=[0.5, 0.0, -1.0], value=[-1.0, 2.0]), kink=lambda xs, p: d_points(xs[0], p["th"])),
    K("elu", lambda x, alpha: kg.elu(x, alpha), lambda x, alpha: F.elu(x, alpha), choose(alpha=[1.0, 0.5])),
    K("selu", kg.selu, F.selu),
    # celu: alphas whose reciprocal is exact in float32 (torch 2.13's float64 celu backward rounds 1/alpha to float32)
    K("celu", lambda x, alpha: kg.celu(x, alpha), lambda x, alpha: F.celu(x, alpha), choose(alpha=[1.0, 2.0])),
    K("softsign", kg.softsign, F.softsign),
    K("sign", kg.sign, torch.sign),
    # torch has no derivative for heaviside (it raises): the value of a detached input, plus 0 * x so the
    # graph stays connected; its derivative is 0 almost everywhere, as kinkgrad's
    K("heaviside", lambda x, value: kg.heaviside(x, value=value),
      lambda x, value: torch.heaviside(x.detach(), torch.tensor(value, dtype=x.dtype)) + 0 * x,
      choose(value=[0.0, 0.5, 1.0])),
    K("floor", kg.floor, torch.floor, kink=lambda xs, p: d_integer(xs[0])),
    K("ceil", kg.ceil, torch.ceil, kink=lambda xs, p: d_integer(xs[0])),
    K("trunc", kg.trunc, torch.trunc, kink=lambda xs, p: d_integer(xs[0])),
    K("round", kg.round, torch.round, kink=lambda xs, p: d_integer(xs[0], 0.5)),
]


def _quotient_distance(xs, p):
    x, y = np.broadcast_arrays(xs[0], xs[1] + p["s"])
    q = x / y
    return min_of(np.abs(q - np.round(q)) * np.abs(y))


def _clip_bounds(g, x, lo, hi):
    """hi is lifted (a multiple of 0.5) so that hi - lo >= 0.5 everywhere."""
    need = min_of(g.val(hi) - np.broadcast_to(g.val(lo), np.broadcast_shapes(g.shape(lo), g.shape(hi))))
    return {"s": 0.0 if need >= 0.5 else math.ceil((0.5 - need) / 0.5) * 0.5}


def _clip_tensor_plan(g):
    x = g.var()
    lo, hi = g.operand(g.shape(x), into=True), g.operand(g.shape(x), into=True)
    return [x, lo, hi], _clip_bounds(g, x, lo, hi)


def _where_plan(g):
    c = g.var()
    a = g.operand(g.shape(c))
    b = g.operand(np.broadcast_shapes(g.shape(c), g.shape(a)))
    return [c, a, b], {"t": g.pick([0.0, 0.5, -0.5])}


BINARY = [
    FuzzOp("add", "binary", kg.add, torch.add, binary()),
    FuzzOp("subtract", "binary", kg.subtract, torch.subtract, binary()),
    FuzzOp("multiply", "binary", kg.multiply, torch.multiply, binary()),
    FuzzOp("op_add_mul", "binary", lambda x, y: x * y + y, lambda x, y: x * y + y, binary()),
    FuzzOp("divide", "binary", lambda x, y, s: kg.divide(x, y + s), lambda x, y, s: torch.divide(x, y + s),
           binary(lambda g, x, y: {"s": pos_shift(g.val(y))}, into=True)),
    FuzzOp("power", "binary", lambda x, y, s: kg.power(x + s, y), lambda x, y, s: torch.pow(x + s, y),
           binary(lambda g, x, y: {"s": pos_shift(g.val(x), 0.3)}, into=True)),
    FuzzOp("maximum", "binary", kg.maximum, torch.maximum, binary(),
           kink=lambda xs, p: min_of(np.abs(xs[0] - xs[1]))),
    FuzzOp("minimum", "binary", kg.minimum, torch.minimum, binary(),
           kink=lambda xs, p: min_of(np.abs(xs[0] - xs[1]))),
    FuzzOp("mod", "binary", lambda x, y, s: kg.mod(x, y + s), lambda x, y, s: torch.remainder(x, y + s),
           binary(lambda g, x, y: {"s": pos_shift(g.val(y), 0.5)}, into=True), kink=_quotient_distance),
    FuzzOp("fmod", "binary", lambda x, y, s: kg.fmod(x, y + s), lambda x, y, s: torch.fmod(x, y + s),
           binary(lambda g, x, y: {"s": pos_shift(g.val(y), 0.5)}, into=True), kink=_quotient_distance),
    FuzzOp("clip_tensor", "binary", lambda x, lo, hi, s: kg.clip(x, lo, hi + s),
           lambda x, lo, hi, s: torch.clamp(x, lo, hi + s), _clip_tensor_plan,
           kink=lambda xs, p: min(min_of(np.abs(xs[0] - xs[1])), min_of(np.abs(xs[0] - xs[2] - p["s"])))),
    FuzzOp("op_scalar", "binary", lambda x, c: (c - x) * c + c, lambda x, c: (c - x) * c + c,
           unary(choose(c=[2.0, -0.5, 3.0]))),
    FuzzOp("op_rtruediv", "binary", lambda x, s: 1.5 / (x + s), lambda x, s: 1.5 / (x + s), unary(shift_pos)),
    FuzzOp("where", "index", lambda c, a, b, t: kg.where(c > t, a, b), lambda c, a, b, t: torch.where(c > t, a, b),
           _where_plan, kink=lambda xs, p: d_points(xs[0], p["t"])),
]
