"""No silent wrong gradient: every way a gradient could come back wrong without a word, each as a
reproducer that must now either give the right number or say why not.

1. in-place writes (version counters) and PyTorch's in-place semantics; 2. loud cuts on every
path; 3. containers that used to drop the graph; 4. degenerate points through the policy (std at
zero spread, median/quantile ties along an axis against PyTorch); 5. validation; 6. forward mode
keeps dtypes; 7. edge cases; 8. anomaly mode.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import kinkgrad as kg
from opspecs import SPECS
from test_ops import cases, sample


def arr(t):
    return np.asarray(t.data if isinstance(t, kg.Tensor) else t)


# ================================================================================================
# 1. in-place writes
# ================================================================================================
def test_write_through_detach_after_the_graph_saved_it_raises():
    t = kg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (t * t).sum()
    t.detach()[0] = 10.0                          # shares t's memory, which multiply saved
    with pytest.raises(RuntimeError, match=r"multiply: .*modified by an in-place operation"):
        y.backward()


def test_write_into_an_operand_that_needs_no_grad_raises():
    h = kg.tensor([1.0, 2.0, 3.0])
    w = kg.tensor([1.0, 1.0, 1.0], requires_grad=True)
    y = (h * w).sum()
    h[0] = 100.0                                  # w's gradient is h: it would come back as 100
    with pytest.raises(RuntimeError, match=r"multiply: .*input 0, shape \(3,\), float32"):
        y.backward()


def test_write_into_a_saved_output_raises():
    x = kg.tensor([0.5, 1.0], requires_grad=True)
    y = kg.exp(x)                                  # exp's derivative is its output
    with kg.no_grad():
        y[1] = 0.0
    with pytest.raises(RuntimeError, match=r"exp: .*its output"):
        y.sum().backward()


def test_writes_before_the_graph_and_after_backward_are_fine():
    h = kg.tensor([1.0, 2.0, 3.0])
    h[0] = 5.0                                     # before any op saved it
    w = kg.tensor([1.0, 1.0, 1.0], requires_grad=True)
    (h * w).sum().backward()
    np.testing.assert_array_equal(arr(w.grad), [5.0, 2.0, 3.0])
    h[1] = 7.0                                     # the graph is gone: nothing to protect
    w.grad = None
    (h * w).sum().backward()
    np.testing.assert_array_equal(arr(w.grad), [5.0, 7.0, 3.0])


def test_a_retained_graph_refuses_a_second_backward_after_an_in_place_update():
    p = kg.tensor([1.0, 2.0], requires_grad=True)
    loss = (p * p).sum()
    loss.backward(retain_graph=True)
    with kg.no_grad():
        p -= 0.1 * p.grad
    with pytest.raises(RuntimeError, match="in-place"):
        loss.backward()


def test_the_pytorch_training_loop_keeps_parameters_leaves():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((32, 3)), rng.standard_normal(32)
    a = kg.tensor(np.zeros(3), requires_grad=True)
    b = kg.tensor(0.0, dtype="float64", requires_grad=True)
    ta = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    tb = torch.zeros((), dtype=torch.float64, requires_grad=True)
    for _ in range(20):
        loss = kg.mean((X @ a + b - y) ** 2)
        loss.backward()
        with kg.no_grad():
            a -= 0.1 * a.grad
            b.sub_(b.grad, alpha=0.1)
        a.grad = b.grad = None
        tloss = ((torch.tensor(X) @ ta + tb - torch.tensor(y)) ** 2).mean()
        tloss.backward()
        with torch.no_grad():
            ta -= 0.1 * ta.grad
            tb.sub_(tb.grad, alpha=0.1)
        ta.grad = tb.grad = None
    assert a.is_leaf and a.requires_grad and b.is_leaf and b.requires_grad
    np.testing.assert_allclose(arr(a), ta.detach().numpy(), rtol=1e-12)   # float64, same operation order
    np.testing.assert_allclose(arr(b), tb.detach().numpy(), rtol=1e-12)


def test_in_place_on_a_leaf_that_requires_grad_raises_like_pytorch():
    p = kg.tensor([1.0, 2.0], requires_grad=True)
    for update in (lambda: p.__iadd__(1.0), lambda: p.add_(1.0), lambda: p.__setitem__(0, 3.0),
                   lambda: p.zero_(), lambda: p.mul_(2.0)):
        with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
            update()


@pytest.mark.parametrize("name, update, torch_update", [
    ("add_", lambda t: t.add_(2.0), lambda t: t.add_(2.0)),
    ("sub_alpha", lambda t: t.sub_(kg.tensor([1.0, 1.0, 1.0]), alpha=0.5),
     lambda t: t.sub_(torch.tensor([1.0, 1.0, 1.0]), alpha=0.5)),
    ("mul_", lambda t: t.mul_(3.0), lambda t: t.mul_(3.0)),
    ("div_", lambda t: t.div_(4.0), lambda t: t.div_(4.0)),
    ("clamp_", lambda t: t.clamp_(-0.5, 0.5), lambda t: t.clamp_(-0.5, 0.5)),
    ("fill_", lambda t: t.fill_(7.0), lambda t: t.fill_(7.0)),
    ("zero_", lambda t: t.zero_(), lambda t: t.zero_()),
    ("copy_", lambda t: t.copy_(kg.tensor([1.0, 2.0, 3.0])), lambda t: t.copy_(torch.tensor([1.0, 2.0, 3.0]))),
    ("iadd", lambda t: t.__iadd__(1.5), lambda t: t.__iadd__(1.5)),
    ("imul", lambda t: t.__imul__(kg.tensor([1.0, 2.0, 3.0])), lambda t: t.__imul__(torch.tensor([1.0, 2.0, 3.0]))),
    ("setitem", lambda t: t.__setitem__(slice(0, 2), 9.0), lambda t: t.__setitem__(slice(0, 2), 9.0)),
])
def test_in_place_methods_follow_pytorch_and_show_through_aliases(name, update, torch_update):
    x = kg.tensor([0.25, -2.0, 1.0])
    alias = x.detach()
    view = x[1:]
    same = update(x)
    tx = torch.tensor([0.25, -2.0, 1.0])
    torch_update(tx)
    np.testing.assert_array_equal(arr(x), tx.numpy())
    np.testing.assert_array_equal(arr(alias), tx.numpy())       # the same memory
    np.testing.assert_array_equal(arr(view), tx.numpy()[1:])
    assert name == "setitem" or same is x


def test_in_place_on_a_non_leaf_is_recorded():
    x = kg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    y[1] = 0.0
    y += x * x
    y.sum().backward()
    tx = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    ty = tx * 2
    ty[1] = 0.0
    ty += tx * tx
    ty.sum().backward()
    np.testing.assert_allclose(arr(y), ty.detach().numpy())
    np.testing.assert_allclose(arr(x.grad), tx.grad.numpy())


def test_assigning_a_tensor_that_requires_grad_records_it():
    v = kg.tensor([5.0, 6.0], requires_grad=True)
    buf = kg.zeros(4)
    buf[1:3] = v * v
    (buf * kg.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    np.testing.assert_allclose(arr(v.grad), [2 * 5.0 * 2.0, 2 * 6.0 * 3.0])


def test_jvp_through_item_assignment():
    def f(b):
        a = kg.zeros(3)
        a[1] = b[0]
        return a

    value, tangent = kg.jvp(f, (kg.tensor([5.0]),), (kg.tensor([1.0]),))
    np.testing.assert_array_equal(arr(value), [0.0, 5.0, 0.0])
    np.testing.assert_array_equal(arr(tangent), [0.0, 1.0, 0.0])


def test_a_recorded_assignment_with_repeated_indices_is_refused():
    x = kg.tensor([1.0, 2.0, 3.0], requires_grad=True) * 1.0
    with pytest.raises(ValueError, match="more than once"):
        x[np.array([0, 0])] = kg.tensor([1.0, 2.0], requires_grad=True)


def test_a_long_training_loop_with_in_place_updates_never_trips_the_check():
    rng = np.random.default_rng(1)
    w = kg.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    X = kg.tensor(rng.standard_normal((16, 4)))
    for _ in range(50):
        loss = (kg.relu(X @ w) ** 2).mean()
        loss.backward()
        with kg.no_grad():
            w -= 0.01 * w.grad
        w.grad = None
    assert w.is_leaf and np.isfinite(arr(w)).all()


# ================================================================================================
# 2. loud cuts on every path
# ================================================================================================
@pytest.mark.parametrize("name, f", [
    ("round", lambda t: kg.round(t * 2)),
    ("sign", lambda t: kg.sign(t - 0.5)),
    ("floor", lambda t: kg.floor(kg.exp(t))),
    ("heaviside", lambda t: kg.heaviside(t * 3 - 1)),
])
def test_backward_through_a_cut_anywhere_gives_zeros_and_warns_like_grad(name, f):
    t = kg.tensor([0.3, 1.2], requires_grad=True)
    with pytest.warns(kg.NonDifferentiableWarning, match=name):
        f(t).sum().backward()
    np.testing.assert_array_equal(arr(t.grad), [0.0, 0.0])
    with pytest.warns(kg.NonDifferentiableWarning, match=name):
        g = kg.grad(lambda v: f(v).sum())(kg.tensor([0.3, 1.2]))
    np.testing.assert_array_equal(arr(g), arr(t.grad))
    torch_f = {"round": lambda v: torch.round(v * 2), "sign": lambda v: torch.sign(v - 0.5),
               "floor": lambda v: torch.floor(torch.exp(v))}.get(name)   # (PyTorch has no heaviside derivative)
    if torch_f is not None:
        tt = torch.tensor([0.3, 1.2], requires_grad=True)
        torch_f(tt).sum().backward()
        np.testing.assert_array_equal(arr(t.grad), tt.grad.numpy())


def test_a_leaf_with_one_live_path_gets_that_gradient_and_no_warning():
    t = kg.tensor([0.3, 1.2], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", kg.NonDifferentiableWarning)
        (kg.round(t * 2) + t * t).sum().backward()
    np.testing.assert_allclose(arr(t.grad), [0.6, 2.4], rtol=1e-6)


# ================================================================================================
# 3. containers keep the graph and the dtype
# ================================================================================================
def test_reductions_of_lists_holding_tensors_keep_the_graph():
    x = kg.tensor([1.0, 2.0], requires_grad=True)
    g = kg.grad(lambda v: kg.mean([v[0], 1.0, v[1] * 3]))(x)
    np.testing.assert_allclose(arr(g), [1 / 3, 1.0])
    assert kg.mean([x[0], 1.0]).dtype == np.float32


def test_tensor_and_as_tensor_of_tensors_keep_the_graph_and_the_dtype():
    x = kg.tensor([1.0, 2.0], requires_grad=True)
    for factory in (kg.tensor, kg.as_tensor):
        x.grad = None
        y = factory([x, 2 * x])
        assert y.dtype == np.float32 and y.shape == (2, 2)
        y.sum().backward()
        np.testing.assert_array_equal(arr(x.grad), [3.0, 3.0])
    leaf = kg.tensor([x, 2 * x], requires_grad=True)       # a new leaf from the values, as asked
    assert leaf.is_leaf and leaf.requires_grad


def test_stack_and_concatenate_with_numbers_keep_the_dtype():
    x = kg.tensor([1.0, 2.0], requires_grad=True)
    assert kg.stack([x[0], 1.0, 2]).dtype == np.float32
    assert kg.concatenate([x, np.array([3.0], dtype=np.float32)]).dtype == np.float32


def test_linspace_with_tensor_endpoints_is_differentiable_like_torch():
    a = kg.tensor(1.0, dtype="float64", requires_grad=True)
    b = kg.tensor(3.0, dtype="float64", requires_grad=True)
    w = np.array([1.0, -2.0, 0.5, 4.0, 3.0])
    (kg.linspace(a, b, 5) * w).sum().backward()
    ta = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    ((ta + (tb - ta) * torch.linspace(0, 1, 5, dtype=torch.float64)) * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose([arr(a.grad), arr(b.grad)], [ta.grad.numpy(), tb.grad.numpy()], rtol=1e-12)
    np.testing.assert_allclose(arr(kg.linspace(a, b, 5)), np.linspace(1.0, 3.0, 5), rtol=1e-15)


def test_a_complex_operand_raises_at_the_op():
    x = kg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="multiply: complex values are not differentiable"):
        x * np.array([1j, 2.0])


# ================================================================================================
# 4. degenerate points through the policy
# ================================================================================================
@pytest.mark.parametrize("preset, expected", [("default", 0.0), ("torch", 0.0), ("jax", np.nan),
                                              ("tensorflow", np.nan)])
def test_std_at_zero_spread_is_a_declared_kink(preset, expected):
    g = kg.grad(kg.std, kinks=preset)(np.array([2.0, 2.0, 2.0]))
    np.testing.assert_array_equal(arr(g), [expected] * 3)
    with kg.audit() as report:
        kg.grad(kg.std)(np.array([2.0, 2.0, 2.0]))
    assert any(r["op"] == "std" and r["at_kink"] for r in report.rows.values())


def test_std_at_zero_spread_matches_pytorch_and_elsewhere_too():
    x = np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]])
    g = kg.grad(lambda v: kg.std(v, axis=1, ddof=1).sum(), kinks="torch")(x)
    t = torch.tensor(x, requires_grad=True)
    torch.std(t, dim=1).sum().backward()
    np.testing.assert_allclose(arr(g), t.grad.numpy(), rtol=1e-12)


def _tie_rows(seed, count=300, longest=30):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        n = int(rng.integers(1, longest + 1))
        yield rng.integers(0, int(rng.integers(1, 5)), n).astype(float)


def test_median_along_an_axis_follows_pytorch_at_ties():
    assert arr(kg.grad(lambda v: kg.median(v, axis=0), kinks="torch")(np.array([-2.0, 0.0, -2.0]))).tolist() \
        == [0.0, 0.0, 1.0]
    for row in _tie_rows(0):
        t = torch.tensor(row[None], requires_grad=True)
        torch.median(t, dim=1)[0].sum().backward()
        g = kg.grad(lambda v: kg.median(v, axis=1).sum(), kinks="torch")(row[None])
        np.testing.assert_array_equal(arr(g), t.grad.numpy(), err_msg=str(row))
        tf = torch.tensor(row, requires_grad=True)
        torch.median(tf).backward()
        np.testing.assert_allclose(arr(kg.grad(kg.median, kinks="torch")(row)), tf.grad.numpy(), rtol=1e-15)


@pytest.mark.parametrize("q", [0.0, 0.25, 0.5, 0.9, 1.0])
def test_quantile_along_an_axis_follows_pytorch_at_ties(q):
    """PyTorch's quantile sorts with its unstable sort: up to 16 elements it keeps index order among
    ties (what the torch preset reproduces); longer rows go to a vectorized sort whose tie order
    depends on the CPU's SIMD width, which no preset can promise (README, kink conventions)."""
    for row in _tie_rows(1, 100, longest=16):
        t = torch.tensor(row[None], requires_grad=True)
        torch.quantile(t, q, dim=1).sum().backward()
        g = kg.grad(lambda v: kg.quantile(v, q, axis=1).sum(), kinks="torch")(row[None])
        np.testing.assert_allclose(arr(g), t.grad.numpy(), rtol=1e-12, err_msg=str(row))


