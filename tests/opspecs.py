"""The op table: one spec per differentiable op, driving every generic test in ``test_ops.py``.

A spec says how to call the op in kinkgrad and in PyTorch, on which input shapes, on which domain
(positive for log/sqrt, at least ``MARGIN`` away from every kink for nonsmooth ops, so finite
differences never straddle a kink and ties never happen), which arguments are differentiable,
whether the op is smooth, and in which dtypes it is checked.

``kg.linalg.norm`` is looked up at call time (inside lambdas), so a broken namespace fails the
norm specs only, not the import of the whole table.

Non-tensor arguments (axes, indices, exponents, bounds) are baked into the two callables, so the
test harness only ever passes arrays. Callables return a tensor or a list/tuple of tensors.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

import kinkgrad as kg
from kink_points import SELU_ALPHA, SELU_SCALE, kink_distance

MARGIN = 0.1          # minimum distance of any sample from a kink / jump / tie
DTYPES = ("float64", "float32")

Shape = tuple
Sampler = Callable[[np.random.Generator, tuple], list]   # (rng, arg shapes) -> list of arrays


@dataclass(frozen=True)
class OpSpec:
    name: str                     # unique; the pytest id
    kg: Callable                  # kinkgrad callable taking one Tensor per array argument
    torch: Callable               # the same function in PyTorch 2.13
    shapes: tuple                 # cases: each a tuple with one shape per array argument
    domain: Sampler               # draws float64 (or bool) inputs for one case
    diff: tuple = (0,)            # indices of the differentiable arguments
    smooth: bool = True           # C^2 everywhere (False: kinks/jumps, kept away from by ``domain``)
    dtypes: tuple = DTYPES
    rtol32: float = 1e-5          # float32 comparison tolerance vs torch (see test_ops.py)
    rtol64: float = 1e-10         # float64 comparison tolerance vs torch (see test_ops.py)


# -- domain samplers ----------------------------------------------------------------------------
def normal(scale=1.0):
    return lambda rng, shape: scale * rng.standard_normal(shape)


def uniform(lo, hi):
    return lambda rng, shape: rng.uniform(lo, hi, shape)


def magnitude(lo, hi):
    """|x| in [lo, hi] with a random sign (denominators, products)."""
    return lambda rng, shape: rng.uniform(lo, hi, shape) * rng.choice([-1.0, 1.0], shape)


def away_from(*points, lo=-3.0, hi=3.0, margin=MARGIN):
    """Uniform on [lo, hi], redrawn until every element is >= margin from every kink point."""
    def draw(rng, shape):
        x = rng.uniform(lo, hi, shape)
        for _ in range(1000):
            bad = np.zeros(np.shape(x), bool)
            for p in points:
                bad |= np.abs(x - p) < margin
            if not bad.any():
                return x
            x = np.where(bad, rng.uniform(lo, hi, shape), x)
        raise RuntimeError("away_from: could not sample")
    return draw


def away_from_kinks(op, low=-3.0, high=3.0, margin=MARGIN, others=(), **params):
    """Uniform on [low, high], every element redrawn until ``op``'s declared distance to its nearest
    kink (``Kink.distance``, min over its kinks) is >= margin. ``params``: the op's parameters as its
    declaration takes them; ``others``: its other inputs (clip's bounds). The range is ``low`` /
    ``high`` because ``lo`` / ``hi`` are hardtanh's and relu6's own parameters."""
    def draw(rng, shape):
        x = rng.uniform(low, high, shape)
        for _ in range(1000):
            bad = kink_distance(op, x, others, **params) < margin
            if not bad.any():
                return x
            x = np.where(bad, rng.uniform(low, high, shape), x)
        raise RuntimeError(f"away_from_kinks({op!r}): could not sample")
    return draw


def grid(offset):
    """Values 0.25 k + offset + noise(0.01): samples with offsets 0 and 0.125 are >= 0.105 apart,
    whatever shapes they are broadcast to (maximum/minimum ties, tensor clip bounds)."""
    def draw(rng, shape):
        return 0.25 * rng.integers(-8, 9, shape) + offset + rng.uniform(-0.01, 0.01, shape)
    return draw


def bounds(lo_side):
    """Tensor clip bounds: lower ones <= -0.135, upper ones >= 0.115, both on the 0.125-offset grid."""
    def draw(rng, shape):
        k = rng.integers(0, 5, shape)
        noise = rng.uniform(-0.01, 0.01, shape)
        return (-0.25 * k - 0.125 + noise) if lo_side else (0.25 * k + 0.125 + noise)
    return draw


def distinct(spacing=0.25):
    """All elements distinct, pairwise >= spacing - 0.1 apart (max/min/sort/topk never tie)."""
    def draw(rng, shape):
        n = int(np.prod(shape))
        vals = spacing * rng.permutation(n) + rng.uniform(-0.05, 0.05, n) - spacing * n / 2
        return vals.reshape(shape)
    return draw


def distinct_abs(rng, shape):
    """Distinct magnitudes >= 0.2 with random signs (inf-norms: max |x| never ties, never 0)."""
    n = int(np.prod(shape))
    mags = 0.2 + 0.25 * rng.permutation(n) + rng.uniform(0, 0.05, n)
    return (mags * rng.choice([-1.0, 1.0], n)).reshape(shape)


def with_zeros(count):
    """Factors of magnitude 0.5..1.5 with ``count`` exact zeros (prod's zero path)."""
    def draw(rng, shape):
        x = magnitude(0.5, 1.5)(rng, shape)
        x.reshape(-1)[rng.choice(x.size, count, replace=False)] = 0.0
        return x
    return draw


def _reduce_to(a, shape):
    """``any`` of a broadcast boolean array over the axes a smaller ``shape`` was broadcast along."""
    a = np.asarray(a)
    a = a.any(axis=tuple(range(a.ndim - len(shape))))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and a.shape[i] != 1)
    return a.any(axis=axes, keepdims=True) if axes else a


def quotient_off_integers(rng, shapes):
    """(x, y) with |y| in [0.5, 2] and every broadcast quotient x / y at least MARGIN from an integer
    (mod / fmod jump where x is a multiple of y; the quotient also moves when y is perturbed). By hand: the
    mod / fmod declarations have no ``Kink.distance``, and this samples two inputs jointly."""
    xs, ys = shapes
    y = magnitude(0.5, 2.0)(rng, ys)
    x = rng.uniform(-4.0, 4.0, xs)
    for _ in range(1000):
        q = x / y
        bad = _reduce_to(np.abs(q - np.round(q)) < MARGIN, np.shape(x))
        if not bad.any():
            return [x, y]
        x = np.where(bad, rng.uniform(-4.0, 4.0, xs), x)
    raise RuntimeError("quotient_off_integers: could not sample")


def residual_pair(*kinks):
    """(y_true, y_pred) of one shape whose residual y_pred - y_true is >= MARGIN from every kink
    (losses: |r| = 0 for L1, |r| = delta or beta where Huber / smooth L1 switch branches). The losses are
    composites whose kinks sit on the residual, not on a primitive's own input, so the points are given."""
    def draw(rng, shapes):
        yt = rng.standard_normal(shapes[0])
        r = away_from(*kinks, lo=-2.5, hi=2.5)(rng, shapes[1])
        return [yt, yt + r]
    return draw


def mask(rng, shape):
    return rng.random(shape) < 0.5


def each(*samplers):
    """One sampler per argument (the last one repeats)."""
    def draw(rng, shapes):
        return [samplers[min(i, len(samplers) - 1)](rng, s) for i, s in enumerate(shapes)]
    return draw


NORMAL = each(normal())
SCE_LABELS = np.array([0, 3, 1, 1, 2, 3])                          # fixed labels for softmax_cross_entropy
CONV_W = np.random.default_rng(7).standard_normal((3, 2, 3, 2))    # a fixed kernel for vjp_of_conv2d


def unary(*shapes):
    return tuple((s,) for s in shapes)


ELEMENTWISE = unary((), (5,), (3, 4))
BINARY = (((3, 4), (3, 4)), ((3, 1), (4,)), ((), (2, 3)), ((2, 1, 3), (4, 1)))
R3 = unary((2, 3, 4))
INF = math.inf

# integer / boolean index constants (repeated indices on purpose)
IDX_REP = np.array([0, 2, 0, 0, 3])
IDX_ROWS, IDX_COLS = np.array([0, 1, 1, 3]), np.array([2, 2, 0, 2])
MASK_45 = np.array([[True, False, True, True, False], [False, False, False, True, True],
                    [True, True, False, False, False], [False, True, False, True, False]])
MASK_ROWS = np.array([True, False, True, True])
TAKE_ALONG = np.array([[0, 3, 3, 1, 0], [2, 2, 2, 1, 0], [3, 0, 1, 1, 3]])
TAKE_ALONG0 = np.array([[2, 0, 1, 2], [2, 2, 0, 0]])
SCATTER_IDX = np.array([0, 2, 0, 1])


def t(a):
    return torch.as_tensor(a)


# -- the table ----------------------------------------------------------------------------------
def _unfold_rows(x, k, s, d, p):
    """torch's unfold (N, C*kh*kw, L), channel-major, as kinkgrad's im2col rows (N*L, kh*kw*C)."""
    n, c = x.shape[:2]
    cols = F.unfold(x, k, dilation=d, padding=p, stride=s)
    return cols.reshape(n, c, k[0], k[1], -1).permute(0, 4, 2, 3, 1).reshape(-1, k[0] * k[1] * c)


SPECS = [
    # arithmetic
    OpSpec("add", kg.add, torch.add, BINARY, NORMAL, diff=(0, 1)),
    OpSpec("subtract", kg.subtract, torch.subtract, BINARY, NORMAL, diff=(0, 1)),
    OpSpec("multiply", kg.multiply, torch.multiply, BINARY, NORMAL, diff=(0, 1)),
    OpSpec("divide", kg.divide, torch.divide, BINARY, each(normal(), magnitude(0.5, 2.0)), diff=(0, 1)),
    OpSpec("negative", kg.negative, torch.negative, ELEMENTWISE, NORMAL),
    OpSpec("power_scalar_2.5", lambda x: kg.power(x, 2.5), lambda x: torch.pow(x, 2.5), ELEMENTWISE,
           each(uniform(0.3, 2.0))),
    OpSpec("power_scalar_int3", lambda x: kg.power(x, 3), lambda x: torch.pow(x, 3), ELEMENTWISE, NORMAL),
    OpSpec("power_scalar_-1.5", lambda x: kg.power(x, -1.5), lambda x: torch.pow(x, -1.5), ELEMENTWISE,
           each(uniform(0.5, 2.0))),
    OpSpec("power_scalar_0", lambda x: kg.power(x, 0), lambda x: torch.pow(x, 0), ELEMENTWISE, NORMAL),
    OpSpec("power_tensor", kg.power, torch.pow, BINARY, each(uniform(0.5, 2.0), normal(0.7)), diff=(0, 1)),
    OpSpec("reciprocal", kg.reciprocal, torch.reciprocal, ELEMENTWISE, each(magnitude(0.5, 2.0))),
    OpSpec("square", kg.square, torch.square, ELEMENTWISE, NORMAL),
    # operators and methods (the Tensor dunder bindings)
    OpSpec("op_rsub", lambda x: 2.0 - x, lambda x: 2.0 - x, ELEMENTWISE, NORMAL),
    OpSpec("op_rtruediv", lambda x: 1.5 / x, lambda x: 1.5 / x, ELEMENTWISE, each(magnitude(0.5, 2.0))),
    OpSpec("op_rpow", lambda x: 2.0 ** x, lambda x: 2.0 ** x, ELEMENTWISE, NORMAL),
    OpSpec("op_pow", lambda x: x ** 2, lambda x: x ** 2, ELEMENTWISE, NORMAL),
    # abs(-x): the kink is abs's at -x = 0, not a point of the op called on x, so its point is given here
    OpSpec("op_neg_abs", lambda x: abs(-x), lambda x: abs(-x), ELEMENTWISE, each(away_from(0.0)), smooth=False),
    OpSpec("op_matmul", lambda a, b: a @ b, lambda a, b: a @ b, (((2, 3), (3, 4)),), NORMAL, diff=(0, 1)),
    OpSpec("op_T", lambda x: x.T, lambda x: x.permute(*reversed(range(x.ndim))), unary((3, 4), (2, 3, 4)),
           NORMAL),
    # exponentials, logarithms, trigonometry
    OpSpec("exp", kg.exp, torch.exp, ELEMENTWISE, NORMAL),
    OpSpec("clone", lambda x: x.clone(), torch.clone, ELEMENTWISE, NORMAL),
    OpSpec("expm1", kg.expm1, torch.expm1, ELEMENTWISE, NORMAL),
    OpSpec("log", kg.log, torch.log, ELEMENTWISE, each(uniform(0.2, 3.0))),
    OpSpec("log1p", kg.log1p, torch.log1p, ELEMENTWISE, each(uniform(-0.5, 3.0))),
    OpSpec("sqrt", kg.sqrt, torch.sqrt, ELEMENTWISE, each(uniform(0.2, 3.0))),
    OpSpec("sin", kg.sin, torch.sin, ELEMENTWISE, each(normal(2.0))),
    OpSpec("cos", kg.cos, torch.cos, ELEMENTWISE, each(normal(2.0))),
    OpSpec("tan", kg.tan, torch.tan, ELEMENTWISE, each(uniform(-1.2, 1.2))),
    OpSpec("tanh", kg.tanh, torch.tanh, ELEMENTWISE, each(normal(2.0))),
    OpSpec("sigmoid", kg.sigmoid, torch.sigmoid, ELEMENTWISE, each(normal(3.0))),
    OpSpec("softplus", kg.softplus, F.softplus, ELEMENTWISE, each(normal(3.0))),
    OpSpec("softplus_beta2", lambda x: kg.softplus(x, beta=2.0), lambda x: F.softplus(x, beta=2.0), ELEMENTWISE,
           each(normal(2.0))),
    OpSpec("erf", kg.erf, torch.erf, ELEMENTWISE, each(normal(1.5))),
    OpSpec("cast_to_float64", lambda x: kg.cast(x, dtype=np.float64) * 1.5, lambda x: x.to(torch.float64) * 1.5,
           ELEMENTWISE, NORMAL),
    # nonsmooth elementwise (sampled >= MARGIN from kinks)
    OpSpec("abs", kg.abs, torch.abs, ELEMENTWISE, each(away_from_kinks("abs")), smooth=False),
    OpSpec("relu", kg.relu, torch.relu, ELEMENTWISE, each(away_from_kinks("relu")), smooth=False),
    OpSpec("leaky_relu", kg.leaky_relu, F.leaky_relu, ELEMENTWISE, each(away_from_kinks("leaky_relu")), smooth=False),
    OpSpec("prelu", kg.prelu, lambda x, w: F.prelu(x, w.reshape(-1)), (((2, 3, 4), (3, 1)), ((5,), (1,))),
           each(away_from_kinks("prelu", others=(np.ones(1),)), normal()), diff=(0, 1), smooth=False),
    OpSpec("leaky_relu_0.2", lambda x: kg.leaky_relu(x, 0.2), lambda x: F.leaky_relu(x, 0.2), ELEMENTWISE,
           each(away_from_kinks("leaky_relu", negative_slope=0.2)), smooth=False),
    OpSpec("maximum", kg.maximum, torch.maximum, BINARY, each(grid(0.0), grid(0.125)), diff=(0, 1), smooth=False),
    OpSpec("minimum", kg.minimum, torch.minimum, BINARY, each(grid(0.0), grid(0.125)), diff=(0, 1), smooth=False),
    OpSpec("clip_scalar", lambda x: kg.clip(x, -0.5, 0.7), lambda x: torch.clamp(x, -0.5, 0.7), ELEMENTWISE,
           each(away_from_kinks("clip", -2, 2, others=(-0.5, 0.7))), smooth=False),
    OpSpec("clip_lower_only", lambda x: kg.clip(x, -0.5, None), lambda x: torch.clamp(x, min=-0.5), ELEMENTWISE,
           each(away_from_kinks("clip", -2, 2, others=(-0.5, None))), smooth=False),
    OpSpec("clip_upper_only", lambda x: kg.clip(x, None, 0.7), lambda x: torch.clamp(x, max=0.7), ELEMENTWISE,
           each(away_from_kinks("clip", -2, 2, others=(None, 0.7))), smooth=False),
    OpSpec("clip_tensor", kg.clip, lambda x, lo, hi: torch.minimum(torch.maximum(x, lo), hi),  # torch.clamp's
           # backward fails when x is smaller than the broadcast shape (torch 2.13); same function off the kinks
           (((3, 4), (3, 4), (3, 4)), ((3, 4), (4,), (3, 1)), ((2, 1), (3,), ())),
           each(grid(0.0), bounds(True), bounds(False)), diff=(0, 1, 2), smooth=False),
    OpSpec("sign", kg.sign, torch.sign, ELEMENTWISE, each(away_from_kinks("sign")), smooth=False),
    OpSpec("floor", kg.floor, torch.floor, ELEMENTWISE, each(away_from_kinks("floor")), smooth=False),
    OpSpec("ceil", kg.ceil, torch.ceil, ELEMENTWISE, each(away_from_kinks("ceil")), smooth=False),
    OpSpec("round", kg.round, torch.round, ELEMENTWISE, each(away_from_kinks("round")), smooth=False),
    OpSpec("trunc", kg.trunc, torch.trunc, ELEMENTWISE, each(away_from_kinks("trunc")), smooth=False),
    # heaviside: torch has no derivative for it (raises "not implemented"), so its values are compared
    # on a detached input and its gradient against zeros (the + 0 * x keeps torch's graph connected)
    OpSpec("heaviside", lambda x: kg.heaviside(x, 0.3),
           lambda x: torch.heaviside(x.detach(), torch.tensor(0.3, dtype=x.dtype)) + 0 * x, ELEMENTWISE,
           each(away_from_kinks("heaviside", value=0.3)), smooth=False),
    OpSpec("mod", kg.mod, torch.remainder, BINARY, quotient_off_integers, diff=(0, 1), smooth=False),
    OpSpec("remainder", kg.remainder, torch.remainder, (((3, 4), (3, 4)), ((2, 3), ())), quotient_off_integers,
           diff=(0, 1), smooth=False),
    OpSpec("fmod", kg.fmod, torch.fmod, BINARY, quotient_off_integers, diff=(0, 1), smooth=False),
    # activations
    OpSpec("elu", kg.elu, F.elu, ELEMENTWISE, each(away_from_kinks("elu")), smooth=False),
    OpSpec("elu_alpha0.5", lambda x: kg.elu(x, 0.5), lambda x: F.elu(x, 0.5), ELEMENTWISE,
           each(away_from_kinks("elu", alpha=0.5)), smooth=False),
    OpSpec("selu", kg.selu, F.selu, ELEMENTWISE, each(away_from_kinks("selu", alpha=SELU_ALPHA, scale=SELU_SCALE)),
           smooth=False),
    # celu is a composite, maximum(x, 0) + alpha expm1(minimum(x, 0) / alpha), C^1 at 0: the ties' point x = 0
    # is given here (as for the celu variants below)
    OpSpec("celu", kg.celu, F.celu, ELEMENTWISE, each(away_from(0.0)), smooth=False),
    # torch 2.13's float64 celu backward is accurate to only ~1e-7 for alpha != 1 (1/alpha appears to be
    # rounded to float32: relative error ~4e-8 * |x/alpha|); kinkgrad's value is checked exactly by FD
    OpSpec("celu_alpha0.7", lambda x: kg.celu(x, 0.7), lambda x: F.celu(x, 0.7), ELEMENTWISE,
           each(away_from(0.0)), smooth=False, rtol64=1e-6),
    OpSpec("gelu", kg.gelu, F.gelu, ELEMENTWISE, each(normal(2.0))),
    OpSpec("gelu_tanh", lambda x: kg.gelu(x, approximate="tanh"), lambda x: F.gelu(x, approximate="tanh"),
           ELEMENTWISE, each(normal(2.0))),
    OpSpec("silu", kg.silu, F.silu, ELEMENTWISE, each(normal(2.0))),
    OpSpec("swish", kg.swish, F.silu, unary((4,)), each(normal(2.0))),
    OpSpec("mish", kg.mish, F.mish, ELEMENTWISE, each(normal(2.0))),
    # softsign = x / (1 + |x|), a composite: its kink is the abs inside it, given here
    OpSpec("softsign", kg.softsign, F.softsign, ELEMENTWISE, each(away_from(0.0)), smooth=False),
    OpSpec("relu6", kg.relu6, F.relu6, ELEMENTWISE, each(away_from_kinks("relu6", -2, 8, lo=0.0, hi=6.0)),
           smooth=False),
    OpSpec("hardtanh", kg.hardtanh, F.hardtanh, ELEMENTWISE, each(away_from_kinks("hardtanh", lo=-1.0, hi=1.0)),
           smooth=False),
    OpSpec("hardtanh_-0.5_2", lambda x: kg.hardtanh(x, -0.5, 2.0), lambda x: F.hardtanh(x, -0.5, 2.0),
           ELEMENTWISE, each(away_from_kinks("hardtanh", lo=-0.5, hi=2.0)), smooth=False),
    OpSpec("hardtanh_kw_0_0.5", lambda x: kg.hardtanh(x, min_val=0.0, max_val=0.5),
           lambda x: F.hardtanh(x, min_val=0.0, max_val=0.5), ELEMENTWISE,
           each(away_from_kinks("hardtanh", -1, 1.5, lo=0.0, hi=0.5)), smooth=False),
    OpSpec("elu_alpha2", lambda x: kg.elu(x, alpha=2.0), lambda x: F.elu(x, alpha=2.0), ELEMENTWISE,
           each(away_from_kinks("elu", alpha=2.0)), smooth=False),
    # same torch-side float64 celu backward inaccuracy as celu_alpha0.7 above
    OpSpec("celu_alpha1.5", lambda x: kg.celu(x, alpha=1.5), lambda x: F.celu(x, alpha=1.5), ELEMENTWISE,
           each(away_from(0.0, lo=-4, hi=3)), smooth=False, rtol64=1e-6),
    OpSpec("hardswish", kg.hardswish, F.hardswish, ELEMENTWISE, each(away_from_kinks("hardswish", -5, 5)),
           smooth=False),
    # torch 2.13's float64 hardsigmoid backward multiplies by 1/6 rounded to float32 (0.1666666716...,
    # relative error 3e-8); its values are exact, and kinkgrad's slope 1/6 is checked exactly by FD
    OpSpec("hardsigmoid", kg.hardsigmoid, F.hardsigmoid, ELEMENTWISE, each(away_from_kinks("hardsigmoid", -5, 5)),
           smooth=False, rtol64=1e-7),
    OpSpec("softshrink", kg.softshrink, F.softshrink, ELEMENTWISE, each(away_from_kinks("softshrink", -2, 2)),
           smooth=False),
    OpSpec("softshrink_0.8", lambda x: kg.softshrink(x, 0.8), lambda x: F.softshrink(x, 0.8), ELEMENTWISE,
           each(away_from_kinks("softshrink", -2, 2, lambd=0.8)), smooth=False),
    OpSpec("hardshrink", kg.hardshrink, F.hardshrink, ELEMENTWISE, each(away_from_kinks("hardshrink", -2, 2)),
           smooth=False),
    OpSpec("hardshrink_1.2", lambda x: kg.hardshrink(x, lambd=1.2), lambda x: F.hardshrink(x, lambd=1.2),
           ELEMENTWISE, each(away_from_kinks("hardshrink", lambd=1.2)), smooth=False),
    OpSpec("threshold_0.5_-1", lambda x: kg.threshold(x, 0.5, -1.0), lambda x: F.threshold(x, 0.5, -1.0),
           ELEMENTWISE, each(away_from_kinks("threshold", -2, 2, threshold=0.5, value=-1.0)), smooth=False),
    OpSpec("threshold_kw_-0.3_2", lambda x: kg.threshold(x, threshold=-0.3, value=2.0),
           lambda x: F.threshold(x, -0.3, 2.0), ELEMENTWISE,
           each(away_from_kinks("threshold", -2, 2, threshold=-0.3, value=2.0)), smooth=False),
    # softplus with torch's linear cutoff: x where beta x > threshold (value jumps by ~e^-threshold / beta); softplus
    # declares no kink for that jump, so its point threshold / beta is given here
    OpSpec("softplus_beta2_threshold5", lambda x: kg.softplus(x, 2.0, 5.0), lambda x: F.softplus(x, 2.0, 5.0),
           ELEMENTWISE, each(away_from(2.5, lo=-3, hi=5)), smooth=False),
    OpSpec("softplus_beta0.5_threshold1", lambda x: kg.softplus(x, beta=0.5, threshold=1.0),
           lambda x: F.softplus(x, beta=0.5, threshold=1.0), ELEMENTWISE, each(away_from(2.0, lo=-3, hi=5)),
           smooth=False),
    # reductions
    OpSpec("sum_all", kg.sum, torch.sum, unary((), (5,), (2, 3, 4)), NORMAL),
    OpSpec("sum_axis1", lambda x: kg.sum(x, axis=1), lambda x: torch.sum(x, 1), R3, NORMAL),
    OpSpec("sum_axis-1_keepdims", lambda x: kg.sum(x, axis=-1, keepdims=True),
           lambda x: torch.sum(x, -1, keepdim=True), R3, NORMAL),
    OpSpec("sum_axes02", lambda x: kg.sum(x, axis=(0, 2)), lambda x: torch.sum(x, (0, 2)), R3, NORMAL),
    OpSpec("sum_method_dim_keepdim", lambda x: x.sum(dim=0, keepdim=True), lambda x: x.sum(0, keepdim=True), R3,
           NORMAL),
    OpSpec("mean_all", kg.mean, torch.mean, unary((5,), (2, 3, 4)), NORMAL),
    OpSpec("mean_axis1_keepdims", lambda x: kg.mean(x, axis=1, keepdims=True),
           lambda x: torch.mean(x, 1, keepdim=True), R3, NORMAL),
    OpSpec("mean_axes12", lambda x: kg.mean(x, axis=(1, 2)), lambda x: torch.mean(x, (1, 2)), R3, NORMAL),
    OpSpec("prod_all", kg.prod, torch.prod, unary((5,), (2, 3, 2)), each(magnitude(0.5, 1.5))),
    OpSpec("prod_axis1", lambda x: kg.prod(x, axis=1), lambda x: torch.prod(x, 1), R3, each(magnitude(0.5, 1.5))),
    OpSpec("prod_axis0_keepdims", lambda x: kg.prod(x, axis=0, keepdims=True),
           lambda x: torch.prod(x, 0, keepdim=True), R3, each(magnitude(0.5, 1.5))),
    OpSpec("prod_axes02", lambda x: kg.prod(x, axis=(0, 2)), lambda x: torch.prod(torch.prod(x, 2), 0), R3,
           each(magnitude(0.5, 1.5))),
    OpSpec("prod_one_zero", kg.prod, torch.prod, unary((6,), (2, 3)), each(with_zeros(1))),
    OpSpec("prod_two_zeros", kg.prod, torch.prod, unary((6,), (2, 3)), each(with_zeros(2))),
    OpSpec("prod_axis1_one_zero", lambda x: kg.prod(x, axis=1), lambda x: torch.prod(x, 1), unary((3, 4)),
           each(with_zeros(1))),
    OpSpec("var_all", kg.var, lambda x: torch.var(x, correction=0), unary((5,), (2, 3, 4)), NORMAL),
    OpSpec("var_axis1_ddof1", lambda x: kg.var(x, axis=1, ddof=1), lambda x: torch.var(x, 1, correction=1), R3,
           NORMAL),
    OpSpec("var_axes02_keepdims", lambda x: kg.var(x, axis=(0, 2), keepdims=True),
           lambda x: torch.var(x, (0, 2), correction=0, keepdim=True), R3, NORMAL),
    OpSpec("std_all", kg.std, lambda x: torch.std(x, correction=0), unary((5,), (2, 3, 4)), NORMAL),
    OpSpec("std_axis-1_ddof1_keepdims", lambda x: kg.std(x, axis=-1, keepdims=True, ddof=1),
           lambda x: torch.std(x, -1, correction=1, keepdim=True), R3, NORMAL),
    OpSpec("max_all", kg.max, torch.amax, unary((5,), (2, 3, 4)), each(distinct()), smooth=False),
    OpSpec("max_axis1", lambda x: kg.max(x, axis=1), lambda x: torch.amax(x, 1), R3, each(distinct()),
           smooth=False),
    OpSpec("max_axes02_keepdims", lambda x: kg.max(x, axis=(0, 2), keepdims=True),
           lambda x: torch.amax(x, (0, 2), keepdim=True), R3, each(distinct()), smooth=False),
    OpSpec("min_all", kg.min, torch.amin, unary((5,), (2, 3, 4)), each(distinct()), smooth=False),
    OpSpec("min_axis-1_keepdims", lambda x: kg.min(x, axis=-1, keepdims=True),
           lambda x: torch.amin(x, -1, keepdim=True), R3, each(distinct()), smooth=False),
    OpSpec("min_axes01", lambda x: kg.min(x, axis=(0, 1)), lambda x: torch.amin(x, (0, 1)), R3, each(distinct()),
           smooth=False),
    OpSpec("logsumexp_all", kg.logsumexp, lambda x: torch.logsumexp(x, tuple(range(x.ndim))),
           unary((5,), (2, 3, 4)), each(normal(2.0))),
    OpSpec("logsumexp_axis1", lambda x: kg.logsumexp(x, axis=1), lambda x: torch.logsumexp(x, 1), R3,
           each(normal(2.0))),
    OpSpec("logsumexp_axes02_keepdims", lambda x: kg.logsumexp(x, axis=(0, 2), keepdims=True),
           lambda x: torch.logsumexp(x, (0, 2), keepdim=True), R3, each(normal(2.0))),
    OpSpec("softmax", kg.softmax, lambda x: torch.softmax(x, -1), unary((5,), (2, 3, 4)), each(normal(2.0))),
    OpSpec("softmax_axis0", lambda x: kg.softmax(x, axis=0), lambda x: torch.softmax(x, 0), R3, each(normal(2.0))),
    OpSpec("log_softmax", kg.log_softmax, lambda x: torch.log_softmax(x, -1), unary((5,), (2, 3, 4)),
           each(normal(2.0))),
    OpSpec("log_softmax_axis1", lambda x: kg.log_softmax(x, axis=1), lambda x: torch.log_softmax(x, 1), R3,
           each(normal(2.0))),
    OpSpec("cumsum_axis0", lambda x: kg.cumsum(x, axis=0), lambda x: torch.cumsum(x, 0), unary((5,), (2, 3, 4)),
           NORMAL),
    OpSpec("cumsum_axis-1", lambda x: kg.cumsum(x, axis=-1), lambda x: torch.cumsum(x, -1), R3, NORMAL),
    OpSpec("cumsum_flat", kg.cumsum, lambda x: torch.cumsum(x.reshape(-1), 0), unary((3, 4)), NORMAL),
    # shape
    OpSpec("reshape", lambda x: kg.reshape(x, (6, 4)), lambda x: x.reshape(6, 4), R3, NORMAL),
    OpSpec("reshape_-1_varargs", lambda x: kg.reshape(x, 4, -1), lambda x: x.reshape(4, -1), R3, NORMAL),
    OpSpec("transpose_default", kg.transpose, lambda x: x.permute(*reversed(range(x.ndim))),
           unary((3, 4), (2, 3, 4)), NORMAL),
    OpSpec("transpose_axes", lambda x: kg.transpose(x, (1, 0, 2)), lambda x: x.permute(1, 0, 2), R3, NORMAL),
    OpSpec("permute", lambda x: kg.permute(x, 2, 0, 1), lambda x: x.permute(2, 0, 1), R3, NORMAL),
    OpSpec("swapaxes", lambda x: kg.swapaxes(x, 0, -1), lambda x: torch.swapaxes(x, 0, -1), R3, NORMAL),
    OpSpec("squeeze_all", kg.squeeze, torch.squeeze, unary((1, 3, 1, 4)), NORMAL),
    OpSpec("squeeze_axis2", lambda x: kg.squeeze(x, 2), lambda x: torch.squeeze(x, 2), unary((1, 3, 1, 4)), NORMAL),
    OpSpec("expand_dims_1", lambda x: kg.expand_dims(x, 1), lambda x: x.unsqueeze(1), unary((3, 4)), NORMAL),
    OpSpec("expand_dims_tuple", lambda x: kg.expand_dims(x, (0, -1)), lambda x: x[None, ..., None],
           unary((3, 4)), NORMAL),
    OpSpec("broadcast_to", lambda x: kg.broadcast_to(x, (2, 3, 4)), lambda x: torch.broadcast_to(x, (2, 3, 4)),
           unary((3, 1), (4,), ()), NORMAL),
    OpSpec("ravel", kg.ravel, lambda x: x.reshape(-1), R3, NORMAL),
    OpSpec("concatenate_axis0", lambda *xs: kg.concatenate(xs), lambda *xs: torch.cat(xs),
           (((2, 3), (1, 3), (4, 3)),), NORMAL, diff=(0, 1, 2)),
    OpSpec("concatenate_axis1", lambda a, b: kg.concatenate([a, b], axis=1), lambda a, b: torch.cat([a, b], 1),
           (((2, 1), (2, 3)), ((2, 2, 3), (2, 1, 3))), NORMAL, diff=(0, 1)),
    OpSpec("stack_axis0", lambda *xs: kg.stack(xs), lambda *xs: torch.stack(xs),
           (((2, 3), (2, 3), (2, 3)), ((), (), ())), NORMAL, diff=(0, 1, 2)),
    OpSpec("stack_axis-1", lambda a, b: kg.stack([a, b], axis=-1), lambda a, b: torch.stack([a, b], -1),
           (((2, 3), (2, 3)),), NORMAL, diff=(0, 1)),
    OpSpec("split_sections", lambda x: kg.split(x, 3, axis=1), lambda x: torch.split(x, 2, 1), unary((2, 6)),
           NORMAL),
    OpSpec("split_indices", lambda x: kg.split(x, [1, 4]), lambda x: torch.tensor_split(x, [1, 4]),
           unary((6,), (5, 2)), NORMAL),
    OpSpec("pad_pairs", lambda x: kg.pad(x, ((1, 2), (0, 3))), lambda x: F.pad(x, (0, 3, 1, 2)), unary((2, 3)),
           NORMAL),
    OpSpec("pad_int", lambda x: kg.pad(x, 1), lambda x: F.pad(x, (1, 1, 1, 1)), unary((2, 3)), NORMAL),
    OpSpec("pad_pairs_value", lambda x: kg.pad(x, ((1, 2), (0, 3)), value=1.5),
           lambda x: F.pad(x, (0, 3, 1, 2), value=1.5), unary((2, 3)), NORMAL),
    OpSpec("pad_int_value", lambda x: kg.pad(x, 2, value=-0.75), lambda x: F.pad(x, (2, 2) * x.ndim, value=-0.75),
           unary((3,), (2, 3)), NORMAL),
    OpSpec("flip_all", kg.flip, lambda x: torch.flip(x, tuple(range(x.ndim))), unary((5,), (2, 3, 4)), NORMAL),
    OpSpec("flip_axis1", lambda x: kg.flip(x, 1), lambda x: torch.flip(x, (1,)), R3, NORMAL),
    OpSpec("tile", lambda x: kg.tile(x, (2, 3)), lambda x: torch.tile(x, (2, 3)), unary((2, 3), (3,)), NORMAL),
    OpSpec("tile_more_reps", lambda x: kg.tile(x, (2, 1, 2)), lambda x: torch.tile(x, (2, 1, 2)), unary((2, 3)),
           NORMAL),
    OpSpec("repeat_axis1", lambda x: kg.repeat(x, 2, axis=1), lambda x: torch.repeat_interleave(x, 2, 1),
           unary((2, 3), (2, 3, 2)), NORMAL),
    OpSpec("repeat_flat", lambda x: kg.repeat(x, 3), lambda x: torch.repeat_interleave(x.reshape(-1), 3),
           unary((2, 3)), NORMAL),
    OpSpec("sum_to", lambda x: kg.sum_to(x, (1, 4)), lambda x: x.reshape(-1, 4).sum(0, keepdim=True),
           unary((3, 4), (2, 3, 4)), NORMAL),
    # indexing
    OpSpec("getitem_slices", lambda x: x[1:3, ::2], lambda x: x[1:3, ::2], unary((4, 5)), NORMAL),
    OpSpec("getitem_int", lambda x: x[1], lambda x: x[1], unary((4, 5), (4,)), NORMAL),
    OpSpec("getitem_int_slice", lambda x: x[-1, 1:], lambda x: x[-1, 1:], unary((4, 5)), NORMAL),
    OpSpec("getitem_negative_steps", lambda x: x[::-1, 3::-2], lambda x: torch.flip(x, (0,))[:, :4].flip(1)[:, ::2],
           unary((4, 5)), NORMAL),
    OpSpec("getitem_ellipsis_none", lambda x: x[..., None, 1], lambda x: x[..., None, 1], unary((4, 5), (2, 4, 5)),
           NORMAL),
    OpSpec("getitem_int_array_repeated", lambda x: x[IDX_REP], lambda x: x[t(IDX_REP)], unary((4, 5), (4,)),
           NORMAL),
    OpSpec("getitem_int_list_repeated", lambda x: x[[1, 1, 0]], lambda x: x[[1, 1, 0]], unary((4, 5)), NORMAL),
    OpSpec("getitem_two_int_arrays", lambda x: x[IDX_ROWS, IDX_COLS], lambda x: x[t(IDX_ROWS), t(IDX_COLS)],
           unary((4, 5)), NORMAL),
    OpSpec("getitem_slice_int_array", lambda x: x[1:, [0, 0, 2]], lambda x: x[1:, [0, 0, 2]], unary((4, 5)),
           NORMAL),
    OpSpec("getitem_bool_mask", lambda x: x[MASK_45], lambda x: x[t(MASK_45)], unary((4, 5)), NORMAL),
    OpSpec("getitem_bool_rows", lambda x: x[MASK_ROWS], lambda x: x[t(MASK_ROWS)], unary((4, 5), (4,)), NORMAL),
    OpSpec("getitem_tensor_index", lambda x: x[kg.tensor(IDX_REP)], lambda x: x[t(IDX_REP)], unary((4, 5)),
           NORMAL),
    OpSpec("take_flat_repeated", lambda x: kg.take(x, IDX_REP), lambda x: x.reshape(-1)[t(IDX_REP)],
           unary((4, 5), (6,)), NORMAL),
    OpSpec("take_flat_2d_index", lambda x: kg.take(x, IDX_REP.reshape(1, 5)),
           lambda x: x.reshape(-1)[t(IDX_REP.reshape(1, 5))], unary((2, 3)), NORMAL),
    OpSpec("take_axis1", lambda x: kg.take(x, [2, 0, 2], axis=1), lambda x: torch.index_select(x, 1, t([2, 0, 2])),
           unary((4, 5), (2, 3, 4)), NORMAL),
    OpSpec("take_along_axis1", lambda x: kg.take_along_axis(x, TAKE_ALONG, 1),
           lambda x: torch.take_along_dim(x, t(TAKE_ALONG), 1), unary((3, 4)), NORMAL),
    OpSpec("take_along_axis0", lambda x: kg.take_along_axis(x, TAKE_ALONG0, 0),
           lambda x: torch.take_along_dim(x, t(TAKE_ALONG0), 0), unary((3, 4)), NORMAL),
    OpSpec("scatter_add", lambda g: kg.scatter_add(g, SCATTER_IDX, (3, 3)),
           lambda g: torch.zeros(3, 3, dtype=g.dtype).index_add(0, t(SCATTER_IDX), g), unary((4, 3)), NORMAL),
    OpSpec("put_along_axis_add", lambda g: kg.put_along_axis_add(g, TAKE_ALONG, 1, (3, 4)),
           lambda g: torch.zeros(3, 4, dtype=g.dtype).scatter_add(1, t(TAKE_ALONG), g), unary((3, 5)), NORMAL),
    OpSpec("sort", kg.sort, lambda x: torch.sort(x, -1).values, unary((5,), (3, 4)), each(distinct()),
           smooth=False),
    OpSpec("sort_axis0_descending", lambda x: kg.sort(x, axis=0, descending=True),
           lambda x: torch.sort(x, 0, descending=True).values, unary((3, 4)), each(distinct()), smooth=False),
    OpSpec("topk", lambda x: kg.topk(x, 3)[0], lambda x: torch.topk(x, 3).values, unary((6,), (3, 6)),
           each(distinct()), smooth=False),
    OpSpec("topk_smallest_axis0", lambda x: kg.topk(x, 2, axis=0, largest=False)[0],
           lambda x: torch.topk(x, 2, 0, largest=False).values, unary((4, 3)), each(distinct()), smooth=False),
    OpSpec("sort_axis1_R3", lambda x: kg.sort(x, axis=1), lambda x: torch.sort(x, 1).values, R3, each(distinct()),
           smooth=False),
    OpSpec("sort_descending_last", lambda x: kg.sort(x, descending=True),
           lambda x: torch.sort(x, -1, descending=True).values, unary((6,), (2, 3, 4)), each(distinct()),
           smooth=False),
    OpSpec("topk_axis1_R3", lambda x: kg.topk(x, 2, axis=1)[0], lambda x: torch.topk(x, 2, 1).values, R3,
           each(distinct()), smooth=False),
    OpSpec("topk_k_all_smallest", lambda x: kg.topk(x, 5, largest=False)[0],
           lambda x: torch.topk(x, 5, largest=False).values, unary((5,), (2, 5)), each(distinct()), smooth=False),
    # order statistics; NumPy's median averages the two middle values for an even count (torch.median
    # returns the lower one), which is torch.quantile(x, 0.5)'s linear interpolation
    OpSpec("median_all", kg.median, lambda x: torch.quantile(x, 0.5), unary((5,), (3, 4), (2, 3, 4)),
           each(distinct()), smooth=False),
    OpSpec("median_all_keepdims", lambda x: kg.median(x, keepdims=True),
           lambda x: torch.quantile(x, 0.5, dim=None, keepdim=True), unary((3, 4), (7,)), each(distinct()),
           smooth=False),
    OpSpec("median_axis1", lambda x: kg.median(x, axis=1), lambda x: torch.quantile(x, 0.5, dim=1),
           unary((2, 3, 4), (3, 4)), each(distinct()), smooth=False),
    OpSpec("median_axis-1_keepdims", lambda x: kg.median(x, axis=-1, keepdims=True),
           lambda x: torch.quantile(x, 0.5, dim=-1, keepdim=True), unary((2, 3, 4), (2, 5)), each(distinct()),
           smooth=False),
    OpSpec("median_axis0", lambda x: kg.median(x, axis=0), lambda x: torch.quantile(x, 0.5, dim=0),
           unary((5,), (3, 4)), each(distinct()), smooth=False),
    OpSpec("quantile_0.3_axis-1", lambda x: kg.quantile(x, 0.3, axis=-1), lambda x: torch.quantile(x, 0.3, dim=-1),
           unary((5,), (2, 3, 4)), each(distinct()), smooth=False),
    OpSpec("quantile_0.75_all", lambda x: kg.quantile(x, 0.75), lambda x: torch.quantile(x, 0.75),
           unary((3, 4), (6,)), each(distinct()), smooth=False),
    OpSpec("quantile_0.9_axis0_keepdims", lambda x: kg.quantile(x, 0.9, axis=0, keepdims=True),
           lambda x: torch.quantile(x, 0.9, dim=0, keepdim=True), unary((4, 3), (2, 3, 2)), each(distinct()),
           smooth=False),
    OpSpec("quantile_0_axis1", lambda x: kg.quantile(x, 0.0, axis=1), lambda x: torch.quantile(x, 0.0, dim=1),
           R3, each(distinct()), smooth=False),
    OpSpec("quantile_1_all", lambda x: kg.quantile(x, 1.0), lambda x: torch.quantile(x, 1.0), unary((3, 4)),
           each(distinct()), smooth=False),
    OpSpec("cummax", kg.cummax, lambda x: torch.cummax(x, 0).values, unary((6,), (4, 3)), each(distinct()),
           smooth=False),
    OpSpec("cummax_axis-1", lambda x: kg.cummax(x, axis=-1), lambda x: torch.cummax(x, -1).values, R3,
           each(distinct()), smooth=False),
    OpSpec("cummin", kg.cummin, lambda x: torch.cummin(x, 0).values, unary((6,), (4, 3)), each(distinct()),
           smooth=False),
    OpSpec("cummin_axis1", lambda x: kg.cummin(x, axis=1), lambda x: torch.cummin(x, 1).values, R3,
           each(distinct()), smooth=False),
    OpSpec("max_axis1_indices", lambda x: kg.max(x, axis=1, return_indices=True)[0],
           lambda x: torch.max(x, 1).values, unary((3, 4), (2, 3, 4)), each(distinct()), smooth=False),
    OpSpec("max_axis-1_keepdims_indices", lambda x: kg.max(x, axis=-1, keepdims=True, return_indices=True)[0],
           lambda x: torch.max(x, -1, keepdim=True).values, R3, each(distinct()), smooth=False),
    OpSpec("min_axis0_indices", lambda x: kg.min(x, axis=0, return_indices=True)[0],
           lambda x: torch.min(x, 0).values, unary((5,), (3, 4), (2, 3, 4)), each(distinct()), smooth=False),
    OpSpec("where", kg.where, torch.where,
           (((3, 4), (3, 4), (3, 4)), ((3, 1), (4,), (1,)), ((2, 3), (), (2, 1, 3))),
           each(mask, normal(), normal()), diff=(1, 2)),
    # linear algebra
    OpSpec("affine", kg.affine, lambda x, w, b: x @ w + b,
           (((2, 3), (3, 4), (4,)), ((3,), (3, 4), (4,)), ((5, 2, 3), (3, 4), (4,)), ((2, 3), (3, 4), (2, 4)),
            ((2, 3), (3, 4), (1, 4))), NORMAL, diff=(0, 1, 2)),
    OpSpec("matmul", kg.matmul, torch.matmul,
           (((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
            ((2, 3), (5, 3, 4)), ((3,), (5, 3, 4)), ((5, 2, 3), (3,)), ((2, 1, 2, 3), (3, 3, 2)),
            ((1, 2, 3), (4, 3, 2))),
           NORMAL, diff=(0, 1)),
    OpSpec("dot", kg.dot, torch.matmul, (((4,), (4,)), ((2, 3), (3, 4)), ((2, 3), (3,))), NORMAL, diff=(0, 1)),
    OpSpec("outer", kg.outer, lambda a, b: torch.outer(a.reshape(-1), b.reshape(-1)),
           (((3,), (4,)), ((2, 2), (3,))), NORMAL, diff=(0, 1)),
    OpSpec("einsum_ij,jk->ik", lambda a, b: kg.einsum("ij,jk->ik", a, b),
           lambda a, b: torch.einsum("ij,jk->ik", a, b), (((2, 3), (3, 4)),), NORMAL, diff=(0, 1)),
    OpSpec("einsum_ij->i", lambda a: kg.einsum("ij->i", a), lambda a: torch.einsum("ij->i", a), unary((3, 4)),
           NORMAL),
    OpSpec("einsum_ij->", lambda a: kg.einsum("ij->", a), lambda a: torch.einsum("ij->", a), unary((3, 4)), NORMAL),
    OpSpec("einsum_ij->ji", lambda a: kg.einsum("ij->ji", a), lambda a: torch.einsum("ij->ji", a), unary((3, 4)),
           NORMAL),
    OpSpec("einsum_ij,jk->i", lambda a, b: kg.einsum("ij,jk->i", a, b),
           lambda a, b: torch.einsum("ij,jk->i", a, b), (((2, 3), (3, 4)),), NORMAL, diff=(0, 1)),
    OpSpec("einsum_bij,bjk->bik", lambda a, b: kg.einsum("bij,bjk->bik", a, b),
           lambda a, b: torch.einsum("bij,bjk->bik", a, b), (((5, 2, 3), (5, 3, 4)),), NORMAL, diff=(0, 1)),
    OpSpec("einsum_i,i->", lambda a, b: kg.einsum("i,i->", a, b), lambda a, b: torch.einsum("i,i->", a, b),
           (((4,), (4,)),), NORMAL, diff=(0, 1)),
    OpSpec("einsum_implicit_ij,jk", lambda a, b: kg.einsum("ij,jk", a, b), lambda a, b: torch.einsum("ij,jk", a, b),
           (((2, 3), (3, 4)),), NORMAL, diff=(0, 1)),
    OpSpec("einsum_3_operands", lambda a, b, c: kg.einsum("ij,jk,kl->il", a, b, c),
           lambda a, b, c: torch.einsum("ij,jk,kl->il", a, b, c), (((2, 3), (3, 4), (4, 2)),), NORMAL,
           diff=(0, 1, 2)),
    OpSpec("einsum_3_operands_sum_only", lambda a, b, c: kg.einsum("ij,jk,kl->i", a, b, c),
           lambda a, b, c: torch.einsum("ij,jk,kl->i", a, b, c), (((2, 3), (3, 4), (4, 2)),), NORMAL,
           diff=(0, 1, 2)),
    OpSpec("norm_l2_vector", lambda x: kg.linalg.norm(x), torch.linalg.vector_norm, unary((5,)), NORMAL),
    OpSpec("norm_None_2d", lambda x: kg.linalg.norm(x), torch.linalg.vector_norm, unary((3, 4)), NORMAL),
    OpSpec("norm_fro", lambda x: kg.linalg.norm(x, "fro"), lambda x: torch.linalg.matrix_norm(x, "fro"),
           unary((3, 4)), NORMAL),
    OpSpec("norm_fro_axes12", lambda x: kg.linalg.norm(x, "fro", axis=(1, 2)),
           lambda x: torch.linalg.matrix_norm(x, "fro", dim=(1, 2)), R3, NORMAL),
    OpSpec("norm_l2_axis1_keepdims", lambda x: kg.linalg.norm(x, axis=1, keepdims=True),
           lambda x: torch.linalg.vector_norm(x, dim=1, keepdim=True), unary((3, 4)), NORMAL),
    OpSpec("norm_ord2_axis-1", lambda x: kg.linalg.norm(x, 2, axis=-1),
           lambda x: torch.linalg.vector_norm(x, 2, dim=-1), R3, NORMAL),
    # the ord 1 and ord 3 norms are composites of abs (sum(abs(x) ** ord) ** (1 / ord)): abs's point 0 by hand
    OpSpec("norm_ord1_vector", lambda x: kg.linalg.norm(x, 1), lambda x: torch.linalg.vector_norm(x, 1),
           unary((5,)), each(away_from(0.0)), smooth=False),
    OpSpec("norm_ord1_axis0", lambda x: kg.linalg.norm(x, 1, axis=0),
           lambda x: torch.linalg.vector_norm(x, 1, dim=0), unary((3, 4)), each(away_from(0.0)), smooth=False),
    OpSpec("norm_inf_axis1", lambda x: kg.linalg.norm(x, INF, axis=1),
           lambda x: torch.linalg.vector_norm(x, INF, dim=1), unary((3, 4)), each(distinct_abs), smooth=False),
    OpSpec("norm_-inf_vector", lambda x: kg.linalg.norm(x, -INF), lambda x: torch.linalg.vector_norm(x, -INF),
           unary((5,)), each(distinct_abs), smooth=False),
    OpSpec("norm_ord3_axis-1", lambda x: kg.linalg.norm(x, 3, axis=-1),
           lambda x: torch.linalg.vector_norm(x, 3, dim=-1), unary((3, 4)), each(away_from(0.0)), smooth=False),
    # pooling: distinct values, so no window ever holds two equal maxima (overlapping windows included)
    OpSpec("max_pool2d_k2", lambda x: kg.max_pool2d(x, 2), lambda x: F.max_pool2d(x, 2),
           unary((2, 3, 4, 4), (3, 4, 6), (1, 2, 5, 5)), each(distinct()), smooth=False),
    OpSpec("max_pool2d_k3_s1_p1", lambda x: kg.max_pool2d(x, 3, 1, 1), lambda x: F.max_pool2d(x, 3, 1, 1),
           unary((1, 2, 4, 5), (2, 5, 5)), each(distinct()), smooth=False),
    OpSpec("max_pool2d_k23_s12_p11", lambda x: kg.max_pool2d(x, (2, 3), stride=(1, 2), padding=(1, 1)),
           lambda x: F.max_pool2d(x, (2, 3), stride=(1, 2), padding=(1, 1)), unary((2, 1, 5, 6), (1, 4, 7)),
           each(distinct()), smooth=False),
    OpSpec("max_pool2d_k3_s2", lambda x: kg.max_pool2d(x, kernel_size=3, stride=2),
           lambda x: F.max_pool2d(x, kernel_size=3, stride=2), unary((1, 2, 7, 6)), each(distinct()), smooth=False),
    OpSpec("softmax_cross_entropy", lambda z: kg.softmax_cross_entropy(z, SCE_LABELS),
           lambda z: F.cross_entropy(z, torch.tensor(SCE_LABELS), reduction="none"), unary((6, 4)), NORMAL),
    # convolution (im2col + one GEMM): x and weight (and bias) differentiated, bilinear so smooth
    OpSpec("conv2d", lambda x, w: kg.conv2d(x, w), lambda x, w: F.conv2d(x, w),
           (((2, 3, 5, 6), (4, 3, 3, 2)), ((1, 1, 4, 4), (2, 1, 1, 1))), NORMAL, diff=(0, 1)),
    OpSpec("im2col_k32_s21_d12_p1", lambda x: kg.im2col(x, k=(3, 2), s=(2, 1), d=(1, 2), p=(1, 1)),
           lambda x: _unfold_rows(x, (3, 2), (2, 1), (1, 2), (1, 1)), unary((2, 3, 5, 6), (1, 5, 4, 4)), NORMAL),
    OpSpec("conv2d_many_channels_p1_bias", lambda x, w, b: kg.conv2d(x, w, b, padding=1),   # im2col's one-copy path
           lambda x, w, b: F.conv2d(x, w, b, padding=1), (((2, 5, 4, 5), (3, 5, 3, 3), (3,)),), NORMAL,
           diff=(0, 1, 2)),
    OpSpec("conv2d_many_channels_s2_p1_d2", lambda x, w: kg.conv2d(x, w, stride=2, padding=1, dilation=2),
           lambda x, w: F.conv2d(x, w, stride=2, padding=1, dilation=2), (((2, 4, 7, 6), (3, 4, 2, 3)),), NORMAL,
           diff=(0, 1)),
    OpSpec("conv2d_s2_p1_d2_bias", lambda x, w, b: kg.conv2d(x, w, b, stride=2, padding=1, dilation=2),
           lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, dilation=2),
           (((2, 2, 7, 6), (3, 2, 2, 3), (3,)),), NORMAL, diff=(0, 1, 2)),
    OpSpec("conv2d_groups2_p1_bias", lambda x, w, b: kg.conv2d(x, w, b, padding=1, groups=2),
           lambda x, w, b: F.conv2d(x, w, b, padding=1, groups=2), (((2, 4, 5, 4), (6, 2, 3, 2), (6,)),), NORMAL,
           diff=(0, 1, 2)),
    OpSpec("conv2d_depthwise_s2", lambda x, w: kg.conv2d(x, w, stride=2, groups=3),
           lambda x, w: F.conv2d(x, w, stride=2, groups=3), (((1, 3, 6, 5), (3, 1, 2, 2)),), NORMAL, diff=(0, 1)),
    # transposed convolution: a composite of matmul and col2im_rows (a convolution's input gradient)
    OpSpec("conv_transpose2d", lambda x, w, b: kg.conv_transpose2d(x, w, b),
           lambda x, w, b: F.conv_transpose2d(x, w, b), (((2, 3, 4, 5), (3, 2, 3, 2), (2,)),), NORMAL,
           diff=(0, 1, 2)),
    OpSpec("conv_transpose2d_s23_p1_op12_d2", lambda x, w: kg.conv_transpose2d(
               x, w, stride=(2, 3), padding=1, output_padding=(1, 2), dilation=2),
           lambda x, w: F.conv_transpose2d(x, w, stride=(2, 3), padding=1, output_padding=(1, 2), dilation=2),
           (((1, 2, 3, 4), (2, 3, 2, 3)),), NORMAL, diff=(0, 1)),
    OpSpec("conv_transpose2d_groups2_s2", lambda x, w, b: kg.conv_transpose2d(x, w, b, stride=2, groups=2),
           lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, groups=2), (((2, 4, 3, 3), (4, 1, 2, 2), (2,)),),
           NORMAL, diff=(0, 1, 2)),
    OpSpec("vjp_of_conv2d_wrt_x", lambda x, g: kg.vjp(lambda y: kg.conv2d(y, CONV_W), x)[1](g)[0],
           lambda x, g: torch.autograd.grad(F.conv2d(x, torch.tensor(CONV_W, dtype=x.dtype), stride=1), x, g,
                                            create_graph=True)[0],
           (((2, 2, 5, 4), (2, 3, 3, 3)),), NORMAL, diff=(0, 1)),
    # derivative maps as ops: the linear primitives that order statistics and pooling differentiate
    # through (select_transpose, select_apply, col2im) appear only in backward / tangent graphs, so these
    # specs record them by taking a VJP (or JVP) inside the op; d/dx is 0 (the selection is locally constant)
    OpSpec("vjp_of_sort_axis0", lambda x, g: kg.vjp(lambda y: kg.sort(y, axis=0), x)[1](g)[0],
           lambda x, g: torch.autograd.grad(torch.sort(x, 0).values, x, g, create_graph=True)[0],
           (((3, 4), (3, 4)), ((5,), (5,))), each(distinct(), normal()), diff=(0, 1), smooth=False),
    OpSpec("jvp_of_cummax", lambda x, t: kg.jvp(kg.cummax, (x,), (t,))[1],
           lambda x, t: torch.func.jvp(lambda y: torch.cummax(y, 0).values, (x,), (t,))[1],
           (((4, 3), (4, 3)), ((6,), (6,))), each(distinct(), normal()), diff=(0, 1), smooth=False),
    OpSpec("vjp_of_max_pool2d_k3_s1_p1", lambda x, g: kg.vjp(lambda y: kg.max_pool2d(y, 3, 1, 1), x)[1](g)[0],
           lambda x, g: torch.autograd.grad(F.max_pool2d(x, 3, 1, 1), x, g, create_graph=True)[0],
           (((1, 2, 4, 5), (1, 2, 4, 5)), ((2, 5, 5), (2, 5, 5))), each(distinct(), normal()), diff=(0, 1),
           smooth=False),
    # losses, Keras order loss(y_true, y_pred); torch's are loss(input=y_pred, target=y_true)
    OpSpec("loss_mse", kg.losses.mse, lambda yt, yp: F.mse_loss(yp, yt), (((5,), (5,)), ((3, 4), (3, 4))),
           NORMAL, diff=(0, 1)),
    OpSpec("loss_mse_sum", lambda yt, yp: kg.losses.mse(yt, yp, reduction="sum"),
           lambda yt, yp: F.mse_loss(yp, yt, reduction="sum"), (((3, 4), (3, 4)),), NORMAL, diff=(0, 1)),
    OpSpec("loss_mae", kg.losses.mae, lambda yt, yp: F.l1_loss(yp, yt), (((5,), (5,)), ((3, 4), (3, 4))),
           residual_pair(0.0), diff=(0, 1), smooth=False),
    OpSpec("loss_mae_none", lambda yt, yp: kg.losses.mae(yt, yp, reduction="none"),
           lambda yt, yp: F.l1_loss(yp, yt, reduction="none"), (((3, 4), (3, 4)),), residual_pair(0.0),
           diff=(0, 1), smooth=False),
    OpSpec("loss_huber", kg.losses.huber, lambda yt, yp: F.huber_loss(yp, yt),
           (((6,), (6,)), ((3, 4), (3, 4))), residual_pair(-1.0, 1.0), diff=(0, 1), smooth=False),
    OpSpec("loss_huber_delta0.5_sum", lambda yt, yp: kg.losses.huber(yt, yp, delta=0.5, reduction="sum"),
           lambda yt, yp: F.huber_loss(yp, yt, reduction="sum", delta=0.5), (((3, 4), (3, 4)),),
           residual_pair(-0.5, 0.5), diff=(0, 1), smooth=False),
    OpSpec("loss_smooth_l1", kg.losses.smooth_l1, lambda yt, yp: F.smooth_l1_loss(yp, yt),
           (((6,), (6,)), ((3, 4), (3, 4))), residual_pair(-1.0, 1.0), diff=(0, 1), smooth=False),
    OpSpec("loss_smooth_l1_beta0.5_none", lambda yt, yp: kg.losses.smooth_l1(yt, yp, beta=0.5, reduction="none"),
           lambda yt, yp: F.smooth_l1_loss(yp, yt, reduction="none", beta=0.5), (((3, 4), (3, 4)),),
           residual_pair(-0.5, 0.5), diff=(0, 1), smooth=False),
    OpSpec("loss_smooth_l1_beta0", lambda yt, yp: kg.losses.smooth_l1(yt, yp, beta=0.0),
           lambda yt, yp: F.smooth_l1_loss(yp, yt, beta=0.0), (((6,), (6,)), ((3, 4), (3, 4))), residual_pair(0.0),
           diff=(0, 1), smooth=False),
]

BY_NAME = {s.name: s for s in SPECS}
assert len(BY_NAME) == len(SPECS), "spec names must be unique"
