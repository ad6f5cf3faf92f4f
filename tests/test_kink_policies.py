"""The kink-policy layer: what each preset and option does, checked against one-sided differences
and hand-derived values, plus the guarantees around it (NaN-safe masking, loud
non-differentiability, the audit, context-local policies).

Sections:
1. sides: ``left`` / ``right`` equal the oracle's one-sided differences (``fd_left`` / ``fd_right``)
   wherever the function is continuous, for elementwise ops and for ties / order statistics
   (coordinate-wise one-sided partials, see ``kinks.resolve.tie_weights`` and ``ops.order._expand``);
   ``mid`` is their average; ``random`` lies between them and is reproducible; ``zero`` / ``nan``.
2. own one-sided differences at every declared kink of every elementwise nonsmooth op.
3. ``raise``; 4. per-op overrides; 5. ``ties=``; 6. ``singular=``; 7. nesting and threads;
8. NaN-safe masking; 9. loud non-differentiability; 10. the audit.

One-sided difference tolerance (FD_ATOL = 2h, h = 2**-20): on each side of a kink the functions
here are smooth, and (f(x) - f(x - h)) / h differs from the one-sided derivative by at most
h/2 * max|f''| <= h (|f''| <= 1.76 for selu's left piece, the largest curvature here; the
weighted order statistics are piecewise linear, exact), plus rounding ~ eps64 * |f| / h ~ 1e-9.
Any convention difference is >= 1e-2, far above 2h ~ 1.9e-6.
"""
from __future__ import annotations

import contextvars
import copy
import json
import os
import threading
import warnings

import numpy as np
import pytest

import kink_cases as kc
import kinkgrad as kg
from kink_points import SELU_ALPHA, SELU_SCALE, around, kink_positions

RECORDS = kc.load_records()
H = 2.0 ** -20
FD_ATOL = 2 * H
THIS_FILE = os.path.basename(__file__)


def _fd_records():
    """(op, point, wrt, cotangent) -> {"fd_left": array, "fd_right": array} from the oracle."""
    by = {}
    for r in RECORDS:
        if r["framework"] in ("fd_left", "fd_right"):
            by.setdefault((r["op"], r["point"], r["wrt"], r["cotangent"]), {})[r["framework"]] = kc.value_of(r)
    return by


def _continuous(L, R):
    return bool(np.all(np.isfinite(L)) and np.all(np.isfinite(R)) and np.all(np.abs(L) < 1e3)
                and np.all(np.abs(R) < 1e3))


def _side_params():
    out = []
    for (op, point, wrt, cot), d in _fd_records().items():
        case = kc.OPS[op]
        if case.fn is None or not case.primitive or not _continuous(d["fd_left"], d["fd_right"]):
            continue
        rid = f"{op.split('  ')[0]}@{point}" + (f"/d{wrt}" if len(kc.parse_point(point)) > 1 else "") \
            + ("" if cot == "ones" else f"/{cot}")
        rec = {"op": op, "point": point, "wrt": wrt, "cotangent": cot, "dtype": "float64"}
        out.append(pytest.param(rec, d["fd_left"], d["fd_right"], id=rid))
    return out


SIDES = _side_params()
# scalar elementwise records where the one-sided derivatives differ: a genuine kink
ELEMENTWISE_KINKS = [p for p in SIDES if np.ndim(p.values[1]) == 0 and abs(p.values[1] - p.values[2]) > 1e-3]
# vector records (ties / order statistics) where some one-sided partials differ
TIE_KINKS = [p for p in SIDES if np.ndim(p.values[1]) > 0 and np.any(np.abs(p.values[1] - p.values[2]) > 1e-3)]


def _value(rec, preset, mode="reverse", **policy):
    fn = kc.fn_for(rec["op"])
    inputs = kc.inputs_for(rec)
    w = kc.weights_of(rec)
    run = kc.reverse_value if mode == "reverse" else kc.forward_value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kg.NonDifferentiableWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        return run(fn, inputs, rec["wrt"], w, preset, **policy)


# ================================================================================================
# 1. sides, mid, random, zero, nan against the oracle's one-sided differences
# ================================================================================================
def test_side_cases_cover_elementwise_and_tie_ops():
    ops = {p.values[0]["op"] for p in SIDES}
    for op in ("abs(x)", "relu(x)", "hardswish(x)", "clip(x, -1, 1)", "maximum(a, b)", "L2 norm(x)",
               "max(x)  full reduction", "sort(x)", "topk(x, 2).values", "median(x)", "quantile(x, 1.0)",
               "cummax(x)", "max_pool2d 2x2"):
        assert op in ops, op
    assert len(ELEMENTWISE_KINKS) >= 15 and len(TIE_KINKS) >= 10


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("rec, fd_left, fd_right", SIDES)
def test_left_and_right_presets_equal_one_sided_differences(rec, fd_left, fd_right, mode):
    np.testing.assert_allclose(_value(rec, "left", mode), fd_left, rtol=0, atol=FD_ATOL)
    np.testing.assert_allclose(_value(rec, "right", mode), fd_right, rtol=0, atol=FD_ATOL)


@pytest.mark.parametrize("rec, fd_left, fd_right", SIDES)
def test_mid_is_the_average_of_the_sides(rec, fd_left, fd_right):
    np.testing.assert_allclose(_value(rec, "mid"), (fd_left + fd_right) / 2, rtol=0, atol=FD_ATOL)
    np.testing.assert_allclose(_value(rec, "mid", "forward"), (fd_left + fd_right) / 2, rtol=0, atol=FD_ATOL)