# ================================================================================================
# 5. validation
# ================================================================================================
def test_a_hook_returning_another_shape_or_dtype_raises_naming_it():
    x = kg.tensor([1.0, 2.0], requires_grad=True)

    def widen(g):
        return kg.tensor([1.0, 2.0, 3.0])

    x.register_hook(widen)
    with pytest.raises(RuntimeError, match=r"hook .*widen.* shape \(3,\)"):
        (x * x).sum().backward()
    y = kg.tensor([1.0, 2.0], requires_grad=True)
    y.register_hook(lambda g: kg.tensor(g.data.astype(np.float64)))
    with pytest.raises(RuntimeError, match="float64"):
        (y * y).sum().backward()


@pytest.mark.parametrize("kwargs, message", [
    ({"reluu": 1.0}, "did you mean 'relu'"),
    ({"median": "lowr"}, "did you mean 'lower'"),
    ({"ties": "frist"}, "ties='frist'"),
    ({"singular": "inf"}, "singular='inf'"),
])
def test_policy_words_are_checked_with_suggestions(kwargs, message):
    with pytest.raises(ValueError, match=message):
        with kg.kinks(**kwargs):
            pass
    with pytest.raises(ValueError, match=message):
        kg.set_kinks(**kwargs)
    assert kg.get_kinks().preset == "default"


