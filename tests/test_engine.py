"""Engine behaviour: error messages, grad mode, graph lifetime, hooks, deep graphs, the functional
transforms (nesting, hessian, jacobian, hvp, argnums, has_aux, vjp/jvp with tuples) and dtypes.

Tolerances: float64 results that are exact in exact arithmetic are compared at rtol 1e-12 (a few
hundred eps64 = 2.2e-16 for the handful of operations involved); comparisons with PyTorch's float64
at rtol 1e-10 (different summation orders); float32 dtype checks are exact.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

import kinkgrad as kg

RTOL64 = 1e-12
RTOL_TORCH64 = 1e-10


def arr(t):
    return t.data if isinstance(t, kg.Tensor) else np.asarray(t)


def f64(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# -- shape errors name the op and both shapes -----------------------------------------------------
BINARY_SHAPE_ERRORS = [
    # (op name expected in the message, callable, shape a, shape b)
    ("add", lambda a, b: a + b, (2,), (3,)),
    ("add", kg.add, (2, 3), (3, 2)),
    ("subtract", lambda a, b: a - b, (2,), (3,)),
    ("multiply", lambda a, b: a * b, (4, 2), (3,)),
    ("divide", lambda a, b: a / b, (2,), (3,)),
    ("power", kg.power, (2,), (3,)),
    ("maximum", kg.maximum, (2,), (3,)),
    ("minimum", kg.minimum, (2,), (3,)),
    ("where", lambda a, b: kg.where(np.ones(2, bool), a, b), (2,), (3,)),
    ("matmul", kg.matmul, (2, 3), (4, 5)),
    ("matmul", lambda a, b: a @ b, (2, 2, 3), (3, 3, 4)),
    ("concatenate", lambda a, b: kg.concatenate([a, b]), (2, 3), (4, 5)),
    ("stack", lambda a, b: kg.stack([a, b]), (2, 3), (3, 2)),
    ("einsum", lambda a, b: kg.einsum("ij,jk->ik", a, b), (2, 3), (4, 5)),
]


@pytest.mark.parametrize("op, fn, sa, sb", BINARY_SHAPE_ERRORS,
                         ids=[f"{e[0]}-{e[2]}-{e[3]}" for e in BINARY_SHAPE_ERRORS])
def test_shape_error_names_op_and_both_shapes(op, fn, sa, sb):
    a, b = kg.tensor(np.ones(sa)), kg.tensor(np.ones(sb))
    with pytest.raises(ValueError) as info:
        fn(a, b)
    msg = str(info.value)
    assert op in msg, msg
    assert str(sa) in msg and str(sb) in msg, msg


UNARY_SHAPE_ERRORS = [
    # (callable, input shape, substrings the message must contain)
    (lambda x: kg.reshape(x, (4, 5)), (2, 3), ["reshape", "(2, 3)", "(4, 5)"]),
    (lambda x: kg.broadcast_to(x, (4, 5)), (2, 3), ["broadcast_to", "(2, 3)", "(4, 5)"]),
    (lambda x: kg.squeeze(x, 1), (2, 3), ["squeeze", "(2, 3)", "axis 1"]),
    (lambda x: kg.transpose(x, (0, 0)), (2, 3), ["transpose", "(2, 3)", "(0, 0)"]),
    (lambda x: kg.split(x, 4, axis=1), (2, 3), ["split", "(2, 3)", "4"]),
    (lambda x: kg.sum(x, axis=2), (2, 3), ["sum", "axis 2", "2 dimension"]),
    (lambda x: x[5], (2, 3), ["getitem", "(2, 3)", "5"]),
]


@pytest.mark.parametrize("fn, shape, needles", UNARY_SHAPE_ERRORS, ids=[e[2][0] for e in UNARY_SHAPE_ERRORS])
def test_unary_shape_error_names_op_and_shape(fn, shape, needles):
    with pytest.raises((ValueError, IndexError)) as info:
        fn(kg.tensor(np.ones(shape)))
    msg = str(info.value)
    for needle in needles:
        assert needle in msg, msg


# -- dtype errors -------------------------------------------------------------------------------
INT_REQUIRES_GRAD = [
    ("tensor_int", lambda: kg.tensor([1, 2], requires_grad=True)),
    ("tensor_int_ndarray", lambda: kg.tensor(np.arange(3), requires_grad=True)),
    ("tensor_bool", lambda: kg.tensor([True, False], requires_grad=True)),
    ("requires_grad_", lambda: kg.tensor([1, 2]).requires_grad_()),
    ("ones_int64", lambda: kg.ones(2, dtype=kg.int64, requires_grad=True)),
]


@pytest.mark.parametrize("make", [m for _, m in INT_REQUIRES_GRAD], ids=[n for n, _ in INT_REQUIRES_GRAD])
def test_requires_grad_on_non_float_raises_type_error(make):
    with pytest.raises(TypeError, match="floating"):
        make()


INT_TRANSFORMS = [
    ("grad_int_array", lambda: kg.grad(lambda x: kg.sum(x * x))(np.array([1, 2]))),
    ("grad_python_int", lambda: kg.grad(lambda x: x * x)(3)),
    ("grad_int_tensor", lambda: kg.grad(lambda x: kg.sum(x * x))(kg.tensor([1, 2]))),
    ("grad_argnums_int", lambda: kg.grad(lambda x, y: kg.sum(x * y), argnums=1)(np.ones(2), np.array([1, 2]))),
    ("vjp_int", lambda: kg.vjp(lambda x: x * 2.0, np.array([1, 2]))),
    ("jvp_int", lambda: kg.jvp(lambda x: x * 2.0, (np.array([1, 2]),), (np.array([1, 1]),))),
    ("jacobian_int", lambda: kg.jacobian(lambda x: x * 2.0)(np.array([1, 2]))),
]


@pytest.mark.parametrize("call", [c for _, c in INT_TRANSFORMS], ids=[n for n, _ in INT_TRANSFORMS])
def test_differentiating_wrt_integers_raises_type_error(call):
    with pytest.raises(TypeError, match="int64"):
        call()


def test_grad_of_non_scalar_function_raises():
    with pytest.raises(TypeError, match=r"scalar.*\(3,\)"):
        kg.grad(lambda x: x * 2.0)(np.ones(3))


def test_transform_argument_errors():
    with pytest.raises(ValueError, match="argnums"):
        kg.grad(lambda x: kg.sum(x), argnums=1)(np.ones(2))
    _, pullback = kg.vjp(lambda x: x * 2.0, np.ones(3))
    with pytest.raises(ValueError, match=r"\(2,\)"):
        pullback(np.ones(2))
    with pytest.raises(ValueError, match=r"\(2,\)"):
        kg.jvp(lambda x: x * 2.0, (np.ones(3),), (np.ones(2),))
    with pytest.raises(ValueError, match="mode"):
        kg.jacobian(lambda x: x, mode="sideways")


# -- backward: seeds, freeing, retaining, accumulating ------------------------------------------------
def test_backward_on_non_scalar_needs_grad():
    x = kg.tensor(f64(3), requires_grad=True)
    y = x * 2.0
    with pytest.raises(RuntimeError, match=r"scalar.*\(3,\)"):
        y.backward()
    with pytest.raises(RuntimeError, match="shape"):
        y.backward(np.ones(2))
    y.backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(arr(x.grad), [2.0, 4.0, 6.0])


def test_backward_on_tensor_without_graph_raises():
    with pytest.raises(RuntimeError, match="requires_grad"):
        (kg.tensor(f64(3)) * 2.0).sum().backward()


@pytest.mark.parametrize("make", [
    lambda x: kg.sum(x * x), lambda x: kg.sum(kg.exp(x) * 2.0), lambda x: kg.sum(x)],
    ids=["multiply", "exp", "sum"])
def test_second_backward_through_freed_graph_raises(make):
    x = kg.tensor(f64(3), requires_grad=True)
    y = make(x)
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_retain_graph_allows_second_backward_and_accumulates():
    xv = f64(3)
    x = kg.tensor(xv, requires_grad=True)
    y = kg.sum(kg.sin(x) * x)
    y.backward(retain_graph=True)
    first = arr(x.grad).copy()
    np.testing.assert_allclose(first, np.cos(xv) * xv + np.sin(xv), rtol=RTOL64)
    y.backward()
    np.testing.assert_allclose(arr(x.grad), 2 * first, rtol=RTOL64)


def test_grad_accumulates_across_backward_calls_and_zero_grad_resets():
    xv = f64(4)
    x = kg.tensor(xv, requires_grad=True)
    kg.sum(x * x).backward()
    kg.sum(x * 3.0).backward()
    np.testing.assert_allclose(arr(x.grad), 2 * xv + 3.0, rtol=RTOL64)
    x.zero_grad_()
    assert x.grad is None
    kg.sum(x * 3.0).backward()
    np.testing.assert_allclose(arr(x.grad), np.full(4, 3.0), rtol=RTOL64)


def test_grad_is_not_a_view_of_engine_buffers():
    x = kg.tensor(f64(3), requires_grad=True)
    kg.sum(x).backward()
    g = arr(x.grad)
    assert g.flags.writeable and g.base is None


def test_transforms_do_not_touch_dot_grad():
    x = kg.tensor(f64(3), requires_grad=True)
    g = kg.grad(lambda t: kg.sum(t * t))(x)
    np.testing.assert_allclose(arr(g), 2 * arr(x), rtol=RTOL64)
    assert x.grad is None


# -- grad mode, detach -----------------------------------------------------------------------------
def test_no_grad_and_enable_grad_contexts():
    x = kg.tensor(f64(3), requires_grad=True)
    assert kg.is_grad_enabled()
    with kg.no_grad():
        assert not kg.is_grad_enabled()
        y = x * 2.0
        assert not y.requires_grad and y.grad_fn is None
        with kg.enable_grad():
            assert kg.is_grad_enabled()
            z = x * 2.0
            assert z.requires_grad and z.grad_fn is not None
        assert not kg.is_grad_enabled()
    assert kg.is_grad_enabled()
    with pytest.raises(KeyError):
        with kg.no_grad():
            raise KeyError("boom")
    assert kg.is_grad_enabled(), "no_grad must restore the mode when the block raises"


def test_no_grad_and_enable_grad_as_decorators():
    x = kg.tensor(f64(3), requires_grad=True)

    @kg.no_grad()
    def frozen(t):
        return t * 2.0

    @kg.enable_grad()
    def live(t):
        return t * 2.0

    assert not frozen(x).requires_grad
    assert kg.is_grad_enabled()
    with kg.no_grad():
        out = live(x)
        assert not kg.is_grad_enabled()
    assert out.requires_grad
    kg.sum(out).backward()
    np.testing.assert_array_equal(arr(x.grad), np.full(3, 2.0))
    assert frozen.__name__ == "frozen"


@pytest.mark.parametrize("cut", [lambda t: t.detach(), kg.stop_gradient], ids=["detach", "stop_gradient"])
def test_detach_blocks_gradient_and_shares_data(cut):
    xv = f64(3)
    x = kg.tensor(xv, requires_grad=True)
    d = cut(x)
    assert not d.requires_grad and d.grad_fn is None
    assert np.shares_memory(arr(d), arr(x))
    kg.sum(x * d).backward()          # d/dx (x * const) = const = x
    np.testing.assert_allclose(arr(x.grad), xv, rtol=RTOL64)
    g = kg.grad(lambda t: kg.sum(t * cut(t)))(xv)
    np.testing.assert_allclose(arr(g), xv, rtol=RTOL64)


def test_grad_mode_is_thread_local():
    """A worker inside no_grad does not switch recording off in the main thread, and vice versa."""
    entered, release = threading.Event(), threading.Event()
    seen = {}

    def worker():
        with kg.no_grad():
            seen["enabled"] = kg.is_grad_enabled()
            entered.set()
            release.wait(10)
            seen["records"] = (kg.tensor(np.ones(2), requires_grad=True) * 2.0).requires_grad

    th = threading.Thread(target=worker)
    th.start()
    try:
        assert entered.wait(10)
        assert kg.is_grad_enabled()
        x = kg.tensor(f64(2), requires_grad=True)
        y = kg.sum(x * x)
        assert y.requires_grad
        y.backward()
        np.testing.assert_allclose(arr(x.grad), 2 * arr(x), rtol=RTOL64)
    finally:
        release.set()
        th.join(10)
    assert seen == {"enabled": False, "records": False}

    # the other way round: the main thread is in no_grad, a fresh worker records as usual
    result = {}

    def recorder():
        result["records"] = (kg.tensor(np.ones(2), requires_grad=True) * 2.0).requires_grad

    with kg.no_grad():
        th = threading.Thread(target=recorder)
        th.start()
        th.join(10)
        assert not kg.is_grad_enabled()
    assert result == {"records": True}


# -- hooks ---------------------------------------------------------------------------------------
def test_hook_on_leaf_modifies_gradient_and_can_be_removed():
    xv = f64(3)
    x = kg.tensor(xv, requires_grad=True)
    seen = []
    handle = x.register_hook(lambda g: g * 2.0)
    x.register_hook(lambda g: seen.append(arr(g).copy()))   # returns None: observes only
    kg.sum(x * x).backward()
    np.testing.assert_allclose(arr(x.grad), 4 * xv, rtol=RTOL64)
    np.testing.assert_allclose(seen[0], 4 * xv, rtol=RTOL64)   # hooks run in registration order
    handle.remove()
    x.zero_grad_()
    kg.sum(x * x).backward()
    np.testing.assert_allclose(arr(x.grad), 2 * xv, rtol=RTOL64)


def test_hook_on_intermediate_modifies_what_flows_upstream():
    xv = f64(3)
    x = kg.tensor(xv, requires_grad=True)
    y = x * 3.0
    seen = []

    def hook(g):
        seen.append(arr(g).copy())
        return g * 10.0

    y.register_hook(hook)
    kg.sum(y * y).backward()
    np.testing.assert_allclose(seen[0], 2 * 3.0 * xv, rtol=RTOL64)         # d(y.y)/dy = 2y
    np.testing.assert_allclose(arr(x.grad), 10.0 * 18.0 * xv, rtol=RTOL64)  # 10 * 2y * 3


def test_register_hook_needs_requires_grad():
    with pytest.raises(RuntimeError):
        kg.tensor(f64(2)).register_hook(lambda g: g)


# -- deep graphs ---------------------------------------------------------------------------------
@pytest.mark.parametrize("step, slope", [(lambda y: y * 1.0000001, 1.0000001 ** 200_000), (lambda y: y + 0.0, 1.0)],
                         ids=["mul", "add"])
def test_deep_chain_backprops_without_recursion(step, slope):
    n = 200_000
    x = kg.tensor(np.array(1.5), requires_grad=True)
    y = x
    for _ in range(n):
        y = step(y)
    y.backward()
    # 200k roundings of ~1.1e-16 each: relative error <= 200k * eps64 ~ 4.4e-11
    np.testing.assert_allclose(arr(x.grad), slope, rtol=1e-9)
    del y   # tearing down a 200k-deep graph must not overflow the C stack either
    g = kg.grad(lambda t: kg.sum(_chain(t, n, step)))(np.array(2.0))
    np.testing.assert_allclose(arr(g), slope, rtol=1e-9)


def _chain(t, n, step):
    for _ in range(n):
        t = step(t)
    return t


# -- higher order ----------------------------------------------------------------------------------
@pytest.mark.parametrize("x0", [-1.5, 0.0, 0.5, 2.0])
def test_nested_grad_of_cube(x0):
    x = np.float64(x0)
    cube = lambda t: t ** 3  # noqa: E731
    np.testing.assert_allclose(arr(kg.grad(cube)(x)), 3 * x0 ** 2, rtol=RTOL64, atol=1e-300)
    np.testing.assert_allclose(arr(kg.grad(kg.grad(cube))(x)), 6 * x0, rtol=RTOL64, atol=1e-300)
    np.testing.assert_allclose(arr(kg.grad(kg.grad(kg.grad(cube)))(x)), 6.0, rtol=RTOL64)
    np.testing.assert_allclose(arr(kg.grad(kg.grad(lambda t: t * t * t))(x)), 6 * x0, rtol=RTOL64, atol=1e-300)


A = np.array([[0.3, -1.2, 0.5], [0.8, 0.1, -0.4], [-0.6, 0.9, 0.7], [0.2, 0.4, -1.1]])


def kg_scalar(x):
    """A non-separable scalar function (dense Hessian)."""
    return kg.sum(kg.tanh(kg.matmul(A, x)) * kg.sum(x * x)) + kg.logsumexp(x * 1.5) + kg.sum(kg.sin(x) * x[::-1])


def torch_scalar(x):
    At = torch.tensor(A)
    return (torch.tanh(At @ x) * (x * x).sum()).sum() + torch.logsumexp(x * 1.5, 0) + (torch.sin(x) * x.flip(0)).sum()


def kg_vector(x):
    """R^(2, 3) -> R^(4,)"""
    v = kg.reshape(x, (-1,))[:3] + kg.reshape(x, (-1,))[3:] ** 2
    return kg.tanh(kg.matmul(A, v)) * kg.exp(kg.sum(x) * 0.1)


def torch_vector(x):
    v = x.reshape(-1)[:3] + x.reshape(-1)[3:] ** 2
    return torch.tanh(torch.tensor(A) @ v) * torch.exp(x.sum() * 0.1)


X3 = np.array([0.4, -0.7, 1.1])
X23 = np.array([[0.4, -0.7, 1.1], [0.3, 0.9, -0.2]])


def test_scalar_reference_values_agree():
    """Guard: the kinkgrad and torch test functions are the same function."""
    np.testing.assert_allclose(arr(kg_scalar(kg.tensor(X3))), torch_scalar(torch.tensor(X3)).item(), rtol=1e-14)
    np.testing.assert_allclose(arr(kg_vector(kg.tensor(X23))), torch_vector(torch.tensor(X23)).numpy(), rtol=1e-14)


def test_hessian_matches_torch():
    expected = torch.autograd.functional.hessian(torch_scalar, torch.tensor(X3)).numpy()
    h = kg.hessian(kg_scalar)(X3)
    assert arr(h).shape == (3, 3)
    np.testing.assert_allclose(arr(h), expected, rtol=RTOL_TORCH64, atol=RTOL_TORCH64)


def test_grad_of_grad_hessian_rows_match_torch():
    """The same Hessian by reverse-over-reverse, one row per basis vector."""
    expected = torch.autograd.functional.hessian(torch_scalar, torch.tensor(X3)).numpy()
    g = kg.grad(kg_scalar)
    rows = [arr(kg.grad(lambda x, e=e: kg.sum(g(x) * e))(X3)) for e in np.eye(3)]
    np.testing.assert_allclose(np.stack(rows), expected, rtol=RTOL_TORCH64, atol=RTOL_TORCH64)


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_jacobian_matches_torch(mode):
    expected = torch.autograd.functional.jacobian(torch_vector, torch.tensor(X23)).numpy()
    j = kg.jacobian(kg_vector, mode=mode)(X23)
    assert arr(j).shape == (4, 2, 3)
    np.testing.assert_allclose(arr(j), expected, rtol=RTOL_TORCH64, atol=RTOL_TORCH64)


def test_jacobian_rev_equals_fwd():
    # both are exact; they differ only by float64 rounding of a few dozen operations
    np.testing.assert_allclose(arr(kg.jacobian(kg_vector, mode="rev")(X23)),
                               arr(kg.jacobian(kg_vector, mode="fwd")(X23)), rtol=RTOL64, atol=1e-15)


def test_hvp_matches_hessian_times_v():
    v = np.array([0.3, -1.0, 2.0])
    expected = torch.autograd.functional.hessian(torch_scalar, torch.tensor(X3)).numpy() @ v
    np.testing.assert_allclose(arr(kg.hvp(kg_scalar, (X3,), (v,))), expected,
                               rtol=RTOL_TORCH64, atol=RTOL_TORCH64)
    np.testing.assert_allclose(arr(kg.hvp(kg_scalar, (X3,), (v,))), arr(kg.hessian(kg_scalar)(X3)) @ v,
                               rtol=RTOL64, atol=1e-14)


HVP_MINIMAL = [
    # f, exact H v for x, v below
    ("exp_rule_uses_out", lambda t: kg.sum(kg.exp(t)), lambda x, v: np.exp(x) * v),
    ("cube_of_intermediate", lambda t: kg.sum((t * 2.0) ** 3), lambda x, v: 48 * x * v),
    ("cube_of_leaf", lambda t: kg.sum(t ** 3), lambda x, v: 6 * x * v),
]


@pytest.mark.parametrize("f, hv", [(f, h) for _, f, h in HVP_MINIMAL], ids=[n for n, _, _ in HVP_MINIMAL])
def test_hvp_minimal(f, hv):
    """Forward-over-reverse where derivative rules read ``out`` or an intermediate input."""
    x, v = np.array([0.5, -1.0]), np.array([1.0, 2.0])
    np.testing.assert_allclose(arr(kg.hvp(f, (x,), (v,))), hv(x, v), rtol=RTOL64)


def test_create_graph_backward_gives_differentiable_grad():
    xv = np.array([0.5, -1.5, 2.0])
    x = kg.tensor(xv, requires_grad=True)
    kg.sum(x ** 3).backward(create_graph=True)
    g = x.grad
    np.testing.assert_allclose(arr(g), 3 * xv ** 2, rtol=RTOL64)
    assert g.requires_grad and g.grad_fn is not None
    x.grad = None
    kg.sum(g).backward()
    np.testing.assert_allclose(arr(x.grad), 6 * xv, rtol=RTOL64)


# -- functional transform signatures ---------------------------------------------------------------
def three_args(x, y, z):
    return kg.sum(x * y) + kg.sum(z * z * y)


def test_argnums_tuple_and_negative():
    x, y, z = f64(3, seed=1), f64(3, seed=2), f64(3, seed=3)
    gx, gz = kg.grad(three_args, argnums=(0, 2))(x, y, z)
    np.testing.assert_allclose(arr(gx), y, rtol=RTOL64)
    np.testing.assert_allclose(arr(gz), 2 * z * y, rtol=RTOL64)
    (gy,) = kg.grad(three_args, argnums=(1,))(x, y, z)
    np.testing.assert_allclose(arr(gy), x + z * z, rtol=RTOL64)
    np.testing.assert_allclose(arr(kg.grad(three_args, argnums=-1)(x, y, z)), 2 * z * y, rtol=RTOL64)


def test_has_aux_and_value_and_grad():
    x = f64(3)

    def f(t):
        return kg.sum(t * t), {"note": "aux", "first": t[0]}

    g, aux = kg.grad(f, has_aux=True)(x)
    np.testing.assert_allclose(arr(g), 2 * x, rtol=RTOL64)
    assert aux["note"] == "aux"
    np.testing.assert_allclose(arr(aux["first"]), x[0], rtol=RTOL64)
    (value, aux2), g2 = kg.value_and_grad(f, has_aux=True)(x)
    np.testing.assert_allclose(arr(value), np.sum(x * x), rtol=RTOL64)
    np.testing.assert_allclose(arr(g2), 2 * x, rtol=RTOL64)
    assert aux2["note"] == "aux"
    value, g3 = kg.value_and_grad(lambda t: kg.sum(kg.sin(t)))(x)
    np.testing.assert_allclose(arr(value), np.sum(np.sin(x)), rtol=RTOL64)
    np.testing.assert_allclose(arr(g3), np.cos(x), rtol=RTOL64)


def test_vjp_and_jvp_with_tuple_outputs():
    x = f64(3)

    def f(t):
        return kg.sin(t), kg.sum(t * t)

    (a, b), pullback = kg.vjp(f, x)
    np.testing.assert_allclose(arr(a), np.sin(x), rtol=RTOL64)
    np.testing.assert_allclose(arr(b), np.sum(x * x), rtol=RTOL64)
    ca, cb = f64(3, seed=5), np.float64(0.7)
    (g,) = pullback((ca, cb))
    np.testing.assert_allclose(arr(g), np.cos(x) * ca + 2 * x * cb, rtol=RTOL64)
    with pytest.raises(ValueError, match="cotangent"):
        pullback((ca,))
    t = f64(3, seed=6)
    (a2, b2), (ta, tb) = kg.jvp(f, (x,), (t,))
    np.testing.assert_allclose(arr(ta), np.cos(x) * t, rtol=RTOL64)
    np.testing.assert_allclose(arr(tb), 2 * np.dot(x, t), rtol=RTOL64)


def test_vjp_with_several_primals():
    x, y = f64(3, seed=1), f64(3, seed=2)
    out, pullback = kg.vjp(lambda a, b: a * kg.exp(b), x, y)
    w = f64(3, seed=3)
    gx, gy = pullback(w)
    np.testing.assert_allclose(arr(gx), w * np.exp(y), rtol=RTOL64)
    np.testing.assert_allclose(arr(gy), w * x * np.exp(y), rtol=RTOL64)


# -- dtypes --------------------------------------------------------------------------------------
F32_FUNCS = [
    ("mul_python_float", lambda x: kg.sum(x * 2.5)),
    ("exp_tanh", lambda x: kg.sum(kg.exp(kg.tanh(x)))),
    ("float64_array_constant", lambda x: kg.sum(x * np.array([1.0, 2.0, 3.0]))),
    ("float64_matrix_matmul", lambda x: kg.sum(kg.matmul(np.ones((2, 3)), x))),
    ("relu_max_softmax", lambda x: kg.max(kg.softmax(kg.relu(x)))),
    ("norm", lambda x: kg.norm(x)),
]


@pytest.mark.parametrize("fn", [f for _, f in F32_FUNCS], ids=[n for n, _ in F32_FUNCS])
def test_float32_inputs_give_float32_gradients(fn):
    x32 = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    assert arr(kg.grad(fn)(x32)).dtype == np.float32
    t = kg.tensor(x32, requires_grad=True)
    fn(t).backward()
    assert arr(t.grad).dtype == np.float32
    _, pullback = kg.vjp(fn, x32)
    assert arr(pullback(np.float32(1.0))[0]).dtype == np.float32
    assert arr(kg.jacobian(fn)(x32)).dtype == np.float32


def test_float32_forward_stays_float32():
    x = kg.tensor(np.array([0.5, -1.0], dtype=np.float32))
    for y in (x * 2.5, x + 1, 2.0 ** x, kg.exp(x), kg.sigmoid(x), kg.softplus(x), kg.erf(x), kg.gelu(x),
              kg.mean(x), kg.var(x), kg.elu(x), kg.leaky_relu(x)):
        assert y.dtype == np.float32, y
    _, t = kg.jvp(lambda v: kg.tanh(v) * 3.0, (np.float32([0.5, 1.0]),), (np.float32([1.0, 1.0]),))
    assert arr(t).dtype == np.float32
    assert arr(kg.hessian(lambda v: kg.sum(v ** 3))(np.float32([0.5, 1.0]))).dtype == np.float32


def test_python_float_input_to_grad_gives_float32():
    g = kg.grad(lambda x: x * x)(3.0)
    assert arr(g).dtype == np.float32
    assert arr(g) == np.float32(6.0)
    value, g2 = kg.value_and_grad(lambda x: kg.sin(x))(0.5)
    assert arr(value).dtype == np.float32 and arr(g2).dtype == np.float32
    np.testing.assert_allclose(arr(g2), np.cos(np.float32(0.5)), rtol=2e-7)   # ~1 ulp of float32
    assert kg.tensor(3.0).dtype == np.float32
    assert kg.tensor(np.float64(3.0)).dtype == np.float64     # NumPy inputs keep their dtype


def _grad_of_w_via_backward(x, **kw):
    """A function that calls .backward() itself and returns a .grad (x**2 * 3 here, as w.grad)."""
    w = kg.tensor(np.float64(2.0), requires_grad=True)
    (w * x ** 2 * 3).sum().backward(**kw)
    return w.grad


@pytest.mark.parametrize("transform", ["grad", "jvp"])
def test_plain_backward_inside_a_transform_is_refused_with_the_ways_out(transform):
    # the transform would differentiate .grad as a constant (zero tangent): a silent wrong answer
    x, t = kg.tensor(np.array([1.0, -2.0])), kg.tensor(np.array([0.5, 1.0]))
    with pytest.raises(RuntimeError, match="create_graph=True.*kg.grad or kg.vjp.*kg.no_grad"):
        if transform == "grad":
            kg.grad(lambda v: _grad_of_w_via_backward(v))(x)
        else:
            kg.jvp(_grad_of_w_via_backward, (x,), (t,))


def test_backward_with_create_graph_inside_jvp_carries_tangents():
    x, t = np.array([1.0, -2.0]), np.array([0.5, 1.0])
    out, tangent = kg.jvp(lambda v: _grad_of_w_via_backward(v, create_graph=True), (kg.tensor(x),),
                          (kg.tensor(t),))
    np.testing.assert_allclose(out.data, np.sum(3 * x ** 2), rtol=1e-15)
    np.testing.assert_allclose(tangent.data, np.sum(6 * x * t), rtol=1e-15)     # d/dx sum(3 x^2) . t


def test_backward_with_create_graph_inside_grad_is_differentiated_through():
    x = np.array([1.0, -2.0])
    g = kg.grad(lambda v: _grad_of_w_via_backward(v, create_graph=True))(kg.tensor(x))
    np.testing.assert_allclose(g.data, 6 * x, rtol=1e-15)


def test_backward_under_no_grad_inside_a_transform_runs_plainly():
    def f(v):
        w = kg.tensor(np.float64(2.0), requires_grad=True)
        loss = (w * v ** 2).sum()
        with kg.no_grad():
            loss.backward()                  # a gradient the transform does not depend on (logging, say)
        assert not w.grad.requires_grad
        return (v * v).sum()
    np.testing.assert_allclose(kg.grad(f)(kg.tensor(np.array([1.0, 3.0]))).data, [2.0, 6.0], rtol=1e-15)


def test_backward_with_an_array_seed_and_create_graph_gives_tensor_grads():
    w = kg.tensor(np.array([1.0, 1.0]), requires_grad=True)
    (w * 3.0).backward(grad=np.array([1.0, 2.0]), create_graph=True)
    assert isinstance(w.grad, kg.Tensor)
    np.testing.assert_allclose(w.grad.data, [3.0, 6.0], rtol=1e-15)