# celu = maximum(x, 0) + expm1(minimum(x, 0)) has two ties at 0, drawn independently under
# ``random`` (u1 + 1 - u2, anywhere in (0, 2)) although both sides give 1: not a single kink.
RANDOM_ELEMENTWISE = [p for p in SIDES if p.values[0]["op"] not in kc.TIE_OPS
                      and p.values[0]["op"] != "celu(x)  alpha=1"]
RANDOM_TIES = [p for p in SIDES if p.values[0]["op"] in kc.TIE_OPS]


@pytest.mark.parametrize("rec, fd_left, fd_right", RANDOM_ELEMENTWISE)
def test_random_lies_between_the_sides_and_is_reproducible(rec, fd_left, fd_right):
    left, right = _value(rec, "left"), _value(rec, "right")
    lo, hi = np.minimum(left, right), np.maximum(left, right)
    tol = 4 * np.finfo(np.float64).eps * np.maximum(1.0, np.abs(hi))   # (1-u) l + u r rounding
    for seed in range(5):
        for mode in ("reverse", "forward"):
            a = _value(rec, "random", mode, seed=seed)
            b = _value(rec, "random", mode, seed=seed)
            np.testing.assert_array_equal(a, b)                     # same seed, same draw
            assert np.all(a >= lo - tol) and np.all(a <= hi + tol), (seed, mode, a, lo, hi)


def _piece_gradients(rec):
    """The gradients of the smooth pieces meeting at the point: break every tie by a tiny
    perturbation delta = 1e-3 * (a permutation of 0..n-1) (the inputs are integers, so no other
    order changes) and differentiate there. Their convex hull is the Clarke set."""
    import itertools

    fn = kc.fn_for(rec["op"])
    x = kc.inputs_for(rec)["x"]
    w = kc.weights_of(rec)
    out = []
    for perm in itertools.permutations(range(x.size)):
        xp = x + 1e-3 * np.array(perm, dtype=float).reshape(x.shape)
        out.append(kc.reverse_value(fn, {"x": xp}, "x", w, "default"))
    return np.array(out)


@pytest.mark.parametrize("rec, fd_left, fd_right", RANDOM_TIES)
def test_random_at_ties_is_in_the_clarke_set_and_reproducible(rec, fd_left, fd_right):
    """For ties the coordinate-wise sides do not bound the Clarke set (topk(x, 2) at [1, 3, 3, 3]
    with w = [1, 2] may give a tied element the weight 2, while its one-sided partials are 0 and
    1), so ``random`` is checked against the pieces' gradients: within their coordinate-wise hull,
    and with the same sum (all pieces share the derivative along (1, ..., 1): every op here is
    shift-equivariant)."""
    pieces = _piece_gradients(rec)
    lo, hi = pieces.min(axis=0), pieces.max(axis=0)
    total = pieces.reshape(len(pieces), -1).sum(axis=1)
    assert np.ptp(total) == 0
    for seed in range(5):
        for mode in ("reverse", "forward"):
            a = _value(rec, "random", mode, seed=seed)
            np.testing.assert_array_equal(a, _value(rec, "random", mode, seed=seed))
            assert np.all(a >= lo - 1e-12) and np.all(a <= hi + 1e-12), (seed, mode, a, lo, hi)
            if mode == "reverse":
                # (forward mode builds the gradient from one jvp per element, each its own draw)
                np.testing.assert_allclose(a.sum(), total[0], rtol=1e-12, atol=0)


def test_random_draws_differ_between_seeds():
    vals = set()
    for seed in range(8):
        with kg.kinks("random", seed=seed):
            vals.add(kg.grad(kg.abs)(np.float64(0.0)).item())
    assert len(vals) > 1
    assert all(-1.0 <= v <= 1.0 for v in vals)
    # per element, not one draw for the whole array
    with kg.kinks("random", seed=0):
        g = kg.grad(lambda x: kg.abs(x).sum())(np.zeros(16))
    assert len(set(g.data.tolist())) > 1


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("rec, fd_left, fd_right", ELEMENTWISE_KINKS)
def test_zero_and_nan_presets_at_elementwise_kinks(rec, fd_left, fd_right, mode):
    assert _value(rec, "zero", mode) == 0.0
    assert np.isnan(_value(rec, "nan", mode))


@pytest.mark.parametrize("rec, fd_left, fd_right", TIE_KINKS)
def test_nan_preset_marks_exactly_the_convention_dependent_elements(rec, fd_left, fd_right):
    """NaN where the one-sided partials differ (the result depends on the convention there), the
    common value elsewhere."""
    got = _value(rec, "nan")
    dependent = np.abs(fd_left - fd_right) > 1e-3
    np.testing.assert_array_equal(np.isnan(got), dependent, err_msg=f"nan preset gave {got.tolist()}")
    np.testing.assert_allclose(got[~dependent], fd_left[~dependent], rtol=0, atol=FD_ATOL)