def test_op_specific_rule_words_work_for_users():
    x = np.array([[1.0, 3.0, 2.0, 4.0]])
    lower = kg.grad(lambda v: kg.median(v, axis=1).sum(), kinks={"median": "lower"})(x)
    upper = kg.grad(lambda v: kg.median(v, axis=1).sum(), kinks={"median": "upper"})(x)
    np.testing.assert_array_equal(arr(lower), [[0.0, 0.0, 1.0, 0.0]])
    np.testing.assert_array_equal(arr(upper), [[0.0, 1.0, 0.0, 0.0]])


# ================================================================================================
# 6. forward mode keeps dtypes
# ================================================================================================
def _float_specs():
    """The first case of every spec whose first differentiable argument is a float array."""
    for spec in SPECS:
        case, shapes = cases(spec)[0]
        if np.asarray(sample(spec, case, shapes)[spec.diff[0]]).dtype.kind == "f":
            yield pytest.param(spec, case, shapes, id=spec.name)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("spec, case, shapes", list(_float_specs()))
def test_forward_mode_tangents_keep_the_output_dtype(spec, case, shapes, dtype):
    args = sample(spec, case, shapes)
    xs = [np.asarray(a, dtype=dtype) if np.asarray(a).dtype.kind == "f" else a for a in args]
    i = spec.diff[0]

    def f(v):
        full = list(xs)
        full[i] = v
        return spec.kg(*[kg.tensor(a) if j != i else v for j, a in enumerate(full)])

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        out, tangent = kg.jvp(f, (xs[i],), (np.ones_like(xs[i]),))
    outs = out if isinstance(out, tuple) else (out,)
    tangents = tangent if isinstance(tangent, tuple) else (tangent,)
    for o, t in zip(outs, tangents):
        if o.dtype.kind == "f":
            assert t.dtype == o.dtype, f"{spec.name} in {dtype}: tangent {t.dtype} for an output of {o.dtype}"


