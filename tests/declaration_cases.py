"""One kink case (at least) per declared primitive: a function, inputs on a declared kink, the op's parameters.

Every op in ``kinkgrad.kinks.declare.DECLARED`` gets a ``Case``. Where the declaration's ``Kink.at``
can find the kink, the points are the kinks ``at`` marks on a 1/8 grid plus points beside them
(``kink_points``); ties and sparsemax find their kinks inside the op (their ``at`` gives no mask),
and norm's / std's kink is a whole zero vector, so those inputs are written out, and
``test_declarations`` checks that they sit on a kink.

Families (``family``): ``pointwise`` (elementwise kinks and jumps, maximum / minimum, norm at the
zero vector), ``chained`` (std: a norm's kink on the centred input), ``order`` (max/min reductions,
pooling, order statistics), ``pieces`` (sparsemax: two Jacobians meet) and ``singular``. What each
preset must give there is computed independently of the declarations' one-sided values in
``kink_expectations``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

import kinkgrad as kg
from kink_points import SELU_ALPHA, SELU_SCALE, around, declared_kink, kink_mask, kink_positions

DELTA = 1e-3          # tie-breaking perturbation: far below the gap (1) between distinct values


@dataclass(frozen=True)
class Case:
    name: str
    op: str                             # the declared primitive whose kink this is
    fn: Callable                        # kinkgrad function of x (the other inputs are constants)
    x: np.ndarray
    family: str                         # "pointwise", "order", "pieces" or "singular"
    inputs: tuple = ("x",)              # the op's inputs as its declaration reads them, "x" the varying one
    params: dict = field(default_factory=dict)     # the op's parameters, for Kink.at
    w: np.ndarray | None = None         # cotangent (None: ones)
    elementwise: bool = True            # output i depends on x[i] only
    torch: Callable | None = None       # the same function in PyTorch 2.13, where it has one
    oracle: tuple | None = None         # (kink_cases op, point or a "{:g}" format per element, wrt name)
    first_wins: int = 0                 # order: the sign of the index perturbation under which the first
    #                                     candidate wins (-1: earlier elements larger, as for max)
    sides: tuple | None = None          # pieces: the perturbations giving the left and the right piece
    smooth_here: bool = False           # singular: declared for a convention though the function is smooth there
    inner: Callable | None = None       # chained: the linear map (NumPy) from x to the op's own input
    outer: Callable | None = None       # chained: the case's function (NumPy) of the op's own input

    @property
    def wrt(self):
        return self.inputs.index("x")

    def op_inputs(self, x=None):
        return tuple(self.x if x is None and v == "x" else (x if v == "x" else v) for v in self.inputs)

    def kink_mask(self):
        """Declared kink elements (``Kink.at``); None where the op finds its kinks itself."""
        if self.family in ("order", "pieces"):
            return None
        others = self.inputs[:self.wrt] + self.inputs[self.wrt + 1:]
        x = self.x if self.inner is None else self.inner(self.x)
        return kink_mask(self.op, x, others, self.wrt, **self.params)

    def cotangent(self, out_shape):
        return np.ones(out_shape) if self.w is None else np.asarray(self.w, dtype=np.float64).reshape(out_shape)


def pointwise(name, op, fn, span, inputs=("x",), family="pointwise", offsets=(-0.37, 0.41), **kw):
    """A case on every kink ``Kink.at`` marks on the 1/8 grid of ``span``, with points beside each."""
    wrt = inputs.index("x")
    others = inputs[:wrt] + inputs[wrt + 1:]
    x = around(kink_positions(op, *span, others, wrt, **kw.get("params", {})), offsets)
    return Case(name, op, fn, x, family, inputs, **kw)


def order(name, op, fn, x, first_wins, **kw):
    return Case(name, op, fn, np.asarray(x, dtype=np.float64), "order", elementwise=False, first_wins=first_wins,
                **kw)


def _t(v):
    return torch.tensor(v, dtype=torch.float64)


W4 = np.array([1.0, 2.0, 3.0, 4.0])
RIGHT_OF_0 = (0.41,)      # singular ops defined on one side only: the kink and a point where it is defined

CASES = [
    # -- kinks: continuous, the slopes differ ------------------------------------------------------------
    pointwise("abs", "abs", kg.abs, (-1, 1), torch=torch.abs, oracle=("abs(x)", "x={:g}", "x")),
    pointwise("relu", "relu", kg.relu, (-1, 1), torch=torch.relu, oracle=("relu(x)", "x={:g}", "x")),
    pointwise("leaky_relu(0.01)", "leaky_relu", lambda x: kg.leaky_relu(x, 0.01), (-1, 1),
              params={"negative_slope": 0.01}, torch=lambda x: F.leaky_relu(x, 0.01),
              oracle=("leaky_relu(x, 0.01)", "x={:g}", "x")),
    pointwise("leaky_relu(0.2)", "leaky_relu", lambda x: kg.leaky_relu(x, 0.2), (-1, 1),
              params={"negative_slope": 0.2}, torch=lambda x: F.leaky_relu(x, 0.2)),
    pointwise("prelu(0.25)", "prelu", lambda x: kg.prelu(x, np.array([0.25])), (-1, 1), ("x", 0.25),
              torch=lambda x: F.prelu(x, torch.tensor([0.25], dtype=x.dtype))),
    pointwise("prelu(-0.5)", "prelu", lambda x: kg.prelu(x, np.array([-0.5])), (-1, 1), ("x", -0.5),
              torch=lambda x: F.prelu(x, torch.tensor([-0.5], dtype=x.dtype))),
    pointwise("elu(0.5)", "elu", lambda x: kg.elu(x, 0.5), (-1, 1), params={"alpha": 0.5},
              torch=lambda x: F.elu(x, 0.5)),
    pointwise("selu", "selu", kg.selu, (-1, 1), params={"alpha": SELU_ALPHA, "scale": SELU_SCALE}, torch=F.selu,
              oracle=("selu(x)", "x={:g}", "x")),
    pointwise("clip(-1,1)", "clip", lambda x: kg.clip(x, -1.0, 1.0), (-2, 2), ("x", -1.0, 1.0),
              torch=lambda x: torch.clamp(x, -1.0, 1.0), oracle=("clip(x, -1, 1)", "x={:g}", "x")),
    pointwise("clip(0,None)", "clip", lambda x: kg.clip(x, 0.0, None), (-1, 1), ("x", 0.0, None),
              torch=lambda x: torch.clamp(x, min=0.0), oracle=("clip(x, min=0)  (clamp_min)", "x={:g}", "x")),
    pointwise("clip(None,2)", "clip", lambda x: kg.clip(x, None, 2.0), (1, 3), ("x", None, 2.0),
              torch=lambda x: torch.clamp(x, max=2.0)),
    pointwise("hardtanh", "hardtanh", kg.hardtanh, (-2, 2), params={"lo": -1.0, "hi": 1.0}, torch=F.hardtanh,
              oracle=("hardtanh(x)  [-1,1]", "x={:g}", "x")),
    pointwise("hardtanh(-2,3)", "hardtanh", lambda x: kg.hardtanh(x, -2.0, 3.0), (-3, 4),
              params={"lo": -2.0, "hi": 3.0}, torch=lambda x: F.hardtanh(x, -2.0, 3.0)),
    pointwise("relu6", "relu6", kg.relu6, (-1, 7), params={"lo": 0.0, "hi": 6.0}, torch=F.relu6,
              oracle=("relu6(x)", "x={:g}", "x")),
    pointwise("hardswish", "hardswish", kg.hardswish, (-5, 5), torch=F.hardswish,
              oracle=("hardswish(x)", "x={:g}", "x")),
    pointwise("hardsigmoid", "hardsigmoid", kg.hardsigmoid, (-5, 5), torch=F.hardsigmoid,
              oracle=("hardsigmoid(x)", "x={:g}", "x")),
    pointwise("softshrink(0.5)", "softshrink", lambda x: kg.softshrink(x, 0.5), (-1, 1), params={"lambd": 0.5},
              torch=lambda x: F.softshrink(x, 0.5)),
    # ties between two inputs, elementwise: x against a constant on either side
    pointwise("maximum(x,1)", "maximum", lambda x: kg.maximum(x, 1.0), (0, 2), ("x", 1.0),
              torch=lambda x: torch.maximum(x, _t(1.0)), oracle=("maximum(a, b)", "a=b={:g}", "a")),
    pointwise("maximum(1,x)", "maximum", lambda x: kg.maximum(1.0, x), (0, 2), (1.0, "x"),
              torch=lambda x: torch.maximum(_t(1.0), x), oracle=("maximum(a, b)", "a=b={:g}", "b")),
    pointwise("minimum(x,1)", "minimum", lambda x: kg.minimum(x, 1.0), (0, 2), ("x", 1.0),
              torch=lambda x: torch.minimum(x, _t(1.0)), oracle=("minimum(a, b)", "a=b={:g}", "a")),
    pointwise("minimum(1,x)", "minimum", lambda x: kg.minimum(1.0, x), (0, 2), (1.0, "x"),
              torch=lambda x: torch.minimum(_t(1.0), x), oracle=("minimum(a, b)", "a=b={:g}", "b")),
    # the 2-norm at the zero vector (row 0) next to a regular row: Kink.at marks the zero elements
    Case("norm(rows)", "norm", lambda x: kg.linalg.norm(x, axis=1), np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 2.0]]),
         "pointwise", params={"axis": (1,), "keepdims": False}, elementwise=False,
         torch=lambda x: torch.linalg.vector_norm(x, dim=1)),
    Case("norm(zeros)", "norm", lambda x: kg.linalg.norm(x), np.zeros(3), "pointwise", elementwise=False,
         torch=torch.linalg.vector_norm, oracle=("L2 norm(x)", "x=[0,0,0]", "x")),
    # std = ||x - mean(x)|| / sqrt(n): its kink is a norm's, where a row's centred values are all 0 (row 0);
    # the sides are the norm's on that centred input, carried back to x through the (linear) centring
    Case("std(rows)", "std", lambda x: kg.std(x, axis=1), np.array([[1.5, 1.5, 1.5], [1.0, -2.0, 2.0]]), "chained",
         params={"axis": (1,), "keepdims": False}, elementwise=False, torch=lambda x: torch.std(x, dim=1, correction=0),
         inner=lambda x: x - x.mean(axis=1, keepdims=True), outer=lambda c: np.sqrt(np.sum(c * c, axis=1) / 3)),
    # -- jumps: the value steps; the pieces' slopes are the one-sided derivatives ---------------------
    pointwise("sign", "sign", kg.sign, (-1, 1), torch=torch.sign, oracle=("sign(x)", "x={:g}", "x")),
    # torch has heaviside but no derivative for it (it raises), so the oracle / table decides
    pointwise("heaviside(0.5)", "heaviside", lambda x: kg.heaviside(x, value=0.5), (-1, 1), params={"value": 0.5},
              oracle=("heaviside(x, 0.5)", "x={:g}", "x")),
    pointwise("floor", "floor", kg.floor, (-2, 2), torch=torch.floor, oracle=("floor(x)", "x={:g}", "x")),
    pointwise("ceil", "ceil", kg.ceil, (-2, 2), torch=torch.ceil, oracle=("ceil(x)", "x={:g}", "x")),
    pointwise("round", "round", kg.round, (-2, 2), torch=torch.round, oracle=("round(x)", "x={:g}", "x")),
    pointwise("trunc", "trunc", kg.trunc, (-2, 2), torch=torch.trunc, oracle=("trunc(x)", "x={:g}", "x")),
    pointwise("hardshrink(0.5)", "hardshrink", lambda x: kg.hardshrink(x, 0.5), (-1, 1), params={"lambd": 0.5},
              torch=lambda x: F.hardshrink(x, 0.5)),
    pointwise("threshold(0.5,-1)", "threshold", lambda x: kg.threshold(x, 0.5, -1.0), (-1, 1),
              params={"threshold": 0.5, "value": -1.0}, torch=lambda x: F.threshold(x, 0.5, -1.0)),
    pointwise("mod(x,1.5)", "mod", lambda x: kg.mod(x, 1.5), (-3, 3), ("x", 1.5),
              torch=lambda x: torch.remainder(x, 1.5)),
    pointwise("mod(2,y)", "mod", lambda y: kg.mod(2.0, y), (0.75, 2.5), (2.0, "x"),
              torch=lambda y: torch.remainder(_t(2.0), y)),
    pointwise("fmod(x,1.5)", "fmod", lambda x: kg.fmod(x, 1.5), (-3, 3), ("x", 1.5),
              torch=lambda x: torch.fmod(x, 1.5)),
    # -- ties among candidates: reductions, pooling, order statistics ----------------------------------
    order("max", "max", kg.max, [1, 3, 3, 2], -1, torch=torch.max,
          oracle=("max(x)  full reduction", "x=[1,3,3,2]", "x")),
    order("max(axis=1)", "max", lambda x: kg.max(x, axis=1), [[1, 3, 3], [2, 2, 0]], -1,
          torch=lambda x: torch.amax(x, 1)),
    order("min", "min", kg.min, [2, 1, 1, 3], 1, torch=torch.min,
          oracle=("min(x)  full reduction", "x=[2,1,1,3]", "x")),
    order("max.indices", "max.indices", lambda x: kg.max(x, axis=0, return_indices=True)[0], [1, 3, 3, 2], -1,
          torch=lambda x: torch.max(x, 0).values, oracle=("max(x, dim=0).values", "x=[1,3,3,2]", "x")),
    order("min.indices", "min.indices", lambda x: kg.min(x, axis=0, return_indices=True)[0], [2, 1, 1, 3], 1,
          torch=lambda x: torch.min(x, 0).values, oracle=("min(x, dim=0).values", "x=[2,1,1,3]", "x")),
    order("max_pool2d", "max_pool2d", lambda x: kg.max_pool2d(x.reshape(1, 1, 2, 2), 2), [[1, 3], [3, 2]], -1,
          torch=lambda x: F.max_pool2d(x.reshape(1, 1, 2, 2), 2), oracle=("max_pool2d 2x2", "x=[[1,3],[3,2]]", "x")),
    order("max_pool2d(ones)", "max_pool2d", lambda x: kg.max_pool2d(x.reshape(1, 1, 2, 2), 2), [[1, 1], [1, 1]], -1,
          torch=lambda x: F.max_pool2d(x.reshape(1, 1, 2, 2), 2), oracle=("max_pool2d 2x2", "x=[[1,1],[1,1]]", "x")),
    order("sort", "sort", kg.sort, [1, 3, 3, 2], 1, w=W4, torch=lambda x: torch.sort(x).values,
          oracle=("sort(x)", "x=[1,3,3,2]", "x")),
    order("sort(descending)", "sort", lambda x: kg.sort(x, descending=True), [1, 3, 3, 2], -1, w=W4,
          torch=lambda x: torch.sort(x, descending=True).values),
    order("topk(2)", "topk", lambda x: kg.topk(x, 2)[0], [1, 3, 3, 3], -1, w=np.array([1.0, 2.0]),
          torch=lambda x: torch.topk(x, 2).values, oracle=("topk(x, 2).values", "x=[1,3,3,3]", "x")),
    order("topk(1)", "topk", lambda x: kg.topk(x, 1)[0], [1, 3, 3, 2], -1, torch=lambda x: torch.topk(x, 1).values,
          oracle=("topk(x, 1).values", "x=[1,3,3,2]", "x")),
    order("median", "median", kg.median, [2, 1, 2], 1, torch=torch.median,
          oracle=("median(x)", "x=[2,1,2] (odd n, tie)", "x")),
    order("quantile(1.0)", "quantile", lambda x: kg.quantile(x, 1.0), [1, 3, 3, 2], 1,
          torch=lambda x: torch.quantile(x, 1.0), oracle=("quantile(x, 1.0)", "x=[1,3,3,2]", "x")),
    order("quantile(0.25)", "quantile", lambda x: kg.quantile(x, 0.25), [2, 1, 1, 3, 4], 1,
          torch=lambda x: torch.quantile(x, 0.25)),
    order("cummax", "cummax", kg.cummax, [1, 3, 3, 2], -1, w=W4, torch=lambda x: torch.cummax(x, 0).values,
          oracle=("cummax(x)", "x=[1,3,3,2]", "x")),
    order("cummin", "cummin", kg.cummin, [2, 1, 1, 3], 1, w=W4, torch=lambda x: torch.cummin(x, 0).values),
    # -- sparsemax: z[2] sits exactly on the threshold tau = 0.75 (support {0, 1}, or {0, 1, 2} once it rises)
    Case("sparsemax", "sparsemax", kg.smooth.sparsemax, np.array([1.5, 1.0, 0.75]), "pieces",
         w=np.array([1.0, 2.0, 4.0]), elementwise=False,
         sides=(np.array([0.0, 0.0, -DELTA]), np.array([0.0, 0.0, DELTA]))),
    # -- singular points --------------------------------------------------------------------------------
    pointwise("sqrt", "sqrt", kg.sqrt, (-1, 1), family="singular", offsets=RIGHT_OF_0, torch=torch.sqrt,
              oracle=("sqrt(x)", "x={:g}", "x")),
    pointwise("log", "log", kg.log, (-1, 1), family="singular", offsets=RIGHT_OF_0, torch=torch.log,
              oracle=("log(x)", "x={:g}", "x")),
    pointwise("log1p", "log1p", kg.log1p, (-2, 0), family="singular", offsets=RIGHT_OF_0, torch=torch.log1p),
    pointwise("reciprocal", "reciprocal", kg.reciprocal, (-1, 1), family="singular", torch=torch.reciprocal),
    pointwise("divide(1,y)", "divide", lambda y: kg.divide(1.0, y), (-1, 1), (1.0, "x"), family="singular",
              torch=lambda y: torch.div(_t(1.0), y)),
    pointwise("power(x,0.5)", "power", lambda x: kg.power(x, 0.5), (-1, 1), ("x", 0.5), family="singular",
              offsets=RIGHT_OF_0, torch=lambda x: torch.pow(x, 0.5),
              oracle=("x ** 0.5  (python float exponent)", "x={:g}", "x")),
    pointwise("power(x,-1)", "power", lambda x: kg.power(x, -1), (-1, 1), ("x", -1), family="singular",
              torch=lambda x: torch.pow(x, -1)),
    # x ** 0 is smooth at 0 (constant 1); the declaration marks it so that the jax / tensorflow presets can
    # give their frameworks' NaN there (0 * 0**-1 in their pow rules)
    pointwise("power(x,0)", "power", lambda x: kg.power(x, 0), (-1, 1), ("x", 0), family="singular",
              torch=lambda x: torch.pow(x, 0), oracle=("x ** 0  (python int exponent)", "x={:g}", "x"),
              smooth_here=True),
]
BY_NAME = {c.name: c for c in CASES}
assert len(BY_NAME) == len(CASES), "case names must be unique"


def declared_kind(case):
    return declared_kink(case.op, case.wrt).kind