@pytest.mark.parametrize("f, x, expected", [
    pytest.param(lambda x: kg.max(x), [1.0, 3.0, 3.0, 2.0], [0.0, 0.0, 0.0, 0.0], id="max"),
    pytest.param(lambda x: kg.min(x), [2.0, 1.0, 1.0, 3.0], [0.0, 0.0, 0.0, 0.0], id="min"),
    pytest.param(lambda x: (kg.sort(x) * np.array([1.0, 2.0, 3.0, 4.0])).sum(), [1.0, 3.0, 3.0, 2.0],
                 [1.0, 0.0, 0.0, 2.0], id="sort"),
    pytest.param(lambda x: (kg.topk(x, 2)[0] * np.array([1.0, 2.0])).sum(), [1.0, 3.0, 3.0, 3.0],
                 [0.0, 0.0, 0.0, 0.0], id="topk"),
    # the running max's untied output (j = 1) keeps its gradient; the tied ones (j = 2, 3) give 0
    pytest.param(lambda x: (kg.cummax(x) * np.array([1.0, 2.0, 3.0, 4.0])).sum(), [1.0, 3.0, 3.0, 2.0],
                 [1.0, 2.0, 0.0, 0.0], id="cummax"),
    pytest.param(lambda x: kg.max_pool2d(x.reshape(1, 1, 2, 2), 2).sum(), [[1.0, 3.0], [3.0, 2.0]],
                 [[0.0, 0.0], [0.0, 0.0]], id="max_pool2d"),
])
def test_zero_preset_at_ties(f, x, expected):
    assert kg.grad(f, kinks="zero")(np.array(x)).data.tolist() == expected


# ================================================================================================
# 2. own one-sided differences at every declared kink of every elementwise nonsmooth op
# ================================================================================================
def _declared_points(op, span, inputs=("x",), **params):
    """Each kink of ``op`` that its declaration's ``Kink.at`` marks on the 1/8 grid of ``span``,
    followed by the same two points beside it (k - 0.37, k + 0.41). ``inputs``: the op's inputs as
    its declaration reads them, ``"x"`` where the points go (clip's bounds, maximum's other side)."""
    wrt = inputs.index("x")
    others = inputs[:wrt] + inputs[wrt + 1:]
    return around(kink_positions(op, *span, others, wrt, **params))


# name, f, and where f's kinks come from: the declared op, the range searched, its inputs, its params
UNARY_KINK_SOURCES = [
    ("abs", kg.abs, "abs", (-3, 3), ("x",), {}),
    ("relu", kg.relu, "relu", (-3, 3), ("x",), {}),
    ("leaky_relu(0.01)", lambda x: kg.leaky_relu(x, negative_slope=0.01), "leaky_relu", (-3, 3), ("x",),
     {"negative_slope": 0.01}),
    ("leaky_relu(0.2)", lambda x: kg.leaky_relu(x, negative_slope=0.2), "leaky_relu", (-3, 3), ("x",),
     {"negative_slope": 0.2}),
    ("relu6", kg.relu6, "relu6", (-1, 7), ("x",), {"lo": 0.0, "hi": 6.0}),
    ("hardtanh", kg.hardtanh, "hardtanh", (-3, 3), ("x",), {"lo": -1.0, "hi": 1.0}),
    ("hardtanh(-2,3)", lambda x: kg.hardtanh(x, -2.0, 3.0), "hardtanh", (-3, 4), ("x",), {"lo": -2.0, "hi": 3.0}),
    ("elu(alpha=0.5)", lambda x: kg.elu(x, alpha=0.5), "elu", (-3, 3), ("x",), {"alpha": 0.5}),
    ("selu", kg.selu, "selu", (-3, 3), ("x",), {"alpha": SELU_ALPHA, "scale": SELU_SCALE}),
    ("hardswish", kg.hardswish, "hardswish", (-5, 5), ("x",), {}),
    ("hardsigmoid", kg.hardsigmoid, "hardsigmoid", (-5, 5), ("x",), {}),
    ("softshrink", lambda x: kg.softshrink(x, lambd=0.5), "softshrink", (-3, 3), ("x",), {"lambd": 0.5}),
    ("clip(-1,2)", lambda x: kg.clip(x, -1.0, 2.0), "clip", (-3, 3), ("x", -1.0, 2.0), {}),
    ("clip(0,None)", lambda x: kg.clip(x, 0.0, None), "clip", (-3, 3), ("x", 0.0, None), {}),
    ("clip(None,1)", lambda x: kg.clip(x, None, 1.0), "clip", (-3, 3), ("x", None, 1.0), {}),
    ("maximum(x,0.5)", lambda x: kg.maximum(x, 0.5), "maximum", (-3, 3), ("x", 0.5), {}),
    ("minimum(-1,x)", lambda x: kg.minimum(-1.0, x), "minimum", (-3, 3), (-1.0, "x"), {}),
]
UNARY_KINKS = [(name, f, _declared_points(op, span, inputs, **params))
               for name, f, op, span, inputs, params in UNARY_KINK_SOURCES]


