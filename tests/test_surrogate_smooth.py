"""Straight-through estimators, kg.ste, surrogate step gradients, smooth twins, sparsemax and the
robust regression losses.

What is checked:
* forward values of straight-through / ste / surrogate ops are bit-exact the hard op (same bytes,
  same dtype, float32 and float64);
* their derivatives are the documented ones (closed forms written out here, independently of the
  library), in reverse and forward mode and, where defined, to second order;
* the audit tags gradients through them ``surrogate``;
* smooth twins: the documented error bounds hold on 1e4 random points at several scales, the error
  goes to 0 with the scale, and the derivative at the kink is the hard op's default convention;
* sparsemax: simplex, sparsity, a brute-force projection, its Jacobian against finite differences,
  and the threshold kink (default leaves the element out, ``right`` puts it in);
* losses against torch (huber_loss, smooth_l1_loss) or closed forms.

Tolerances: closed forms evaluated in float64 in a different order than the library agree to a
few ulps of the largest term: RTOL = 1e-12 and an absolute floor of 1e-13 times the formula's
scale (k for surrogates). Error bounds get a rounding slack of 1e-14 (values here are below 10, so
a few ulps of them). Sparsemax is piecewise linear, so central differences with h = 1e-6 are exact
up to rounding, ~eps64 / h = 2e-10: ATOL_FD = 1e-8.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

import kinkgrad as kg

RTOL = 1e-12
SLACK = 1e-14
N = 10_000


def arr(t):
    return t.data if isinstance(t, kg.Tensor) else np.asarray(t)


def close(a, b, rtol=RTOL, atol=1e-14):
    np.testing.assert_allclose(arr(a), arr(b), rtol=rtol, atol=atol)


def same_bytes(a, b):
    a, b = arr(a), arr(b)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    assert a.shape == b.shape
    assert a.tobytes() == b.tobytes(), (a, b)


def rng(seed=0):
    return np.random.default_rng(seed)


def kinky_points(dtype):
    """Integers, half-integers, signed zeros, the clip bounds, tiny values, and random points."""
    special = [-2.5, -2.0, -1.5, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 1e-30, -1e-30, 0.3, -0.7, 3.7]
    return np.concatenate([special, rng(1).standard_normal(200) * 3]).astype(dtype)


DTYPES = [np.float32, np.float64]

# -- straight_through ------------------------------------------------------------------------------
HARD = {
    "round": (kg.round, np.round),
    "floor": (kg.floor, np.floor),
    "ceil": (kg.ceil, np.ceil),
    "sign": (kg.sign, np.sign),
    "heaviside": (lambda x: kg.heaviside(x, 0.0), lambda x: (x > 0).astype(x.dtype)),
    "clip": (lambda x: kg.clip(x, -1.0, 1.0), lambda x: np.clip(x, -1.0, 1.0)),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("name", list(HARD))
def test_straight_through_forward_is_bit_exact(name, dtype):
    f, ref = HARD[name]
    x = kinky_points(dtype)
    y = kg.straight_through(f)(kg.tensor(x))
    same_bytes(y, f(kg.tensor(x)))
    same_bytes(y, ref(x).astype(dtype))
    assert np.array_equal(arr(y), ref(x))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_straight_through_backward_is_identity_by_default(dtype):
    x = kinky_points(dtype)
    ct = rng(2).standard_normal(x.shape).astype(dtype)
    _, pull = kg.vjp(kg.straight_through(kg.round), x)
    (g,) = pull(ct)
    same_bytes(g, ct)
    xt = kg.tensor(x, requires_grad=True)
    kg.sum(kg.straight_through(kg.floor)(xt) * ct).backward()
    same_bytes(xt.grad, ct)


GRAD_LIKE = {
    "cube_over_3": (lambda x: x ** 3 / 3, lambda x: x ** 2, lambda x: 2 * x),
    "tanh": (kg.tanh, lambda x: 1 - np.tanh(x) ** 2, lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
    "sin": (kg.sin, np.cos, lambda x: -np.sin(x)),
}


@pytest.mark.parametrize("gl", list(GRAD_LIKE))
def test_straight_through_grad_like_reverse_forward_and_second_order(gl):
    grad_like, d1, d2 = GRAD_LIKE[gl]
    st = kg.straight_through(kg.round, grad_like=grad_like)
    x = kinky_points(np.float64)
    same_bytes(st(kg.tensor(x)), np.round(x))
    close(kg.grad(lambda a: kg.sum(st(a)))(x), d1(x))
    t = rng(3).standard_normal(x.shape)
    out, tout = kg.jvp(st, (x,), (t,))
    same_bytes(out, np.round(x))
    close(tout, d1(x) * t)
    close(kg.grad(lambda a: kg.sum(kg.grad(lambda b: kg.sum(st(b)))(a)))(x), d2(x))
    xs = x[:12]
    close(kg.hessian(lambda a: kg.sum(st(a)))(xs), np.diag(d2(xs)))


def test_straight_through_identity_forward_mode_and_second_order():
    st = kg.straight_through(kg.round)
    x = kinky_points(np.float32)
    t = rng(4).standard_normal(x.shape).astype(np.float32)
    out, tout = kg.jvp(st, (x,), (t,))
    same_bytes(out, np.round(x))
    same_bytes(tout, t)
    g2 = kg.grad(lambda a: kg.sum(kg.grad(lambda b: kg.sum(st(b) ** 2))(a)))(x[:20])
    # d/dx sum(2 round(x) * 1) through the straight-through again: 2
    close(g2, np.full(20, 2.0, np.float32))


def test_straight_through_rejects_shape_change():
    with pytest.raises(ValueError, match="shape"):
        kg.straight_through(lambda v: kg.sum(v), name="st_sum")(np.ones(3))


def test_straight_through_audit_reverse_mode_is_surrogate():
    x = np.array([0.5, 1.5, 0.2])
    with kg.audit() as report:
        kg.grad(lambda a: kg.sum(kg.ste.round(a)))(x)
    assert report.semantics == "surrogate"


def test_straight_through_audit_forward_mode_is_surrogate():
    """The tangent comes from the straight-through rule, so forward mode is a surrogate too (and
    the hard op's own kinks at 0.5, 1.5 played no part)."""
    x = np.array([0.5, 1.5, 0.2])
    with kg.audit() as report:
        kg.jvp(kg.ste.round, (x,), (np.ones(3),))
    assert report.semantics == "surrogate", str(report)


def test_straight_through_forward_mode_ignores_the_hard_ops_kinks():
    """Under kinks('raise') reverse mode through ste.round at a half-integer is fine (the rule is
    the identity); forward mode must be as well."""
    x = np.array([0.5, 1.5, 0.2])
    with kg.kinks("raise"):
        close(kg.grad(lambda a: kg.sum(kg.ste.round(a)))(x), np.ones(3))
        _, t = kg.jvp(kg.ste.round, (x,), (np.ones(3),))
    close(t, np.ones(3))


# -- kg.ste ----------------------------------------------------------------------------------------
def _ste_sign_grad(x):
    return (np.abs(x) < 1).astype(x.dtype)


STE = {
    # name: (ste op, hard numpy op, documented backward)
    "round": (kg.ste.round, np.round, lambda x: np.ones_like(x)),
    "floor": (kg.ste.floor, np.floor, lambda x: np.ones_like(x)),
    "sign": (kg.ste.sign, np.sign, _ste_sign_grad),
    "heaviside": (kg.ste.heaviside, lambda x: (x > 0).astype(x.dtype), lambda x: np.ones_like(x)),
    "clip": (lambda x: kg.ste.clip(x, -1.0, 1.0), lambda x: np.clip(x, -1.0, 1.0), lambda x: np.ones_like(x)),
    "clip_lo": (lambda x: kg.ste.clip(x, 0.0), lambda x: np.maximum(x, 0.0), lambda x: np.ones_like(x)),
    "clip_hi": (lambda x: kg.ste.clip(x, hi=0.5), lambda x: np.minimum(x, 0.5), lambda x: np.ones_like(x)),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("name", list(STE))
def test_ste_forward_bit_exact_and_documented_backward(name, dtype):
    op, hard, back = STE[name]
    x = kinky_points(dtype)
    y = op(kg.tensor(x))
    same_bytes(y, hard(x).astype(dtype))
    g = kg.grad(lambda a: kg.sum(op(a)))(x)
    assert g.dtype == dtype
    np.testing.assert_array_equal(arr(g), back(x))
    t = rng(5).standard_normal(x.shape).astype(dtype)
    _, tout = kg.jvp(op, (x,), (t,))
    np.testing.assert_array_equal(arr(tout), back(x) * t)


def test_ste_sign_at_its_bounds_and_hard_op_equivalents():
    x = np.array([-1.0, 1.0, -0.999, 0.999, 0.0])
    np.testing.assert_array_equal(arr(kg.grad(lambda a: kg.sum(kg.ste.sign(a)))(x)), [0, 0, 1, 1, 1])
    # the hard ops themselves give zero gradients (that is why the estimators exist)
    for name in ("round", "floor", "sign"):
        with pytest.warns(kg.NonDifferentiableWarning):
            g = kg.grad(lambda a: kg.sum(getattr(kg, name)(a)))(np.array([0.3, 1.7]))
        np.testing.assert_array_equal(arr(g), 0)


# -- surrogate.heaviside ---------------------------------------------------------------------------
def _sigmoid(z):
    return 0.5 * (1 + np.tanh(z / 2))


CLOSED = {
    "sigmoid": lambda x, k: k * _sigmoid(k * x) * _sigmoid(-k * x),
    "fast_sigmoid": lambda x, k: 1 / (k * np.abs(x) + 1) ** 2,
    "atan": lambda x, k: (k / 2) / (1 + (math.pi * k * x / 2) ** 2),
    "triangle": lambda x, k: k * np.maximum(0.0, 1 - k * np.abs(x)),
    "rectangle": lambda x, k: np.where(np.abs(x) < 1 / (2 * k), k, 0.0),
    "identity": lambda x, k: np.ones_like(x),
}
SECOND = {       # derivatives of CLOSED in x, away from the points where they have kinks
    "sigmoid": lambda x, k: k * k * _sigmoid(k * x) * _sigmoid(-k * x) * (1 - 2 * _sigmoid(k * x)),
    "fast_sigmoid": lambda x, k: -2 * k * np.sign(x) / (k * np.abs(x) + 1) ** 3,
    "atan": lambda x, k: -(k / 2) * 2 * (math.pi * k / 2) ** 2 * x / (1 + (math.pi * k * x / 2) ** 2) ** 2,
    "triangle": lambda x, k: np.where(np.abs(x) < 1 / k, -k * k * np.sign(x), 0.0),
    "rectangle": lambda x, k: np.zeros_like(x),
    "identity": lambda x, k: np.zeros_like(x),
}
DEFAULTS = {"sigmoid": 25.0, "fast_sigmoid": 25.0, "atan": 2.0, "triangle": 1.0, "rectangle": 1.0, "identity": 1.0}
AT_ZERO = {"sigmoid": lambda k: k / 4, "fast_sigmoid": lambda k: 1.0, "atan": lambda k: k / 2,
           "triangle": lambda k: k, "rectangle": lambda k: k, "identity": lambda k: 1.0}
KINDS = list(CLOSED)


def surrogate_points(k, seed=0):
    r = rng(seed)
    x = np.concatenate([r.uniform(-3 / k, 3 / k, 500), r.standard_normal(500)])
    edges = np.concatenate([np.full(1, 1 / (2 * k)), np.full(1, 1 / k)])
    keep = np.all(np.abs(np.abs(x)[:, None] - edges[None, :]) > 1e-9, axis=1)   # off the rectangle/triangle edges
    return x[keep & (x != 0)]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("kind", KINDS)
def test_surrogate_forward_is_the_bit_exact_step(kind, dtype):
    x = kinky_points(dtype)
    same_bytes(kg.surrogate.heaviside(kg.tensor(x), kind), (x > 0).astype(dtype))
    same_bytes(kg.surrogate.heaviside(kg.tensor(x), kind, slope=7.0), (x > 0).astype(dtype))


@pytest.mark.parametrize("slope", [None, 0.5, 4.0, 40.0], ids=lambda s: f"slope={s}")
@pytest.mark.parametrize("kind", KINDS)
def test_surrogate_backward_is_the_closed_form(kind, slope):
    k = DEFAULTS[kind] if slope is None else slope
    x = surrogate_points(k)
    want = CLOSED[kind](x, k)
    atol = 1e-13 * k
    g = kg.grad(lambda a: kg.sum(kg.surrogate.heaviside(a, kind, slope)))(x)
    close(g, want, atol=atol)
    close(kg.surrogate.derivative(x, kind, slope), want, atol=atol)
    t = rng(6).standard_normal(x.shape)
    _, tout = kg.jvp(lambda a: kg.surrogate.heaviside(a, kind, slope), (x,), (t,))
    close(tout, want * t, atol=atol * 5)
    # value at the step itself
    g0 = kg.grad(lambda a: kg.sum(kg.surrogate.heaviside(a, kind, slope)))(np.zeros(1))
    close(g0, [AT_ZERO[kind](k)])


@pytest.mark.parametrize("kind", KINDS)
def test_surrogate_default_slope_and_slope_respected(kind):
    x = surrogate_points(1.0, seed=3)
    default = kg.grad(lambda a: kg.sum(kg.surrogate.heaviside(a, kind)))(x)
    explicit = kg.grad(lambda a: kg.sum(kg.surrogate.heaviside(a, kind, DEFAULTS[kind])))(x)
    np.testing.assert_array_equal(arr(default), arr(explicit))
    if kind != "identity":
        other = kg.grad(lambda a: kg.sum(kg.surrogate.heaviside(a, kind, DEFAULTS[kind] * 3)))(x)
        assert not np.allclose(arr(other), arr(default))


@pytest.mark.parametrize("kind", KINDS)
def test_surrogate_second_derivative(kind):
    k = DEFAULTS[kind]
    x = surrogate_points(k, seed=7)
    g2 = kg.grad(lambda a: kg.sum(kg.grad(lambda b: kg.sum(kg.surrogate.heaviside(b, kind)))(a)))(x)
    close(g2, SECOND[kind](x, k), rtol=1e-10, atol=1e-12 * k * k)


@pytest.mark.parametrize("kind", KINDS)
def test_surrogate_float32_gradient_dtype(kind):
    x = surrogate_points(DEFAULTS[kind]).astype(np.float32)
    g = kg.grad(lambda a: kg.sum(kg.surrogate.heaviside(a, kind)))(x)
    assert g.dtype == np.float32
    close(g, CLOSED[kind](x.astype(np.float64), DEFAULTS[kind]), rtol=1e-5, atol=1e-6 * DEFAULTS[kind])


def test_surrogate_bad_arguments_raise():
    with pytest.raises(ValueError) as info:
        kg.surrogate.heaviside(np.ones(2), "swish")
    assert "swish" in str(info.value) and "fast_sigmoid" in str(info.value)
    with pytest.raises(ValueError, match="slope"):
        kg.surrogate.heaviside(np.ones(2), "atan", slope=0.0)
    with pytest.raises(ValueError, match="slope"):
        kg.surrogate.heaviside(np.ones(2), "atan", slope=-1.0)


def test_surrogate_audit_tags_surrogate():
    x = np.array([-0.3, 0.0, 0.4])
    with kg.audit() as report:
        kg.grad(lambda a: kg.sum(kg.surrogate.heaviside(a, "atan")))(x)
    assert report.semantics == "surrogate"
    with kg.audit() as report:
        kg.jvp(lambda a: kg.surrogate.heaviside(a, "atan"), (x,), (np.ones(3),))
    assert report.semantics == "surrogate"
    with kg.audit() as report, pytest.warns(kg.NonDifferentiableWarning):   # the hard step: no surrogate
        kg.grad(lambda a: kg.sum(kg.heaviside(a, 0.0)))(np.array([-0.3, 0.4]))
    assert report.semantics != "surrogate"


# -- smooth twins: error bounds, convergence, kink conventions ----------------------------------------
SCALES = [1e-1, 1e-2, 1e-3, 1e-4]
S = kg.smooth


def pts(eps, seed=0):
    """1e4 random points: most spread out, a tenth within a few scales of the kink, plus 0."""
    r = rng(seed)
    return np.concatenate([r.standard_normal(N - 1001) * 2, r.uniform(-5 * eps, 5 * eps, 1000), [0.0]])


def _err_abs(eps):
    x = pts(eps)
    e = np.abs(x) - arr(S.abs(kg.tensor(x), eps))
    assert np.all(e >= -SLACK) and np.all(e <= eps + SLACK), (e.min(), e.max())
    return np.max(np.abs(e))


def _err_relu(eps):
    x = pts(eps)
    e = np.maximum(x, 0) - arr(S.relu(kg.tensor(x), eps))
    assert np.all(e >= -SLACK) and np.all(e <= eps / 2 + SLACK), (e.min(), e.max())
    return np.max(np.abs(e))


def _err_clip(eps):
    x = np.concatenate([pts(eps), pts(eps, 1) * 0.01 + 1.0, pts(eps, 2) * 0.01 - 0.5])
    e = np.clip(x, -0.5, 1.0) - arr(S.clip(kg.tensor(x), -0.5, 1.0, eps))
    assert np.all(np.abs(e) <= eps + SLACK), np.abs(e).max()
    return np.max(np.abs(e))


def _err_max(eps, n=10):
    x = pts(eps).reshape(-1, n)
    e = arr(S.max(kg.tensor(x), eps, axis=1)) - x.max(axis=1)
    assert np.all(e >= -SLACK) and np.all(e <= eps * np.log(n) + SLACK), (e.min(), e.max())
    e2 = arr(S.min(kg.tensor(x), eps, axis=1)) - x.min(axis=1)
    assert np.all(e2 <= SLACK) and np.all(e2 >= -eps * np.log(n) - SLACK), (e2.min(), e2.max())
    return max(np.max(np.abs(e)), np.max(np.abs(e2)))


def _err_maximum(eps):
    a, b = pts(eps), pts(eps, 1)[::-1].copy()
    b[:50] = a[:50]                                    # exact ties: the worst case, tau log 2
    e = arr(S.maximum(kg.tensor(a), kg.tensor(b), eps)) - np.maximum(a, b)
    assert np.all(e >= -SLACK) and np.all(e <= eps * np.log(2) + SLACK), (e.min(), e.max())
    e2 = arr(S.minimum(kg.tensor(a), kg.tensor(b), eps)) - np.minimum(a, b)
    assert np.all(e2 <= SLACK) and np.all(e2 >= -eps * np.log(2) - SLACK), (e2.min(), e2.max())
    return max(np.max(np.abs(e)), np.max(np.abs(e2)))


def _err_sign(eps):
    x = pts(eps)
    nz = x != 0
    e = np.abs(arr(S.sign(kg.tensor(x), eps)) - np.sign(x))[nz]
    assert np.all(e <= 2 * np.exp(-2 * np.abs(x[nz]) / eps) + 4.5e-16)    # 4.5e-16: ulps of 1
    far = np.abs(x) >= 0.05
    return np.max(np.abs(arr(S.sign(kg.tensor(x[far]), eps)) - np.sign(x[far])))


def _err_heaviside(eps):
    x = pts(eps)
    nz = x != 0
    e = np.abs(arr(S.heaviside(kg.tensor(x), eps)) - (x > 0))[nz]
    assert np.all(e <= np.exp(-np.abs(x[nz]) / eps) + 4.5e-16)
    far = np.abs(x) >= 0.05
    return np.max(np.abs(arr(S.heaviside(kg.tensor(x[far]), eps)) - (x[far] > 0)))


def _hard_ranks(x):
    return np.argsort(np.argsort(x, axis=-1), axis=-1) + 1.0


def _min_gap(x):
    s = np.sort(x, axis=-1)
    return np.min(np.diff(s, axis=-1), axis=-1)


def _err_rank(tau, n=8):
    x = pts(tau)[: (N // n) * n].reshape(-1, n)
    e = np.abs(arr(S.rank(kg.tensor(x), tau)) - _hard_ranks(x))
    bound = (n - 1) * _sigmoid(-_min_gap(x) / tau)
    assert np.all(e.max(axis=1) <= bound + 1e-13)
    return np.max(e[_min_gap(x) >= 0.05])


TWINS = {"abs": _err_abs, "relu": _err_relu, "clip": _err_clip, "max_min": _err_max,
         "maximum_minimum": _err_maximum, "sign": _err_sign, "heaviside": _err_heaviside, "rank": _err_rank}


@pytest.mark.parametrize("twin", list(TWINS))
def test_smooth_twin_error_bound_and_convergence(twin):
    errs = [TWINS[twin](eps) for eps in SCALES]           # each call asserts the documented bound
    assert all(b <= a + SLACK for a, b in zip(errs, errs[1:])), errs
    assert errs[-1] <= 2.5e-4, errs                      # the largest bound at 1e-4: tau log 10


def test_smooth_derivatives_at_the_kink_match_the_hard_default():
    hard = {
        "abs": kg.grad(kg.abs)(0.0),
        "relu": kg.grad(kg.relu)(0.0),
        "clip_lo": kg.grad(lambda v: kg.clip(v, -1.0, 1.0))(-1.0),
    }
    assert {k: float(v) for k, v in hard.items()} == {"abs": 0.0, "relu": 0.0, "clip_lo": 0.0}
    for eps in SCALES:
        assert float(kg.grad(lambda v: S.abs(v, eps))(0.0)) == 0.0
        assert float(kg.grad(lambda v: S.relu(v, eps))(0.0)) == 0.0
        assert float(kg.grad(lambda v: S.clip(v, -1.0, 1.0, eps))(-1.0)) == pytest.approx(0.0, abs=1e-12)
        # away from the kink the slope tends to the hard one
        assert float(kg.grad(lambda v: S.abs(v, eps))(-0.5)) == pytest.approx(-1.0, abs=2 * eps ** 2 / 0.25)
        assert float(kg.grad(lambda v: S.relu(v, eps))(0.5)) == 1.0


def test_smooth_clip_slope_at_the_upper_bound_is_the_hard_default():
    """smooth.clip's docstring: 'slope 0 at the bounds' (clip's default convention), at both."""
    assert float(kg.grad(lambda v: kg.clip(v, -1.0, 1.0))(1.0)) == 0.0
    for eps in SCALES:
        assert float(kg.grad(lambda v: S.clip(v, -1.0, 1.0, eps))(1.0)) == pytest.approx(0.0, abs=1e-12), eps


def test_smooth_max_ties_split_evenly_like_the_hard_default():
    x = np.array([1.0, 3.0, 3.0, -2.0])
    hard = arr(kg.grad(kg.max)(x))
    np.testing.assert_array_equal(hard, [0, 0.5, 0.5, 0])
    hard_min = arr(kg.grad(kg.min)(-x))
    for tau in SCALES:
        close(kg.grad(lambda v: S.max(v, tau))(x), hard, atol=1e-6 if tau == 1e-1 else 1e-12)
        close(kg.grad(lambda v: S.min(v, tau))(-x), hard_min, atol=1e-6 if tau == 1e-1 else 1e-12)
        a = np.array([0.7, -1.0])
        hga, hgb = kg.grad(lambda u, w: kg.sum(kg.maximum(u, w)), argnums=(0, 1))(a, a)
        ga, gb = kg.grad(lambda u, w: kg.sum(S.maximum(u, w, tau)), argnums=(0, 1))(a, a)
        close(ga, hga)
        close(gb, hgb)
        ga, gb = kg.grad(lambda u, w: kg.sum(S.minimum(u, w, tau)), argnums=(0, 1))(a, a)
        close(ga, [0.5, 0.5])
        close(gb, [0.5, 0.5])


def test_smooth_sign_and_heaviside_values_at_the_jump():
    for eps in SCALES:
        assert float(S.sign(kg.tensor(0.0), eps)) == float(np.sign(0.0)) == 0.0
        assert float(S.heaviside(kg.tensor(0.0), eps)) == float(kg.heaviside(kg.tensor(0.0))) == 0.5


def test_smooth_scale_must_be_positive():
    for fn in (S.abs, S.relu, S.sign, S.heaviside):
        with pytest.raises(ValueError):
            fn(kg.tensor(np.ones(2)), 0.0)
    with pytest.raises(ValueError):
        S.clip(kg.tensor(np.ones(2)), 1.0, 0.0)


@pytest.mark.parametrize("descending", [False, True])
def test_smooth_rank_and_sort_converge_for_distinct_values(descending):
    x = rng(9).standard_normal((200, 6))
    x = x[_min_gap(x) >= 0.05][:20]                      # distinct values, gaps >= 0.05
    assert len(x) >= 10
    want_sort = np.sort(x, axis=-1)
    if descending:
        want_sort = want_sort[..., ::-1]
    errs_sort, errs_rank = [], []
    for tau in [1e-1, 1e-2, 1e-3]:
        errs_sort.append(np.max(np.abs(arr(S.sort(kg.tensor(x), tau, descending=descending)) - want_sort)))
        errs_rank.append(np.max(np.abs(arr(S.rank(kg.tensor(x), tau)) - _hard_ranks(x))))
    assert errs_sort == sorted(errs_sort, reverse=True) and errs_sort[-1] < 1e-8, errs_sort
    assert errs_rank == sorted(errs_rank, reverse=True) and errs_rank[-1] < 1e-8, errs_rank
    # the relaxations are differentiable: gradient of the sorted vector's weighted sum tends to the
    # permutation's transpose applied to the weights
    w = np.arange(1.0, 7.0)
    g = kg.grad(lambda v: kg.sum(S.sort(v, 1e-3, descending=descending) * w))(x[0])
    order = np.argsort(x[0])[::-1] if descending else np.argsort(x[0])
    want = np.empty(6)
    want[order] = w
    close(g, want, atol=1e-6)


# -- sparsemax ---------------------------------------------------------------------------------------
def brute_force_projection(z):
    """Euclidean projection onto the simplex by trying every support: the projection is
    max(z - tau, 0) on its support S, with tau fixed by summing to 1; among the candidates that are
    feasible (nonnegative), the nearest to z."""
    n = len(z)
    best, best_d = None, np.inf
    for size in range(1, n + 1):
        for support in itertools.combinations(range(n), size):
            s = list(support)
            tau = (z[s].sum() - 1) / size
            p = np.zeros(n)
            p[s] = z[s] - tau
            if np.all(p >= -1e-15):
                d = np.sum((p - z) ** 2)
                if d < best_d:
                    best, best_d = p, d
    return best


def test_sparsemax_on_the_simplex_sparse_and_equal_to_brute_force():
    z = rng(11).standard_normal((200, 6)) * 1.5
    p = arr(S.sparsemax(kg.tensor(z)))
    assert np.all(p >= 0)
    close(p.sum(axis=1), np.ones(200))
    zeros_per_row = np.sum(p == 0, axis=1)
    assert np.mean(zeros_per_row > 0) > 0.5           # sparse: exact zeros, not tiny values
    assert np.all(zeros_per_row < 6)
    for row, prow in zip(z, p):
        close(prow, brute_force_projection(row))
    # axis: columns of a transposed batch
    close(S.sparsemax(kg.tensor(z.T), axis=0), p.T)


def _fd_jacobian(z, h=1e-6):
    f = lambda v: arr(S.sparsemax(kg.tensor(v)))      # noqa: E731
    return np.stack([(f(z + h * e) - f(z - h * e)) / (2 * h) for e in np.eye(len(z))], axis=1)


def test_sparsemax_jacobian_vs_finite_differences_away_from_threshold():
    r = rng(12)
    checked = 0
    while checked < 15:
        z = r.standard_normal(6)
        p = arr(S.sparsemax(kg.tensor(z)))
        s = p > 0
        tau = np.max(z[s] - p[s])
        if np.min(np.abs(z - tau)) < 1e-3:
            continue
        fd = _fd_jacobian(z)
        for mode in ("rev", "fwd"):
            close(kg.jacobian(S.sparsemax, mode=mode)(z), fd, rtol=0, atol=1e-8)
        sf = s.astype(float)
        close(kg.jacobian(S.sparsemax)(z), np.diag(sf) - np.outer(sf, sf) / sf.sum())
        checked += 1


@pytest.mark.parametrize("z, support_default", [
    (np.array([1.0, 0.0, -0.5]), [1, 0, 0]),
    (np.array([0.6, 0.4, 0.0, -1.0]), [1, 1, 0, 0]),
])
def test_sparsemax_threshold_element_default_out_right_in(z, support_default):
    p = arr(S.sparsemax(kg.tensor(z)))
    sd = np.array(support_default, dtype=float)
    edge = np.flatnonzero((p == 0) & (z == np.max(z[p > 0] - p[p > 0])))
    assert len(edge) == 1                                  # exactly one element on the threshold
    sr = sd.copy()
    sr[edge] = 1.0

    def jac(s):
        return np.diag(s) - np.outer(s, s) / s.sum()

    close(kg.jacobian(S.sparsemax)(z), jac(sd))
    with kg.kinks(sparsemax="right"):
        close(kg.jacobian(S.sparsemax)(z), jac(sr))
    close(kg.jacobian(S.sparsemax, kinks={"sparsemax": "right"})(z), jac(sr))
    close(kg.jacobian(S.sparsemax, mode="fwd", kinks={"sparsemax": "right"})(z), jac(sr))
    # right = the one-sided difference moving the threshold element up, default = moving it down
    h = 1e-7
    e = np.zeros_like(z)
    e[edge] = 1.0
    f = lambda v: arr(S.sparsemax(kg.tensor(v)))          # noqa: E731
    close(jac(sr) @ e, (f(z + h * e) - f(z)) / h, rtol=0, atol=1e-7)
    close(jac(sd) @ e, (f(z) - f(z - h * e)) / h, rtol=0, atol=1e-7)


# -- losses ---------------------------------------------------------------------------------------------
def _loss_data(seed=1):
    r = rng(seed)
    yt, yp = r.standard_normal(60) * 2, r.standard_normal(60) * 2
    yp[:3] = yt[:3]                                       # residual exactly 0
    yp[3], yp[4] = yt[3] + 1.0, yt[4] - 0.5               # residual exactly at delta = 1 and 0.5
    return yt, yp


def _torch_loss(fn, yt, yp, **kw):
    tp = torch.tensor(yp, requires_grad=True)
    v = fn(tp, torch.tensor(yt), **kw)
    v.backward()
    return v.item(), tp.grad.numpy()


@pytest.mark.parametrize("delta", [0.5, 1.0, 2.0])
def test_huber_vs_torch(delta):
    yt, yp = _loss_data()
    v, g = kg.value_and_grad(lambda p: kg.losses.huber(yt, p, delta=delta))(yp)
    tv, tg = _torch_loss(torch.nn.functional.huber_loss, yt, yp, delta=delta)
    assert v.item() == pytest.approx(tv, rel=1e-12)
    close(g, tg)
    r = yp - yt
    close(kg.losses.huber(yt, yp, delta=delta, reduction="none"),
          np.where(np.abs(r) <= delta, 0.5 * r * r, delta * (np.abs(r) - delta / 2)))
    assert kg.losses.huber(yt, yp, delta=delta, reduction="sum").item() == pytest.approx(tv * len(yt), rel=1e-12)


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
def test_smooth_l1_vs_torch(beta):
    yt, yp = _loss_data()
    v, g = kg.value_and_grad(lambda p: kg.losses.smooth_l1(yt, p, beta=beta))(yp)
    tv, tg = _torch_loss(torch.nn.functional.smooth_l1_loss, yt, yp, beta=beta)
    assert v.item() == pytest.approx(tv, rel=1e-12)
    close(g, tg)


def test_smooth_l1_beta_zero_is_l1_without_nan():
    yt, yp = _loss_data()
    v, g = kg.value_and_grad(lambda p: kg.losses.smooth_l1(yt, p, beta=0.0))(yp)
    assert v.item() == pytest.approx(np.mean(np.abs(yp - yt)), rel=1e-14)
    close(kg.losses.smooth_l1(yt, yp, beta=0.0, reduction="none"), np.abs(yp - yt), rtol=0, atol=0)
    assert np.all(np.isfinite(arr(g)))
    close(g, np.sign(yp - yt) / len(yt))                # 0 where the residual is 0 (abs's default)
    tv, tg = _torch_loss(torch.nn.functional.smooth_l1_loss, yt, yp, beta=0.0)
    assert v.item() == pytest.approx(tv, rel=1e-12)
    close(g, tg)
    g2 = kg.grad(lambda p: kg.losses.smooth_l1(yt, p, beta=0.0))(yt.copy())   # every residual 0
    assert np.all(np.isfinite(arr(g2))) and np.all(arr(g2) == 0)


def test_pseudo_huber_closed_form():
    yt, yp = _loss_data()
    r = yp - yt
    for delta in (0.5, 1.0, 3.0):
        v, g = kg.value_and_grad(lambda p: kg.losses.pseudo_huber(yt, p, delta=delta, reduction="sum"))(yp)
        assert v.item() == pytest.approx(np.sum(delta ** 2 * (np.sqrt(1 + (r / delta) ** 2) - 1)), rel=1e-12)
        close(g, r / np.sqrt(1 + (r / delta) ** 2))


def test_log_cosh_closed_form_and_large_residuals():
    yt, yp = _loss_data()
    r = yp - yt
    v, g = kg.value_and_grad(lambda p: kg.losses.log_cosh(yt, p, reduction="sum"))(yp)
    assert v.item() == pytest.approx(np.sum(np.log(np.cosh(r))), rel=1e-12)
    close(g, np.tanh(r))
    big = np.array([1e4, -1e4, 3e2, 0.0])
    vals = arr(kg.losses.log_cosh(np.zeros(4), big, reduction="none"))
    assert np.all(np.isfinite(vals))
    close(vals[:3], np.abs(big[:3]) - np.log(2.0))
    assert vals[3] == 0.0
    gb = kg.grad(lambda p: kg.losses.log_cosh(np.zeros(4), p, reduction="sum"))(big)
    assert np.all(np.isfinite(arr(gb)))
    close(gb, np.tanh(big))


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
def test_quantile_values_gradients_and_kink(q):
    yt, yp = _loss_data()
    r = yt - yp
    v, g = kg.value_and_grad(lambda p: kg.losses.quantile(yt, p, q=q, reduction="sum"))(yp)
    assert v.item() == pytest.approx(np.sum(np.maximum(q * r, (q - 1) * r)), rel=1e-12)
    nz = r != 0
    close(arr(g)[nz], np.where(r > 0, -q, 1 - q)[nz])
    # at r = 0 the default is the mean of the one-sided slopes: q - 1/2 in r (y_true), 1/2 - q in y_pred
    close(arr(g)[~nz], np.full(int((~nz).sum()), 0.5 - q))
    gt = kg.grad(lambda t: kg.losses.quantile(t, np.zeros(1), q=q, reduction="sum"))(np.zeros(1))
    close(gt, [q - 0.5])
    same = kg.grad(lambda p: kg.losses.pinball(yt, p, q=q, reduction="sum"))(yp)
    np.testing.assert_array_equal(arr(same), arr(g))


def test_loss_shape_mismatch_names_the_loss():
    for name in ("huber", "smooth_l1", "pseudo_huber", "log_cosh", "quantile"):
        with pytest.raises(ValueError, match=name):
            getattr(kg.losses, name)(np.zeros((4, 1)), np.zeros(4))