# ================================================================================================
# 7. edge cases
# ================================================================================================
def test_vjp_of_a_function_returning_a_constant_array():
    out, pullback = kg.vjp(lambda v: np.ones(3), kg.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(arr(out), np.ones(3))
    np.testing.assert_array_equal(arr(pullback(np.ones(3))[0]), np.zeros(3))


def test_a_string_operand_raises_a_clean_type_error():
    with pytest.raises(TypeError, match=r"add: .*inputs: \(1,\) float32, str"):
        kg.tensor([1.0]) + "a"


def test_a_float_axis_is_refused_naming_the_op():
    with pytest.raises(TypeError, match="sum: axis must be an int"):
        kg.sum(kg.tensor([[1.0, 2.0]]), axis=1.5)


# ================================================================================================
# 8. anomaly mode
# ================================================================================================
def test_anomaly_mode_names_the_op_and_line_that_made_a_nan_gradient():
    x = kg.tensor([0.0, 1.0, 4.0], requires_grad=True)
    with kg.detect_anomaly():
        y = kg.sqrt(x).sum()                       # d sqrt / dx at 0 is inf
        with pytest.raises(FloatingPointError, match=r"sqrt \(created at .*test_reliability.py:\d+\).*inf"):
            y.backward()
    kg.sqrt(x).sum().backward()                     # off: the answer (inf) comes back silently, as before
    assert np.isinf(arr(x.grad)[0])


def test_anomaly_mode_catches_raw_numpy_writes_to_saved_values():
    a = kg.tensor([1.0, 2.0], requires_grad=True)
    with kg.detect_anomaly():
        b = (a * a).sum()
        a.data[0] = 5.0                              # bypasses kinkgrad: no version stamp
        with pytest.raises(RuntimeError, match=r"multiply \(created at .*\): input 0 .*bypassed kinkgrad"):
            b.backward()


def test_set_detect_anomaly_is_process_wide_and_off_by_default():
    assert not kg.is_anomaly_enabled()
    try:
        kg.set_detect_anomaly(True)
        assert kg.is_anomaly_enabled()
        x = kg.tensor([0.0], requires_grad=True)
        with pytest.raises(FloatingPointError, match="log"), np.errstate(divide="ignore"):
            kg.log(x).sum().backward()
    finally:
        kg.set_detect_anomaly(False)
    assert not kg.is_anomaly_enabled()