def _one_sided(f, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        f0 = np.asarray(f(kg.tensor(x)).data)
        fm = np.asarray(f(kg.tensor(x - H)).data)
        fp = np.asarray(f(kg.tensor(x + H)).data)
    return (f0 - fm) / H, (fp - f0) / H


def _elementwise_derivative(f, x, preset, mode):
    with kg.kinks(preset):
        if mode == "reverse":
            return kg.grad(lambda t: f(t).sum())(x).data
        return kg.jvp(f, (x,), (np.ones_like(x),))[1].data


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("name, f, x", UNARY_KINKS, ids=[u[0] for u in UNARY_KINKS])
def test_sides_equal_own_one_sided_differences_unary(name, f, x, mode):
    fd_l, fd_r = _one_sided(f, x)
    assert np.any(np.abs(fd_l - fd_r) > 1e-3), "the points must include a genuine kink"
    np.testing.assert_allclose(_elementwise_derivative(f, x, "left", mode), fd_l, rtol=0, atol=FD_ATOL)
    np.testing.assert_allclose(_elementwise_derivative(f, x, "right", mode), fd_r, rtol=0, atol=FD_ATOL)
    np.testing.assert_allclose(_elementwise_derivative(f, x, "mid", mode), (fd_l + fd_r) / 2, rtol=0,
                               atol=FD_ATOL)


@pytest.mark.parametrize("op", [kg.maximum, kg.minimum], ids=["maximum", "minimum"])
@pytest.mark.parametrize("wrt", [0, 1])
def test_sides_equal_own_one_sided_differences_binary_ties(op, wrt):
    a = np.array([1.0, 2.0, -3.0, 0.5, 7.0])
    b = np.array([1.0, 0.0, -3.0, 2.0, 7.0])         # ties at 0, 2, 4
    args = [a, b]
    e = np.zeros(5)
    f0 = op(a, b).data
    lo, hi = list(args), list(args)
    lo[wrt] = args[wrt] - H
    hi[wrt] = args[wrt] + H
    fd_l = (f0 - op(*lo).data) / H
    fd_r = (op(*hi).data - f0) / H
    assert np.any(np.abs(fd_l - fd_r) > 0.5)
    for preset, expected in (("left", fd_l), ("right", fd_r), ("mid", (fd_l + fd_r) / 2)):
        with kg.kinks(preset):
            _, pb = kg.vjp(op, a, b)
            got = pb(np.ones(5))[wrt].data
            tans = [e, e]
            tans[wrt] = np.ones(5)
            fwd = kg.jvp(op, (a, b), tuple(tans))[1].data
        np.testing.assert_allclose(got, expected, rtol=0, atol=FD_ATOL, err_msg=preset)
        np.testing.assert_allclose(fwd, expected, rtol=0, atol=FD_ATOL, err_msg=preset)


# ================================================================================================
# 3. raise
# ================================================================================================
@pytest.mark.parametrize("name, f, x, index", [
    pytest.param("relu", lambda x: kg.relu(x).sum(), [1.0, 0.0, 2.0], "(1,)", id="relu"),
    pytest.param("abs", lambda x: kg.abs(x).sum(), [[1.0, 2.0], [0.0, 3.0]], "(1, 0)", id="abs-2d"),
    pytest.param("clip", lambda x: kg.clip(x, -1.0, 1.0).sum(), [0.5, 2.0, 1.0], "(2,)", id="clip"),
    pytest.param("max", lambda x: kg.max(x), [1.0, 3.0, 3.0], "(1,)", id="max-tie"),
    pytest.param("sqrt", lambda x: kg.sqrt(x).sum(), [4.0, 0.0], "(1,)", id="sqrt-singular"),
])
def test_raise_names_op_and_element_index(name, f, x, index):
    x = np.array(x)
    y = kg.tensor(x, requires_grad=True)
    out = f(y)                                # forward pass outside the raise scope
    with kg.kinks("raise"):
        with pytest.raises(kg.KinkError) as info:
            out.backward()
    msg = str(info.value)
    assert msg.startswith(name) and index in msg, msg


def test_raise_message_names_the_user_line_when_the_forward_pass_ran_inside():
    x = kg.tensor(np.array([1.0, 0.0, 2.0]), requires_grad=True)
    with kg.kinks("raise"):
        y = kg.relu(x).sum()            # the op is created here, inside kinks("raise")
        with pytest.raises(kg.KinkError) as info:
            y.backward()
    msg = str(info.value)
    assert "relu" in msg and "(1,)" in msg
    assert THIS_FILE in msg, msg


def test_raise_is_silent_away_from_kinks_and_in_forward_mode_too():
    x = np.array([1.0, -2.0, 3.0])
    with kg.kinks("raise"):
        assert kg.grad(lambda t: kg.relu(t).sum())(x).data.tolist() == [1.0, 0.0, 1.0]
        with pytest.raises(kg.KinkError, match="relu"):
            kg.jvp(kg.relu, (np.array([0.0, 1.0]),), (np.ones(2),))


# ================================================================================================
# 4. per-op overrides
# ================================================================================================
X4 = np.array([-1.0, 0.0, 2.0, 0.0])
W4 = np.array([1.0, 3.0, 5.0, -2.0])


def test_numeric_override_multiplies_the_upstream_gradient():
    relu_w = lambda x: (W4 * kg.relu(x)).sum()      # noqa: E731
    abs_w = lambda x: (W4 * kg.abs(x)).sum()        # noqa: E731
    with kg.kinks(relu=0.3):
        np.testing.assert_array_equal(kg.grad(relu_w)(X4).data, [0.0, 0.3 * 3.0, 5.0, 0.3 * -2.0])
        np.testing.assert_array_equal(kg.grad(abs_w)(X4).data, [-1.0, 0.0, 5.0, 0.0])   # abs unaffected
        np.testing.assert_array_equal(kg.jvp(kg.relu, (X4,), (W4,))[1].data, [0.0, 0.3 * 3.0, 5.0, 0.3 * -2.0])
    # the same through grad(kinks=...) and a dict
    np.testing.assert_array_equal(kg.grad(relu_w, kinks={"relu": 0.3})(X4).data,
                                  [0.0, 0.3 * 3.0, 5.0, 0.3 * -2.0])
    # outside: the default again
    np.testing.assert_array_equal(kg.grad(relu_w)(X4).data, [0.0, 0.0, 5.0, 0.0])


def test_override_by_side():
    abs_w = lambda x: (W4 * kg.abs(x)).sum()        # noqa: E731
    relu_w = lambda x: (W4 * kg.relu(x)).sum()      # noqa: E731
    with kg.kinks(abs="right"):
        np.testing.assert_array_equal(kg.grad(abs_w)(X4).data, [-1.0, 3.0, 5.0, -2.0])
        np.testing.assert_array_equal(kg.grad(relu_w)(X4).data, [0.0, 0.0, 5.0, 0.0])    # relu unaffected
    with kg.kinks(abs="left"):
        np.testing.assert_array_equal(kg.grad(abs_w)(X4).data, [-1.0, -3.0, 5.0, 2.0])


def test_override_on_top_of_a_preset_changes_only_that_op():
    x = np.array([0.0])
    with kg.kinks("jax", abs="zero"):
        assert kg.grad(lambda t: kg.abs(t).sum())(x).item() == 0.0            # jax alone gives 1
        assert kg.grad(lambda t: kg.leaky_relu(t, negative_slope=0.01).sum())(x).item() == 1.0   # jax's


def test_unknown_names_are_rejected():
    with pytest.raises(ValueError):
        with kg.kinks("bogus"):
            pass
    with pytest.raises(ValueError):
        with kg.kinks(ties="middle"):
            pass
    with pytest.raises(ValueError):
        with kg.kinks(singular="huge"):
            pass
    with pytest.raises(ValueError):
        with kg.kinks(relu="sideways"):
            pass


# ================================================================================================
# 5. ties = first / last / split
# ================================================================================================
def _both_modes(f, x, w=None):
    """Reverse-mode gradient of sum(w * f(x)) and the same by forward mode (basis tangents)."""
    out, pb = kg.vjp(f, x)
    wt = np.ones(out.shape) if w is None else np.asarray(w, dtype=float).reshape(out.shape)
    rev = pb(wt)[0].data
    fwd = np.zeros(x.size)
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = 1.0
        fwd[i] = (wt * kg.jvp(f, (x,), (e.reshape(x.shape),))[1].data).sum()
    np.testing.assert_array_equal(rev, fwd.reshape(x.shape))
    return rev.tolist()


W1234 = [1.0, 2.0, 3.0, 4.0]
V = np.array([1.0, 3.0, 3.0, 2.0])
TIE_CASES = [
    # name, f, x, w, {rule: expected}
    ("max", lambda x: kg.max(x), V, None,
     {"first": [0, 1, 0, 0], "last": [0, 0, 1, 0], "split": [0, 0.5, 0.5, 0]}),
    ("min", lambda x: kg.min(x), np.array([2.0, 1.0, 1.0, 3.0]), None,
     {"first": [0, 1, 0, 0], "last": [0, 0, 1, 0], "split": [0, 0.5, 0.5, 0]}),
    ("max-axis1", lambda x: kg.max(x, axis=1), np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]), None,
     {"first": [[0, 1, 0], [1, 0, 0]], "last": [[0, 0, 1], [0, 1, 0]], "split": [[0, 0.5, 0.5], [0.5, 0.5, 0]]}),
    ("max-axis(1,2)", lambda x: kg.max(x, axis=(1, 2)),
     np.array([[[1.0, 3.0], [3.0, 0.0]], [[2.0, 2.0], [2.0, 1.0]]]), None,
     {"first": [[[0, 1], [0, 0]], [[1, 0], [0, 0]]], "last": [[[0, 0], [1, 0]], [[0, 0], [1, 0]]],
      "split": [[[0, 0.5], [0.5, 0]], [[1 / 3, 1 / 3], [1 / 3, 0]]]}),
    ("sort", lambda x: kg.sort(x), V, W1234,
     {"first": [1, 3, 4, 2], "last": [1, 4, 3, 2], "split": [1, 3.5, 3.5, 2]}),
    ("sort-descending", lambda x: kg.sort(x, descending=True), V, W1234,
     {"first": [4, 1, 2, 3], "last": [4, 2, 1, 3], "split": [4, 1.5, 1.5, 3]}),
    ("topk", lambda x: kg.topk(x, 2)[0], np.array([1.0, 3.0, 3.0, 3.0]), [1.0, 2.0],
     {"first": [0, 1, 2, 0], "last": [0, 0, 2, 1], "split": [0, 1, 1, 1]}),
    ("cummax", lambda x: kg.cummax(x), V, W1234,
     {"first": [1, 9, 0, 0], "last": [1, 2, 7, 0], "split": [1, 5.5, 3.5, 0]}),
    ("max_pool2d", lambda x: kg.max_pool2d(x, 2), np.array([[[[1.0, 3.0], [3.0, 2.0]]]]), None,
     {"first": [[[[0, 1], [0, 0]]]], "last": [[[[0, 0], [1, 0]]]], "split": [[[[0, 0.5], [0.5, 0]]]]}),
]


