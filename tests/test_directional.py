"""Directional mode (DESIGN.md §5): certified generalized gradients.

``kg.grad(f, kinks="directional", direction=v, seed=s)`` must return, at a kink, the gradient of the
smooth piece of f that is active on x + t v for small t > 0 (the lexicographic rule breaks what v
leaves open). So:

1. a corpus of composite programs with a kink engineered at the evaluation point and a known
   generalized derivative there: where f is differentiable the result is the true derivative (for
   every seed); where it is not, the result is an element of the Clarke set (given per case as
   the list of its piece gradients, a coordinate box, or the unit ball) and equals the plain
   gradient at x + t v (the piece active along v), for many random directions and seeds;
2. random piecewise-linear networks with exact zero pre-activations engineered into them:
   directional gradient along v == plain gradient at x + t v (where no kink is hit, per the audit);
3. the audit: semantics ``certified``, first-order / higher-order / undecided counts;
4. ``with kg.kinks("directional", seed=s): loss.backward()`` == ``kg.grad(..., seed=s)``;
5. comparisons (and so ``where``) decide equality by the tangent.

Tolerances: piece gradients of the piecewise-linear programs are exact up to rounding (1e-9).
Pieces that are smooth but curved (selu, hardswish, norm) are compared at x + t v with t = 1e-7
relative: their gradient moves by O(t) there, so those comparisons use 1e-6.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import kinkgrad as kg

SEEDS = range(20)
T_REL = 1e-7
SELU_SCALE = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717


def S(v):
    """A float64 scalar input."""
    return np.float64(v)


def A(*v):
    return np.array(v, dtype=np.float64)


def npy(t):
    return np.asarray(getattr(t, "data", t), dtype=np.float64)


def dgrad(f, x, v=None, seed=None):
    return npy(kg.grad(f, kinks="directional", direction=v, seed=seed)(x))


def grad_beside(f, x, v):
    """The plain gradient at x + t v (t small), and the audit's semantics there ('exact' means no
    kink was hit, so this is the gradient of the piece active along v)."""
    t = T_REL * max(1.0, float(np.max(np.abs(x))))
    xt = np.asarray(x + t * np.asarray(v), dtype=np.float64)
    with kg.audit() as rep:
        g = npy(kg.grad(f)(xt))
    return g, rep.semantics


def direction(x, seed):
    rng = np.random.default_rng(10_000 + seed)
    v = rng.standard_normal(np.shape(x))
    return np.float64(v) if np.ndim(x) == 0 else v


# ----------------------------------------------------------------------------------------------
# 1. the corpus
# ----------------------------------------------------------------------------------------------
class Case:
    """``kind``: "exact" (differentiable at x; ``data`` the gradient), "pieces" (a list of piece
    gradients: the result must be one of them), "box" ((lo, hi): the result lies in the box, a
    superset of the Clarke set), "ball" (radius: the Clarke set is a ball around 0)."""

    def __init__(self, name, f, x, kind, data, tol=1e-9):
        self.name, self.f, self.x, self.kind, self.data, self.tol = name, f, x, kind, data, tol

    def __repr__(self):
        return self.name

    def is_piece(self, g):
        """One of the listed piece gradients (the Bouligand set), or the derivative."""
        g = np.asarray(g, dtype=np.float64)
        if self.kind == "exact":
            return np.allclose(g, self.data, atol=self.tol, rtol=0)
        if self.kind == "pieces":
            return any(np.allclose(g, p, atol=self.tol, rtol=0) for p in self.data)
        return self.in_clarke(g)

    def in_clarke(self, g):
        g = np.asarray(g, dtype=np.float64)
        tol = self.tol
        if self.kind == "exact":
            return np.allclose(g, self.data, atol=tol, rtol=0)
        if self.kind == "pieces":
            return in_hull(g, self.data, tol)
        if self.kind == "box":
            lo, hi = self.data
            return bool(np.all(g >= np.asarray(lo) - tol) and np.all(g <= np.asarray(hi) + tol))
        if self.kind == "ball":
            return float(np.linalg.norm(g)) <= self.data + tol
        raise ValueError(self.kind)


def in_hull(g, pieces, tol):
    """Is ``g`` in the convex hull of ``pieces``? (Caratheodory: some <= d + 1 of them suffice;
    for each such subset solve the affine least-squares problem and accept nonnegative weights.)"""
    P = [np.ravel(np.asarray(p, dtype=np.float64)) for p in pieces]
    g = np.ravel(g)
    for k in range(1, min(len(P), g.size + 1) + 1):
        for sub in itertools.combinations(P, k):
            M = np.vstack([np.column_stack(sub), np.ones((1, k))])
            w, *_ = np.linalg.lstsq(M, np.append(g, 1.0), rcond=None)
            if np.all(w >= -1e-12) and np.allclose(M @ w, np.append(g, 1.0), atol=tol, rtol=0):
                return True
    return False


def _relu_net_case():
    """W2 @ relu(W1 @ x + b) with three pre-activations exactly 0 at x; pieces: every on/off
    pattern of those three units (the others have a fixed sign)."""
    rng = np.random.default_rng(7)
    W1, w2, x = rng.standard_normal((6, 3)), rng.standard_normal(6), rng.standard_normal(3)
    pre = npy(kg.matmul(W1, x))
    b = rng.standard_normal(6)
    zero = [0, 2, 5]
    b[zero] = -pre[zero]
    z = pre + b
    assert np.all(z[zero] == 0)
    fixed = z > 0
    pieces = []
    for bits in itertools.product([0.0, 1.0], repeat=len(zero)):
        on = fixed.astype(float)
        on[zero] = bits
        pieces.append(W1.T @ (w2 * on))

    def f(x):
        return (w2 * kg.relu(kg.matmul(W1, x) + b)).sum()

    return Case("relu_net_W2_relu_W1x_b", f, x, "pieces", pieces)


def _abs_net_case():
    """sum(v * |W x + b|) with two exact zeros: pieces: every sign pattern of those two units."""
    rng = np.random.default_rng(11)
    W, c, x = rng.standard_normal((4, 2)), rng.standard_normal(4), rng.standard_normal(2)
    pre = npy(kg.matmul(W, x))
    b = rng.standard_normal(4)
    b[[1, 3]] = -pre[[1, 3]]
    z = pre + b
    assert np.all(z[[1, 3]] == 0)
    pieces = []
    for s1, s3 in itertools.product([-1.0, 1.0], repeat=2):
        s = np.sign(z)
        s[1], s[3] = s1, s3
        pieces.append(W.T @ (c * s))
    return Case("abs_net_sum_c_abs_Wx_b", lambda x: (c * kg.abs(kg.matmul(W, x) + b)).sum(), x, "pieces", pieces)


def _corpus():
    e = np.eye(4)
    T = A(1.0, 5.0, 3.0)
    cases = [
        # -- identities written with kinks: differentiable, so the true derivative every time
        Case("relu_x_minus_relu_neg_x", lambda x: kg.relu(x) - kg.relu(-x), S(0), "exact", 1.0),
        Case("maximum_odd_part", lambda x: kg.maximum(x, 0.0) - kg.maximum(-x, 0.0), S(0), "exact", 1.0),
        Case("abs_x_minus_abs_neg_x", lambda x: kg.abs(x) - kg.abs(-x), S(0), "exact", 0.0),
        Case("relu_plus_relu_neg_minus_abs", lambda x: kg.relu(x) + kg.relu(-x) - kg.abs(x), S(0), "exact", 0.0),
        Case("min_of_max_zero", lambda x: kg.minimum(kg.maximum(x, 0.0), 0.0), S(0), "exact", 0.0),
        Case("minimum_plus_maximum_zero", lambda x: kg.minimum(x, 0.0) + kg.maximum(x, 0.0), S(0), "exact", 1.0),
        Case("sum_sort_ties", lambda x: kg.sort(x).sum(), A(1, 1, 0, 1, 0), "exact", np.ones(5)),
        Case("sum_topk_all_ties", lambda x: kg.topk(x, 5)[0].sum(), A(1, 1, 0, 1, 0), "exact", np.ones(5)),
        Case("median_of_x_x_x", lambda x: kg.median(kg.stack([x, x, x])), S(0.7), "exact", 1.0),
        Case("maximum_x_x", lambda x: kg.maximum(x, x).sum(), A(0.0, 1.5, -2.0), "exact", np.ones(3)),
        Case("minimum_x_x", lambda x: kg.minimum(x, x).sum(), A(0.0, 1.5, -2.0), "exact", np.ones(3)),
        Case("max_of_stack_x_x", lambda x: kg.max(kg.stack([x, x])), S(0), "exact", 1.0),
        Case("where_gt_x_x", lambda x: kg.where(x > 0, x, x), S(0), "exact", 1.0),
        Case("norm_of_x_minus_x", lambda x: kg.linalg.norm(x - x), A(1, 2, 3), "exact", np.zeros(3)),
        Case("maximum_plus_minimum_tie", lambda x: kg.maximum(x[0], x[1]) + kg.minimum(x[0], x[1]), A(1, 1),
             "exact", A(1, 1)),
        Case("relu_of_x_minus_x_plus_x", lambda x: kg.relu(x - x) + x, S(0), "exact", 1.0),
        Case("relu_squared", lambda x: kg.relu(x) * kg.relu(x), S(0), "exact", 0.0, tol=1e-6),
        Case("abs_squared", lambda x: kg.abs(x) * kg.abs(x), S(0), "exact", 0.0, tol=1e-6),
        # -- not differentiable at x: one of the pieces, the one active along the direction
        Case("relu_neg_plus_x", lambda x: kg.relu(-x) + x, S(0), "pieces", [0.0, 1.0]),
        Case("x_times_sign_x", lambda x: x * kg.sign(x), S(0), "pieces", [-1.0, 1.0]),
        Case("clip_upper_bound", lambda x: kg.clip(x, -1.0, 1.0), S(1), "pieces", [0.0, 1.0]),
        Case("clip_lower_bound", lambda x: kg.clip(x, -1.0, 1.0), S(-1), "pieces", [0.0, 1.0]),
        Case("where_ge_abs", lambda x: kg.where(x >= 0, x, -x), S(0), "pieces", [-1.0, 1.0]),
        Case("nested_relu_relu_minus_1", lambda x: kg.relu(kg.relu(x) - 1.0), S(1), "pieces", [0.0, 1.0]),
        Case("relu_abs_minus_1_at_plus1", lambda x: kg.relu(kg.abs(x) - 1.0), S(1), "pieces", [0.0, 1.0]),
        Case("relu_abs_minus_1_at_minus1", lambda x: kg.relu(kg.abs(x) - 1.0), S(-1), "pieces", [-1.0, 0.0]),
        Case("max_vector_ties", lambda x: kg.max(x), A(2, 2, 1, 2), "pieces", [e[0], e[1], e[3]]),
        Case("abs", kg.abs, S(0), "pieces", [-1.0, 1.0]),
        Case("leaky_relu", lambda x: kg.leaky_relu(x, 0.1), S(0), "pieces", [0.1, 1.0]),
        Case("hardtanh_upper", kg.hardtanh, S(1), "pieces", [0.0, 1.0]),
        Case("hardtanh_lower", kg.hardtanh, S(-1), "pieces", [0.0, 1.0]),
        Case("relu6_at_6", kg.relu6, S(6), "pieces", [0.0, 1.0]),
        Case("relu6_at_0", kg.relu6, S(0), "pieces", [0.0, 1.0]),
        Case("selu_at_0", kg.selu, S(0), "pieces", [SELU_SCALE * SELU_ALPHA, SELU_SCALE], tol=1e-6),
        Case("elu_alpha2_at_0", lambda x: kg.elu(x, alpha=2.0), S(0), "pieces", [2.0, 1.0], tol=1e-6),
        Case("hardswish_at_3", kg.hardswish, S(3), "pieces", [1.5, 1.0], tol=1e-6),
        Case("hardswish_at_minus3", kg.hardswish, S(-3), "pieces", [0.0, -0.5], tol=1e-6),
        Case("maximum_relu_relu_neg", lambda x: kg.maximum(kg.relu(x), kg.relu(-x)), S(0), "pieces", [-1.0, 1.0]),
        Case("max_of_x_2x_3x", lambda x: kg.max(kg.stack([x, 2 * x, 3 * x])), S(0), "pieces", [1.0, 3.0]),
        Case("top2_sum_three_way_tie", lambda x: kg.topk(x, 2)[0].sum(), A(3, 3, 3, 1), "pieces",
             [A(1, 1, 0, 0), A(1, 0, 1, 0), A(0, 1, 1, 0)]),
        Case("quantile_half_ties", lambda x: kg.quantile(x, 0.5), A(1, 1, 1), "pieces", list(np.eye(3))),
        Case("median_vector_ties", lambda x: kg.median(x), A(2, 2, 2, 5, 0), "pieces", list(np.eye(5)[:3])),
        Case("where_two_input_compare", lambda x: kg.where(x[0] > x[1], x[0], x[1]), A(1, 1), "pieces",
             [A(1, 0), A(0, 1)]),
        _relu_net_case(),
        _abs_net_case(),
        # -- many pieces: a box that holds the Clarke set (the direction check pins the piece)
        Case("cummax_constant", lambda x: kg.cummax(x).sum(), np.ones(4), "box", (np.zeros(4), A(4, 3, 2, 1))),
        Case("cummin_constant", lambda x: kg.cummin(x).sum(), np.ones(3), "box", (np.zeros(3), A(3, 2, 1))),
        Case("sort_weighted_ties", lambda x: (kg.sort(x) * A(1, 2, 3, 4)).sum(), A(1, 1, 1, 0), "box",
             (A(2, 2, 2, 1), A(4, 4, 4, 1))),
        Case("max_pool_constant", lambda x: kg.max_pool2d(x, 2).sum(), np.ones((1, 1, 4, 4)), "box",
             (np.zeros((1, 1, 4, 4)), np.ones((1, 1, 4, 4)))),
        Case("mae_with_ties", lambda x: kg.abs(x - T).mean(), A(1, 5, 0), "box",
             (A(-1, -1, -1) / 3, A(1, 1, -1) / 3)),
        Case("max_minus_min_constant", lambda x: kg.max(x) - kg.min(x), A(1, 1, 1), "box",
             (-np.ones(3), np.ones(3))),
        Case("l1_norm_at_zero", lambda x: kg.linalg.norm(x, ord=1), np.zeros(3), "box", (-np.ones(3), np.ones(3))),
        Case("l2_norm_at_zero", lambda x: kg.linalg.norm(x), np.zeros(3), "ball", 1.0, tol=1e-6),
    ]
    return cases


CORPUS = _corpus()
NONSMOOTH = [c for c in CORPUS if c.kind != "exact"]


def test_in_hull_helper():
    tri = [A(0, 0), A(1, 0), A(0, 1)]
    assert in_hull(A(0.3, 0.3), tri, 1e-9) and in_hull(A(1, 0), tri, 1e-9)
    assert not in_hull(A(0.6, 0.6), tri, 1e-9) and not in_hull(A(-0.1, 0.5), tri, 1e-9)
    assert in_hull(np.float64(0.5), [0.0, 1.0], 1e-9) and not in_hull(np.float64(1.5), [0.0, 1.0], 1e-9)


def test_corpus_size():
    assert len(CORPUS) >= 30
    assert len({c.name for c in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", [c for c in CORPUS if c.kind == "exact"], ids=repr)
def test_table_exact_matches_central_differences(case):
    """Sanity of the table itself: where it says f is differentiable, central differences agree."""
    x = np.asarray(case.x, dtype=np.float64)
    h = 1e-6

    def phi(z):
        return float(npy(case.f(z.reshape(x.shape) if x.ndim else np.float64(z[0]))))

    flat = x.ravel()
    fd = np.array([(phi(flat + h * ei) - phi(flat - h * ei)) / (2 * h) for ei in np.eye(flat.size)])
    assert np.allclose(fd, np.ravel(case.data), atol=1e-6)


@pytest.mark.parametrize("case", NONSMOOTH, ids=repr)
def test_table_pieces_are_the_gradients_beside_x(case):
    """Sanity of the table itself: the plain gradient just beside x lies in the stated set."""
    for s in range(5):
        g, sem = grad_beside(case.f, case.x, direction(case.x, s))
        assert sem == "exact"
        assert case.is_piece(g), (case.name, g)


@pytest.mark.parametrize("case", CORPUS, ids=repr)
def test_corpus_seed_only(case):
    """Seeded random directions: the result lies in the Clarke set (is the derivative where f is
    differentiable), for every seed."""
    for s in SEEDS:
        g = dgrad(case.f, case.x, seed=s)
        assert g.shape == np.shape(case.x)
        assert case.in_clarke(g), f"{case.name}: seed {s} gave {g}"


@pytest.mark.parametrize("case", CORPUS, ids=repr)
def test_corpus_piece_along_direction(case):
    """With direction v: the result is the gradient of a piece (so in the Bouligand, hence Clarke,
    set) and is the gradient of the piece active on x + t v (the plain gradient there, where that
    point is off every kink)."""
    checked = 0
    for s in SEEDS:
        v = direction(case.x, s)
        g = dgrad(case.f, case.x, v=v, seed=s)
        assert case.is_piece(g), f"{case.name}: direction {v} gave {g}, not the gradient of a piece"
        beside, sem = grad_beside(case.f, case.x, v)
        if sem != "exact":      # a structural tie (x - x): x + t v still sits on the kink
            continue
        checked += 1
        tol = 1e-9 if case.tol <= 1e-9 else 1e-6
        assert np.allclose(g, beside, atol=tol * max(1.0, float(np.max(np.abs(beside)))), rtol=0), \
            f"{case.name}: along {v} directional gave {g}, the active piece has gradient {beside}"
    structural = case.name in ("maximum_x_x", "minimum_x_x", "max_of_stack_x_x", "norm_of_x_minus_x",
                               "relu_of_x_minus_x_plus_x", "median_of_x_x_x")
    assert checked > 0 or structural


def test_direction_decides_both_sides_of_abs_and_relu():
    for v, expect_abs, expect_relu in [(1.0, 1.0, 1.0), (-1.0, -1.0, 0.0), (0.3, 1.0, 1.0), (-2.5, -1.0, 0.0)]:
        assert dgrad(kg.abs, S(0), v=S(v)) == expect_abs
        assert dgrad(kg.relu, S(0), v=S(v)) == expect_relu


def test_same_seed_same_result_and_direction_overrides_seed():
    f = lambda x: (kg.relu(x) * A(1, 2, 3, 4, 5, 6)).sum() + kg.max(kg.abs(x))
    x = np.zeros(6)
    for s in range(5):
        assert np.array_equal(dgrad(f, x, seed=s), dgrad(f, x, seed=s))
    v = A(1, -1.5, 2, -2.5, 3, -3.5)
    ref = dgrad(f, x, v=v, seed=0)
    for s in range(1, 6):
        assert np.array_equal(dgrad(f, x, v=v, seed=s), ref)
    assert np.array_equal(ref, A(1, 0, 3, 0, 5, -1))


def test_result_keeps_float64():
    g = kg.grad(lambda x: kg.relu(x).sum(), kinks="directional", seed=0)(np.zeros(3))
    assert g.dtype == kg.float64


def test_multi_input_tie_maximum_plus_minimum():
    a, b = A(1, 2, 3), A(1, 0, 3)
    f = lambda a, b: (kg.maximum(a, b) + kg.minimum(a, b)).sum()
    for s in SEEDS:
        ga, gb = kg.grad(f, argnums=(0, 1), kinks="directional", seed=s)(a, b)
        assert np.array_equal(npy(ga), np.ones(3)) and np.array_equal(npy(gb), np.ones(3))


def test_multi_input_tie_follows_per_input_directions():
    """maximum(a, b) at a == b: the input whose tangent is larger wins the tie."""
    a, b = A(1, 1), A(1, 1)
    f = lambda a, b: kg.maximum(a, b).sum()
    ga, gb = kg.grad(f, argnums=(0, 1), kinks="directional", direction=(A(1, -1), A(0, 0)))(a, b)
    assert np.array_equal(npy(ga), A(1, 0)) and np.array_equal(npy(gb), A(0, 1))


def test_second_direction_breaks_what_the_first_leaves_open():
    """relu(x0 - x1) at x0 == x1 along v1 = (1, 1): the switch does not move; the next direction
    decides, and the result is still one of the two pieces."""
    f = lambda x: kg.relu(x[0] - x[1])
    for s in SEEDS:
        g = dgrad(f, A(1, 1), v=A(1, 1), seed=s)
        assert np.allclose(g, A(1, -1)) or np.allclose(g, A(0, 0)), g


# ----------------------------------------------------------------------------------------------
# 2. random piecewise-linear networks with exact kinks engineered into them
# ----------------------------------------------------------------------------------------------
ACTS = {
    "relu": kg.relu,
    "abs": kg.abs,
    "leaky": lambda z: kg.leaky_relu(z, 0.1),
    "maximum": lambda z: kg.maximum(z, 0.3 * z),
}


def _engineered_net(seed):
    """2-3 layers, widths 3-6, random activations; in every layer a random subset (at least one)
    of the pre-activations is exactly 0 at x (its bias is minus the rest of the pre-activation,
    computed by kinkgrad itself so the sum is 0 bit for bit)."""
    rng = np.random.default_rng(seed)
    n_in = int(rng.integers(2, 5))
    widths = [int(w) for w in rng.integers(3, 7, size=int(rng.integers(2, 4)))]
    acts = [list(ACTS)[int(i)] for i in rng.integers(0, len(ACTS), size=len(widths))]
    x = rng.standard_normal(n_in)
    layers, h, n_zero = [], x, 0
    for w, act in zip(widths, acts):
        W = rng.standard_normal((w, h.shape[0]))
        pre = npy(kg.matmul(W, h))
        b = rng.standard_normal(w)
        zero = rng.random(w) < 0.5
        zero[int(rng.integers(w))] = True
        b[zero] = -pre[zero]
        z = npy(kg.matmul(W, h) + b)
        assert np.all(z[zero] == 0)
        n_zero += int(zero.sum())
        layers.append((W, b, ACTS[act]))
        h = npy(ACTS[act](kg.tensor(z)))
    c = rng.standard_normal(h.shape[0])

    def f(x):
        h = x
        for W, b, act in layers:
            h = act(kg.matmul(W, h) + b)
        return (c * h).sum()

    return f, x, n_zero, acts


@pytest.mark.parametrize("seed", range(12))
def test_network_directional_equals_gradient_beside(seed):
    f, x, n_zero, acts = _engineered_net(seed)
    rng = np.random.default_rng(500 + seed)
    with kg.audit() as rep:
        kg.grad(f, kinks="directional", seed=0)(x)
    assert rep.semantics == "certified"
    assert sum(r["kinks"] for r in rep.directional.values()) >= n_zero >= len(acts)
    checked = 0
    for _ in range(6):
        v = rng.standard_normal(x.shape)
        g = dgrad(f, x, v=v, seed=0)
        beside, sem = grad_beside(f, x, v)
        if sem != "exact":      # x + t v hit another kink (a dead unit downstream): no single piece
            continue
        checked += 1
        assert np.allclose(g, beside, atol=1e-9, rtol=0), (acts, v, g, beside)
    assert checked >= 3


@pytest.mark.parametrize("seed", range(6))
def test_network_directional_is_a_limiting_gradient(seed):
    """Without a given direction: the seeded result lies in the coordinate hull of the gradients
    at many points x + t v just beside x (a superset of the Clarke set)."""
    f, x, _, _ = _engineered_net(seed)
    rng = np.random.default_rng(900 + seed)
    near = [grad_beside(f, x, rng.standard_normal(x.shape))[0] for _ in range(200)]
    near = np.unique(np.round(np.array(near), 9), axis=0)
    for s in range(5):
        g = dgrad(f, x, seed=s)
        lo, hi = near.min(axis=0), near.max(axis=0)
        assert np.all(g >= lo - 1e-9) and np.all(g <= hi + 1e-9), (g, lo, hi)


# ----------------------------------------------------------------------------------------------
# 3. the audit
# ----------------------------------------------------------------------------------------------
def _directional_rows(rep, op):
    return [r for r in rep.directional.values() if r["op"] == op]


def test_audit_certified_counts_first_order():
    with kg.audit() as rep:
        g = dgrad(lambda x: kg.relu(x).sum(), np.zeros(3), seed=0)
    assert rep.semantics == "certified"
    (row,) = _directional_rows(rep, "relu")
    assert row["kinks"] == 3 and row["first_order"] == 3
    assert row["higher_order"] == 0 and row["undecided"] == 0
    assert set(g) <= {0.0, 1.0}


def test_audit_counts_first_order_in_a_network():
    f, x, _, _ = _engineered_net(3)
    with kg.audit() as rep:
        dgrad(f, x, seed=1)
    assert rep.semantics == "certified"
    rows = list(rep.directional.values())
    assert sum(r["first_order"] for r in rows) >= 1
    for r in rows:
        assert r["first_order"] + r["higher_order"] + r["undecided"] == r["kinks"]


def test_audit_structural_tie_is_not_first_order():
    """relu(x - x): the switch x - x has tangent 0 along every direction."""
    with kg.audit() as rep:
        g = dgrad(lambda x: kg.relu(x - x).sum() + x.sum(), np.zeros(3), seed=0)
    assert np.array_equal(g, np.ones(3))
    assert rep.semantics == "certified"
    (row,) = _directional_rows(rep, "relu")
    assert row["first_order"] == 0
    assert row["higher_order"] + row["undecided"] == row["kinks"] > 0


def test_audit_counts_each_kink_once():
    """The audit describes the gradient returned: kg.grad's internal retries with more
    directions must not count the same kink several times."""
    with kg.audit() as rep:
        dgrad(lambda x: kg.relu(x - x).sum(), np.zeros(3), seed=0)
    (row,) = _directional_rows(rep, "relu")
    assert row["kinks"] == 3, row


def test_audit_higher_order_decision():
    """relu(x0 - x1) along v1 = (1, 1): decided by the second direction, so higher-order, and not
    reported as undecided (it was decided)."""
    with kg.audit() as rep:
        dgrad(lambda x: kg.relu(x[0] - x[1]), A(1, 1), v=A(1, 1), seed=0)
    assert rep.semantics == "certified"
    (row,) = _directional_rows(rep, "relu")
    assert row["first_order"] == 0
    assert row["higher_order"] == 1
    assert row["undecided"] == 0, row


def test_audit_depth_two_backward_structural_tie_undecided():
    x = kg.tensor(np.zeros(3), requires_grad=True)
    with kg.audit() as rep:
        with kg.kinks("directional", seed=0, depth=2):
            kg.relu(x - x).sum().backward()
    assert np.array_equal(npy(x.grad), np.zeros(3))
    (row,) = _directional_rows(rep, "relu")
    assert row == {**row, "kinks": 3, "first_order": 0, "higher_order": 0, "undecided": 3}


def test_audit_ties_first_order():
    with kg.audit() as rep:
        dgrad(lambda x: kg.max(x), A(2, 2, 1, 2), seed=0)
    assert rep.semantics == "certified"
    (row,) = _directional_rows(rep, "max")
    assert row["first_order"] == row["kinks"] == 1


def test_audit_sort_structural_tie_is_not_first_order():
    """sort(concat([x, x])): the tied copies have equal tangents along every direction."""
    with kg.audit() as rep:
        g = dgrad(lambda x: (kg.sort(kg.concatenate([x, x])) * np.arange(4.0)).sum(), A(1, 0), seed=0)
    assert np.array_equal(g, A(5, 1))
    (row,) = _directional_rows(rep, "sort")
    assert row["first_order"] == 0, row


def test_audit_certified_for_norm_at_zero():
    with kg.audit() as rep:
        g = dgrad(lambda x: kg.linalg.norm(x), np.zeros(3), v=A(1, 2, 2))
    assert np.allclose(g, A(1, 2, 2) / 3)
    assert rep.semantics == "certified"


def test_audit_certified_for_comparison_tie():
    """where(x > 0, x, 0) at 0 is relu: its value depends on the direction, so the audit must not
    call the gradient 'exact'."""
    with kg.audit() as rep:
        g = dgrad(lambda x: kg.where(x > 0, x, 0.0 * x).sum(), np.zeros(2), v=A(1, -1))
    assert np.array_equal(g, A(1, 0))
    assert rep.semantics == "certified"


def test_audit_exact_away_from_kinks():
    with kg.audit() as rep:
        dgrad(lambda x: kg.relu(x).sum(), A(1, -1, 2), seed=0)
    assert rep.semantics == "exact"


# ----------------------------------------------------------------------------------------------
# 4. loss.backward() inside kg.kinks("directional") == kg.grad(..., kinks="directional")
# ----------------------------------------------------------------------------------------------
BACKWARD_CASES = [
    ("relu_abs_max", lambda x: (kg.relu(x) * np.arange(1.0, 7.0)).sum() + kg.max(kg.abs(x)), np.zeros(6)),
    ("sort_ties", lambda x: (kg.sort(x) * np.arange(5.0)).sum(), A(1, 1, 1, 0, 0)),
    ("clip_bounds", lambda x: (kg.clip(x, -1.0, 1.0) * A(1, 2, 3)).sum(), A(1, -1, 1)),
    ("net", None, None),
]


@pytest.mark.parametrize("name,f,x0", BACKWARD_CASES, ids=[c[0] for c in BACKWARD_CASES])
def test_backward_in_scope_matches_grad(name, f, x0):
    if f is None:
        f, x0, _, _ = _engineered_net(4)
    for s in range(5):
        x = kg.tensor(x0.copy(), requires_grad=True)
        with kg.kinks("directional", seed=s):
            f(x).backward()
        ref = dgrad(f, x0, seed=s)
        assert np.array_equal(npy(x.grad), ref), (s, npy(x.grad), ref)


# ----------------------------------------------------------------------------------------------
# 5. comparisons decide ties by the tangent
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cmp,up,down", [
    (lambda x: x > 0, 1.0, 0.0),
    (lambda x: x >= 0, 1.0, 0.0),
    (lambda x: x < 0, 0.0, 1.0),
    (lambda x: x <= 0, 0.0, 1.0),
    (lambda x: kg.greater(x, 0.0), 1.0, 0.0),
    (lambda x: kg.equal(x, 0.0), 0.0, 0.0),
    (lambda x: kg.not_equal(x, 0.0), 1.0, 1.0),
], ids=["gt", "ge", "lt", "le", "greater", "equal", "not_equal"])
def test_comparison_ties_decided_by_tangent(cmp, up, down):
    f = lambda x: kg.where(cmp(x), x, 0.0 * x)
    assert dgrad(f, S(0), v=S(1.0)) == up
    assert dgrad(f, S(0), v=S(-1.0)) == down


def test_where_gt_zero_brief_example():
    f = lambda x: kg.where(x > 0, x, 0.0)
    assert dgrad(f, S(0), v=S(1.0)) == 1.0
    assert dgrad(f, S(0), v=S(-1.0)) == 0.0


def test_two_input_comparison_tie_uses_tangent_difference():
    f = lambda a, b: kg.where(a > b, a, b).sum()
    a, b = A(1, 1), A(1, 1)
    ga, gb = kg.grad(f, argnums=(0, 1), kinks="directional", direction=(A(1, -1), A(0, 0)))(a, b)
    assert np.array_equal(npy(ga), A(1, 0)) and np.array_equal(npy(gb), A(0, 1))


@pytest.mark.parametrize("seed", range(5))
def test_directional_through_convolution_relu_and_pooling(seed):
    # a small CNN whose relu inputs are exactly 0 at some positions (bias chosen so) and whose
    # pooling windows tie: the directional gradient is the plain gradient of the piece active
    # along v, which the convolution's forward rule (its jvp on NumPy) has to carry correctly
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((3, 2, 3, 3))
    x = np.round(rng.standard_normal((1, 2, 6, 6)) * 2) / 2       # coarse values: exact zeros and ties
    w = np.round(w * 2) / 2
    b = -kg.conv2d(x, w, padding=1).data[0, :, 2, 2]               # and one exact zero per channel
    head = rng.standard_normal(3 * 3 * 3)

    def f(x):
        h = kg.max_pool2d(kg.relu(kg.conv2d(x, w, b, padding=1)), 2)
        return kg.sum(h.reshape(-1) * head)

    with kg.audit() as rep:
        kg.grad(f)(x)
    assert rep.semantics != "exact", "the point should sit on a kink for the test to mean anything"
    v = direction(x, seed)
    got = dgrad(f, x, v, seed=seed)
    # beside the kink the only ties left are pooling windows of relu-clipped zeros, whose slope is 0
    # under every tie rule, so the plain gradient there is the active piece's
    want, _ = grad_beside(f, x, v)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