@pytest.mark.parametrize("rule", ["first", "last", "split"])
@pytest.mark.parametrize("name, f, x, w, expected", TIE_CASES, ids=[c[0] for c in TIE_CASES])
def test_tie_rules(name, f, x, w, expected, rule):
    with kg.kinks(ties=rule):
        got = _both_modes(f, x, w)
    np.testing.assert_allclose(got, expected[rule], rtol=1e-15, atol=0)


@pytest.mark.parametrize("rule, da, db", [("first", [1, 1, 1], [0, 0, 0]), ("last", [0, 1, 0], [1, 0, 1]),
                                          ("split", [0.5, 1, 0.5], [0.5, 0, 0.5])])
def test_tie_rules_for_maximum_and_minimum(rule, da, db):
    a, b = np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 3.0])      # ties at 0 and 2
    with kg.kinks(ties=rule):
        _, pb = kg.vjp(kg.maximum, a, b)
        ga, gb = pb(np.ones(3))
        fa = kg.jvp(kg.maximum, (a, b), (np.ones(3), np.zeros(3)))[1]
        fb = kg.jvp(kg.maximum, (a, b), (np.zeros(3), np.ones(3)))[1]
        _, pbm = kg.vjp(kg.minimum, b, a)                               # minimum: b is smaller at 1
        ma, mb = pbm(np.ones(3))
    assert ga.data.tolist() == da and gb.data.tolist() == db
    assert fa.data.tolist() == da and fb.data.tolist() == db
    assert ma.data.tolist() == [da[0], 1.0, da[2]] and mb.data.tolist() == [db[0], 0.0, db[2]]


def test_ties_option_overrides_a_presets_tie_rule_but_not_its_kinks():
    a = b = np.array([1.0])
    with kg.kinks("tensorflow"):
        assert [g.item() for g in kg.vjp(kg.maximum, a, b)[1](np.ones(1))] == [1.0, 0.0]
    with kg.kinks("tensorflow", ties="split"):
        assert [g.item() for g in kg.vjp(kg.maximum, a, b)[1](np.ones(1))] == [0.5, 0.5]
        assert kg.grad(lambda t: kg.hardtanh(t).sum())(np.array([1.0])).item() == 1.0   # tf's, not a tie


# ================================================================================================
# 6. singular points
# ================================================================================================
@pytest.mark.parametrize("op", [kg.sqrt, kg.log, lambda x: x ** 0.5], ids=["sqrt", "log", "pow0.5"])
@pytest.mark.parametrize("singular, expected", [(None, np.inf), ("limit", np.inf), ("zero", 0.0),
                                                ("nan", np.nan)])
def test_singular_options(op, singular, expected):
    x = np.array([0.0, 4.0])
    regular = kg.grad(lambda t: op(t).sum())(np.array([4.0])).item()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)    # log(0) = -inf in the forward pass
        with kg.kinks(singular=singular) if singular else kg.kinks():
            rev = kg.grad(lambda t: op(t).sum())(x).data
            fwd = kg.jvp(op, (x,), (np.ones(2),))[1].data
    for got in (rev, fwd):
        np.testing.assert_array_equal(got, [expected, regular])


@pytest.mark.parametrize("op, name", [(kg.sqrt, "sqrt"), (kg.log, "log")])
def test_singular_raise(op, name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with kg.kinks(singular="raise"):
            with pytest.raises(kg.KinkError, match=name) as info:
                kg.grad(lambda t: op(t).sum())(np.array([1.0, 0.0]))
            assert "(1,)" in str(info.value)
            # away from the singular point nothing is raised
            assert kg.grad(lambda t: op(t).sum())(np.array([1.0])).item() == (0.5 if name == "sqrt" else 1.0)


def test_singular_option_does_not_touch_kinks():
    with kg.kinks(singular="nan"):
        assert kg.grad(kg.relu)(np.float64(0.0)).item() == 0.0


# ================================================================================================
# 7. nesting, context-locality, threads
# ================================================================================================
def _relu_slope_at_0():
    return kg.grad(kg.relu)(np.float64(0.0)).item()


def test_policies_nest_and_restore():
    assert kg.get_kinks().preset == "default" and _relu_slope_at_0() == 0.0
    with kg.kinks("right"):
        assert _relu_slope_at_0() == 1.0
        with kg.kinks("left"):
            assert kg.get_kinks().preset == "left" and _relu_slope_at_0() == 0.0
            with kg.kinks(relu=0.25):                      # an override on top keeps the preset
                assert kg.get_kinks().preset == "left" and _relu_slope_at_0() == 0.25
            assert _relu_slope_at_0() == 0.0
        assert kg.get_kinks().preset == "right" and _relu_slope_at_0() == 1.0
    assert kg.get_kinks().preset == "default" and _relu_slope_at_0() == 0.0


def test_policy_is_restored_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with kg.kinks("right"):
            1 / 0
    assert kg.get_kinks().preset == "default"


def test_grad_kinks_argument_is_scoped_to_the_call():
    assert kg.grad(kg.relu, kinks="right")(np.float64(0.0)).item() == 1.0
    assert _relu_slope_at_0() == 0.0 and kg.get_kinks().preset == "default"


def test_a_thread_using_right_does_not_affect_the_main_thread():
    entered, main_done = threading.Event(), threading.Event()
    seen = {}

    def worker():
        with kg.kinks("right"):
            entered.set()
            main_done.wait(5)
            seen["thread"] = _relu_slope_at_0()
            seen["thread_preset"] = kg.get_kinks().preset
        seen["thread_after"] = _relu_slope_at_0()

    t = threading.Thread(target=worker)
    t.start()
    assert entered.wait(5)
    try:
        seen["main"] = _relu_slope_at_0()            # while the thread is inside kinks("right")
        seen["main_preset"] = kg.get_kinks().preset
    finally:
        main_done.set()
        t.join(5)
    assert seen == {"thread": 1.0, "thread_preset": "right", "thread_after": 0.0, "main": 0.0,
                    "main_preset": "default"}


def test_set_kinks_sets_the_process_default_seen_by_threads_started_later():
    seen = {}

    def worker():
        seen["thread"] = _relu_slope_at_0()
        seen["thread_policy"] = (kg.get_kinks().preset, kg.get_kinks().ties)
        with kg.kinks(relu=0.0):                     # a scope still wins inside the thread
            seen["scoped"] = _relu_slope_at_0()

    try:
        kg.set_kinks("tensorflow", ties="last", relu=1.0)
        t = threading.Thread(target=worker)
        t.start()
        t.join(5)
        assert contextvars.copy_context().run(_relu_slope_at_0) == 1.0
        with kg.kinks("default", relu=0.0):          # and in the main thread
            assert _relu_slope_at_0() == 0.0
    finally:
        kg.set_kinks()
    assert seen == {"thread": 1.0, "thread_policy": ("tensorflow", "last"), "scoped": 0.0}
    assert kg.get_kinks().preset == "default" and _relu_slope_at_0() == 0.0


def test_set_kinks_from_a_thread_changes_the_process_default():
    def worker():
        kg.set_kinks("right")

    try:
        t = threading.Thread(target=worker)
        t.start()
        t.join(5)
        assert kg.get_kinks().preset == "right" and _relu_slope_at_0() == 1.0
    finally:
        kg.set_kinks()
    assert _relu_slope_at_0() == 0.0


# ================================================================================================
# 8. NaN-safe masking
# ================================================================================================
PRESETS = ["default", "torch", "jax", "tensorflow", "left", "right", "mid", "zero", "nan", "random"]
MASKED = [
    # name, f, points where the singular branch is not selected (its value there is finite)
    ("where", lambda x: kg.where(x > 0, kg.sqrt(x), 0.0), (-1.0, 0.0)),
    ("where-log", lambda x: kg.where(x > 0, kg.log(x), 0.0), (-1.0, 0.0)),
    ("maximum", lambda x: kg.maximum(kg.sqrt(x), 1.0), (0.0,)),
    ("maximum-2nd", lambda x: kg.maximum(1.0, kg.sqrt(x)), (0.0,)),
    ("minimum", lambda x: kg.minimum(kg.sqrt(x), -1.0), (0.0,)),
    ("clip-x", lambda x: kg.clip(kg.sqrt(x), 1.0, 2.0), (0.0,)),
    ("clip-lo", lambda x: kg.clip(kg.full_like(x, 2.0), kg.sqrt(x), 5.0), (0.0,)),
    ("clip-hi", lambda x: kg.clip(kg.full_like(x, -3.0), -5.0, kg.sqrt(x)), (0.0,)),
]
MASK_CASES = [pytest.param(f, x0, id=f"{name}@{x0}") for name, f, pts in MASKED for x0 in pts]


@pytest.fixture
def quiet_forward():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)    # sqrt(-1), log(0) in the unselected branch
        yield


@pytest.mark.parametrize("f, x0", MASK_CASES)
def test_unselected_branch_contributes_zero_reverse(f, x0, quiet_forward):
    got = {}
    for preset in PRESETS:
        with kg.kinks(preset, seed=0):
            got[preset] = kg.grad(lambda t: f(t).sum())(np.array([x0])).data.tolist()
    assert got == {p: [0.0] for p in PRESETS}


@pytest.mark.parametrize("f, x0", MASK_CASES)
def test_unselected_branch_contributes_zero_forward(f, x0, quiet_forward):
    got = {}
    for preset in PRESETS:
        with kg.kinks(preset, seed=0):
            got[preset] = kg.jvp(f, (np.array([x0]),), (np.ones(1),))[1].data.tolist()
    assert got == {p: [0.0] for p in PRESETS}


# ================================================================================================
# 9. loud non-differentiability
# ================================================================================================
CUT_OPS = [
    ("round", lambda x: kg.round(x).sum()),
    ("floor", lambda x: kg.floor(x).sum()),
    ("sign", lambda x: kg.sign(x).sum()),
    ("heaviside", lambda x: kg.heaviside(x, value=0.5).sum()),
    ("argmax", lambda x: kg.argmax(x).astype(x.dtype)),
    ("greater", lambda x: (x > 0).astype(x.dtype).sum()),
]


@pytest.mark.parametrize("name, f", CUT_OPS, ids=[c[0] for c in CUT_OPS])
def test_cut_gradient_warns_once_per_call_site_naming_the_op(name, f):
    x = np.array([0.3, 1.7, -0.2])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(5):
            g = kg.grad(f)(x)
            assert g.data.tolist() == [0.0, 0.0, 0.0]
    cut = [w for w in caught if issubclass(w.category, kg.NonDifferentiableWarning)]
    assert len(cut) == 1, [str(w.message) for w in caught]
    msg = str(cut[0].message)
    assert name in msg and THIS_FILE in msg, msg
    assert os.path.basename(cut[0].filename) == THIS_FILE      # points at the user's line
    assert len(caught) == 1, [str(w.message) for w in caught]


def test_smooth_training_loop_emits_no_warning():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1
    w = kg.tensor(rng.normal(size=3), requires_grad=True)
    b = kg.tensor(np.array(0.5), requires_grad=True)
    losses = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(20):
            hidden = kg.relu(kg.tensor(X) @ w + b)
            loss = kg.losses.mse(kg.tensor(y), hidden)
            loss.backward()
            with kg.no_grad():
                w.data -= 0.05 * w.grad.data
                b.data -= 0.05 * b.grad.data
            w.grad = b.grad = None
            losses.append(loss.item())
    assert caught == [], [str(c.message) for c in caught]
    assert losses[-1] < losses[0]


def test_backward_through_a_comparison_only_raises_naming_greater():
    x = kg.tensor(np.array([0.5, -1.0]), requires_grad=True)
    y = (x > 0).astype(x.dtype).sum()
    with pytest.raises(RuntimeError, match="greater"):
        y.backward()


# ================================================================================================
# 10. the audit
# ================================================================================================
def _seven_zeros(dtype):
    rng = np.random.default_rng(42)
    x = rng.uniform(0.5, 2.0, size=20) * rng.choice([-1.0, 1.0], size=20)
    zeros = np.array([0, 3, 4, 9, 12, 17, 19])
    x[zeros] = 0.0
    return x.astype(dtype), zeros


def _row(report, op):
    rows = [r for r in report.rows.values() if r["op"] == op]
    assert len(rows) == 1, report.rows
    return rows[0]


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_audit_counts_kinks_dependence_and_dtype(dtype):
    x, zeros = _seven_zeros(dtype)
    upstream = np.ones(20, dtype=dtype)
    upstream[zeros[:3]] = 0.0                   # 3 of the 7 kink elements get no upstream gradient
    upstream[[1, 2]] = 0.0                      # zero upstream away from kinks changes nothing
    with kg.audit() as report:
        _, pullback = kg.vjp(lambda t: kg.relu(t) + kg.abs(t), x)
        pullback(upstream)
    for op in ("relu", "abs"):
        row = _row(report, op)
        assert row["evaluated"] == 20
        assert row["at_kink"] == 7
        assert row["dependent"] == 4
        assert row["dtype"] == dtype
        assert row["kind"] == "kink"
        assert THIS_FILE in row["site"]
    assert report.semantics == "convention-dependent"


def test_audit_tolerance_band():
    x, zeros = _seven_zeros("float64")
    near = [1, 2, 5, 6, 7]
    x[near] = [0.05, -0.05, 0.01, -0.01, 0.1]   # within tol = 0.1 of the kink (5 elements)
    with kg.audit(tol=0.1) as report:
        kg.grad(lambda t: kg.relu(t).sum())(x)
    row = _row(report, "relu")
    assert row["at_kink"] == 7
    assert row["near_kink"] == 12               # the band includes the exact hits
    with kg.audit() as plain:
        kg.grad(lambda t: kg.relu(t).sum())(x)
    assert _row(plain, "relu")["near_kink"] == 0


def test_audit_semantics():
    with kg.audit() as none_hit:
        kg.grad(lambda t: kg.relu(t).sum())(np.array([1.0, -2.0]))
    assert none_hit.semantics == "exact"
    assert _row(none_hit, "relu")["at_kink"] == 0
    with kg.audit() as hit:
        kg.grad(lambda t: kg.relu(t).sum())(np.array([1.0, 0.0]))
    assert hit.semantics == "convention-dependent"
    # a kink whose upstream gradient is 0 does not influence the result
    with kg.audit() as masked:
        _, pb = kg.vjp(kg.relu, np.array([1.0, 0.0]))
        pb(np.array([1.0, 0.0]))
    assert _row(masked, "relu")["at_kink"] == 1 and masked.semantics == "exact"


def test_audit_records_ties():
    with kg.audit() as report:
        kg.grad(lambda t: kg.max(t))(np.array([1.0, 3.0, 3.0, 2.0]))
    row = _row(report, "max")
    assert row["kind"] == "tie" and row["at_kink"] == 2 and row["dependent"] == 2
    assert report.semantics == "convention-dependent"


def test_audit_report_to_dict_and_str():
    x, _ = _seven_zeros("float64")
    with kg.audit() as report:
        kg.grad(lambda t: (kg.relu(t) + kg.abs(t)).sum(), kinks="torch")(x)
    d = report.to_dict()
    assert json.loads(json.dumps(d)) == d                 # plain data, round-trips through JSON
    assert d["semantics"] == report.semantics == "convention-dependent"
    assert d["rows"] == list(report.rows.values())
    assert {r["op"] for r in d["rows"]} == {"relu", "abs"}
    text = str(report)
    assert "relu" in text and "abs" in text and "convention-dependent" in text and THIS_FILE in text


def test_no_audit_records_nothing():
    with kg.audit() as report:
        kg.grad(lambda t: kg.relu(t).sum())(np.array([0.0, 1.0]))
    snapshot = copy.deepcopy(report.rows)
    assert snapshot
    kg.grad(lambda t: (kg.relu(t) + kg.abs(t)).sum())(np.array([0.0, 0.0, 1.0]))   # outside any audit
    with kg.kinks("torch"):
        kg.grad(lambda t: kg.max(t))(np.array([3.0, 3.0]))
    assert report.rows == snapshot
    assert kg.get_kinks().audit is None


def test_audit_counts_per_name_scope():
    x = kg.tensor([-1.0, 0.0, 0.0, 2.0], requires_grad=True)
    with kg.audit() as report:
        with kg.name_scope("encoder"):
            with kg.name_scope("dense"):
                h = kg.relu(x)                     # 2 kinks, upstream sign(0 - 2) = -1: dependent
        with kg.name_scope("head"):
            y = kg.abs(h - 2.0).sum()              # h - 2 = 0 at x = 2: one kink, upstream 1
        y.backward()
    scopes = report.by_scope()
    assert scopes["encoder/dense"] == {"hits": 2, "dependent": 2, "evaluated": 4}
    assert scopes["head"] == {"hits": 1, "dependent": 1, "evaluated": 4}
    assert report.hits == 3 and report.dependent == 3
    assert "encoder/dense" in str(report)
    with kg.audit() as unscoped:
        kg.relu(x).sum().backward()
    assert list(unscoped.by_scope()) == [None] and "scope" not in str(unscoped).splitlines()[1]
