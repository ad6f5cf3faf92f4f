"""Custom derivatives in the four styles (``kg.custom_gradient``, ``kg.Function``, ``kg.custom_vjp``,
``kg.custom_jvp``): each style re-implements a few built-in compositions and must agree with the
built-in in value, first derivative, second derivative (grad of grad, Hessian) and, where the style
has a forward rule, forward mode. Then the parts of each API: nondiff_argnums, several outputs,
mark_non_differentiable, needs_input_grad, None gradients, once-differentiable NumPy rules, error
messages (wrong arity, wrong shapes), no_grad, broadcasting.

Tolerances: the custom rules and the built-ins compute the same float64 expressions in a possibly
different order (e.g. cos(x) x + sin(x) vs the product rule's sum), so they agree to a few ulps;
RTOL = 1e-12 with ATOL = 1e-14 (for entries that are exactly 0 in one and ~1e-17 in the other).
Comparisons with PyTorch float64 use the same bounds.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import kinkgrad as kg

RTOL, ATOL = 1e-12, 1e-14


def arr(t):
    return t.data if isinstance(t, kg.Tensor) else np.asarray(t)


def close(a, b, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(arr(a), arr(b), rtol=rtol, atol=atol)


def rnd(*shape, seed=0, scale=1.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


# -- the compositions: forward, reverse rule, forward rule, all in kinkgrad ops ----------------------
class Spec:
    def __init__(self, name, n_in, fun, vjp, jvp, builtin):
        self.name, self.n_in, self.fun, self.vjp, self.jvp, self.builtin = name, n_in, fun, vjp, jvp, builtin


SPECS = {
    "sin_x": Spec("sin_x", 1,
                  lambda x: kg.sin(x) * x,
                  lambda xs, g: (g * (kg.cos(xs[0]) * xs[0] + kg.sin(xs[0])),),
                  lambda xs, ts: ts[0] * (kg.cos(xs[0]) * xs[0] + kg.sin(xs[0])),
                  lambda x: kg.sin(x) * x),
    "cube": Spec("cube", 1,
                 lambda x: x * x * x,
                 lambda xs, g: (g * 3 * xs[0] ** 2,),
                 lambda xs, ts: ts[0] * 3 * xs[0] ** 2,
                 lambda x: x ** 3),
    "softplus": Spec("softplus", 1,
                     lambda x: kg.log1p(kg.exp(x)),
                     lambda xs, g: (g * kg.sigmoid(xs[0]),),
                     lambda xs, ts: ts[0] * kg.sigmoid(xs[0]),
                     lambda x: kg.softplus(x)),
    "xy_plus_y": Spec("xy_plus_y", 2,
                      lambda x, y: x * y + y,
                      lambda xs, g: (g * xs[1], g * (xs[0] + 1)),
                      lambda xs, ts: ts[0] * xs[1] + ts[1] * (xs[0] + 1),
                      lambda x, y: x * y + y),
}
UNARY = ["sin_x", "cube", "softplus"]
STYLES = ["custom_gradient", "Function", "custom_vjp", "custom_jvp"]
FORWARD_STYLES = {"Function", "custom_jvp"}      # styles that carry a forward rule here


def _named(fn, name):
    fn.__name__ = fn.__qualname__ = name
    return fn


def make(style, spec, with_jvp=True):
    """The custom op ``spec`` in ``style``; its user-visible name contains ``spec.name``."""
    if style == "custom_gradient":
        def f(*xs):
            return spec.fun(*xs), lambda g: spec.vjp(xs, g)
        return kg.custom_gradient(_named(f, spec.name))
    if style == "Function":
        def forward(ctx, *xs):
            ctx.save_for_backward(*xs)
            return spec.fun(*xs)

        def backward(ctx, g):
            return spec.vjp(ctx.saved_tensors, g)

        body = {"forward": staticmethod(forward), "backward": staticmethod(backward)}
        if with_jvp:
            body["jvp"] = staticmethod(lambda ctx, *ts: spec.jvp(ctx.saved_tensors, ts))
        return type(spec.name, (kg.Function,), body).apply
    if style == "custom_vjp":
        f = kg.custom_vjp(_named(lambda *xs: spec.fun(*xs), spec.name))
        f.defvjp(lambda *xs: (spec.fun(*xs), xs), lambda res, g: spec.vjp(res, g))
        return f
    if style == "custom_jvp":
        f = kg.custom_jvp(_named(lambda *xs: spec.fun(*xs), spec.name))

        @f.defjvp
        def rule(primals, tangents):
            return spec.fun(*primals), spec.jvp(primals, tangents)
        return f
    raise AssertionError(style)


def inputs(spec, seed=0):
    if spec.n_in == 1:
        return (rnd(7, seed=seed, scale=1.5),)
    return rnd(5, seed=seed), rnd(5, seed=seed + 1)        # broadcasting pairs: section 8


def weights(spec, xs, seed=10):
    shape = np.broadcast_shapes(*[np.shape(x) for x in xs])
    return rnd(*shape, seed=seed)


CASES = [(s, o) for s in STYLES for o in SPECS]
IDS = [f"{s}-{o}" for s, o in CASES]


# -- 1. value, first and second derivatives vs the built-in -------------------------------------
@pytest.mark.parametrize("style, op", CASES, ids=IDS)
def test_value_matches_builtin(style, op):
    spec = SPECS[op]
    f = make(style, spec)
    xs = inputs(spec)
    out = f(*[kg.tensor(x) for x in xs])
    close(out, spec.builtin(*[kg.tensor(x) for x in xs]))
    assert out.dtype == np.float64


def _argnums(spec):
    return tuple(range(spec.n_in)) if spec.n_in > 1 else 0


def _as_tuple(g):
    return g if isinstance(g, tuple) else (g,)


@pytest.mark.parametrize("style, op", CASES, ids=IDS)
def test_first_derivative_matches_builtin(style, op):
    spec = SPECS[op]
    f = make(style, spec)
    xs = inputs(spec)
    w = weights(spec, xs)
    got = kg.grad(lambda *a: kg.sum(w * f(*a)), argnums=_argnums(spec))(*xs)
    want = kg.grad(lambda *a: kg.sum(w * spec.builtin(*a)), argnums=_argnums(spec))(*xs)
    for g, h, x in zip(_as_tuple(got), _as_tuple(want), xs):
        assert g.shape == np.shape(x)
        close(g, h)


@pytest.mark.parametrize("style, op", CASES, ids=IDS)
def test_backward_method_matches_builtin(style, op):
    """The tape API (``.backward()`` into ``.grad``) as well as the functional one."""
    spec = SPECS[op]
    f = make(style, spec)
    xs = inputs(spec)
    w = weights(spec, xs)
    a = [kg.tensor(x, requires_grad=True) for x in xs]
    b = [kg.tensor(x, requires_grad=True) for x in xs]
    kg.sum(w * f(*a)).backward()
    kg.sum(w * spec.builtin(*b)).backward()
    for ta, tb in zip(a, b):
        close(ta.grad, tb.grad)


@pytest.mark.parametrize("style, op", CASES, ids=IDS)
def test_grad_of_grad_matches_builtin(style, op):
    """The rules are written in kinkgrad ops, so they differentiate again."""
    spec = SPECS[op]
    f = make(style, spec)
    xs = inputs(spec)
    w = weights(spec, xs)
    v = rnd(*np.shape(xs[0]), seed=20)

    def second(fn):
        inner = kg.grad(lambda *a: kg.sum(w * fn(*a)), argnums=0)
        return kg.grad(lambda *a: kg.sum(v * inner(*a)), argnums=_argnums(spec))(*xs)

    for g, h in zip(_as_tuple(second(f)), _as_tuple(second(spec.builtin))):
        close(g, h)


@pytest.mark.parametrize("style, op", [(s, o) for s in STYLES for o in UNARY],
                         ids=[f"{s}-{o}" for s in STYLES for o in UNARY])
def test_reverse_over_reverse_hessian_matches_builtin(style, op):
    spec = SPECS[op]
    f = make(style, spec)
    (x,) = inputs(spec)
    w = rnd(*x.shape, seed=10)
    got = kg.jacobian(kg.grad(lambda a: kg.sum(w * f(a))), mode="rev")(x)
    want = kg.jacobian(kg.grad(lambda a: kg.sum(w * spec.builtin(a))), mode="rev")(x)
    assert got.shape == (x.size, x.size)
    close(got, want)


@pytest.mark.parametrize("style", STYLES)
def test_kg_hessian_matches_builtin(style):
    """``kg.hessian`` (forward-over-reverse) of a custom op whose rule is written in kinkgrad ops.
    The forward pass of the inner grad only needs the custom op's value, never a tangent of it, so
    a reverse-only rule must not stop the Hessian (PyTorch's hessian works through any Function)."""
    spec = SPECS["sin_x"]
    f = make(style, spec)
    (x,) = inputs(spec)
    w = rnd(*x.shape, seed=10)
    got = kg.hessian(lambda a: kg.sum(w * f(a)))(x)
    want = kg.hessian(lambda a: kg.sum(w * spec.builtin(a)))(x)
    close(got, want)


def test_hessian_of_two_input_custom_jvp():
    spec = SPECS["xy_plus_y"]
    f = make("custom_jvp", spec)
    x, y = rnd(4, seed=1), rnd(4, seed=2)
    for argnums in (0, 1):
        got = kg.hessian(lambda a, b: kg.sum(f(a, b) * a * b), argnums=argnums)(x, y)
        want = kg.hessian(lambda a, b: kg.sum(spec.builtin(a, b) * a * b), argnums=argnums)(x, y)
        close(got, want)


# -- 2. forward mode -----------------------------------------------------------------------------
@pytest.mark.parametrize("style, op", CASES, ids=IDS)
def test_forward_mode(style, op):
    spec = SPECS[op]
    f = make(style, spec)
    xs = inputs(spec)
    ts = tuple(rnd(*np.shape(x), seed=30 + i) for i, x in enumerate(xs))
    if style in FORWARD_STYLES:
        out, t = kg.jvp(f, xs, ts)
        out_b, t_b = kg.jvp(spec.builtin, xs, ts)
        close(out, out_b)
        assert t.shape == t_b.shape
        close(t, t_b)
    else:
        with pytest.raises(NotImplementedError) as info:
            kg.jvp(f, xs, ts)
        assert spec.name in str(info.value), str(info.value)


def test_function_without_jvp_raises_naming_the_class():
    spec = SPECS["cube"]
    f = make("Function", spec, with_jvp=False)
    with pytest.raises(NotImplementedError) as info:
        kg.jvp(f, (np.ones(3),), (np.ones(3),))
    assert "cube" in str(info.value)


@pytest.mark.parametrize("op", list(SPECS))
def test_custom_jvp_reverse_mode_is_the_transposed_rule(op):
    """A custom_jvp's pullback must be the transpose of its jvp rule: <ct, J t> == <J^T ct, t>
    for random tangents and cotangents, and J^T ct must equal the built-in's vjp."""
    spec = SPECS[op]
    f = make("custom_jvp", spec)
    xs = inputs(spec)
    ts = tuple(rnd(*np.shape(x), seed=40 + i) for i, x in enumerate(xs))
    out, jt = kg.jvp(f, xs, ts)
    ct = rnd(*out.shape, seed=50)
    _, pull = kg.vjp(f, *xs)
    cts = pull(ct)
    _, pull_b = kg.vjp(spec.builtin, *xs)
    for c, cb in zip(cts, pull_b(ct)):
        close(c, cb)
    lhs = float(np.sum(ct * arr(jt)))
    rhs = sum(float(np.sum(arr(c) * t)) for c, t in zip(cts, ts))
    assert lhs == pytest.approx(rhs, rel=1e-12, abs=1e-13)


def test_function_jvp_with_several_outputs():
    class SinCos(kg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return kg.sin(x), kg.cos(x)

        @staticmethod
        def backward(ctx, gs, gc):
            (x,) = ctx.saved_tensors
            return gs * kg.cos(x) - gc * kg.sin(x)

        @staticmethod
        def jvp(ctx, t):
            (x,) = ctx.saved_tensors
            return t * kg.cos(x), -t * kg.sin(x)

    x, t = rnd(5), rnd(5, seed=1)
    (s, c), (ts, tc) = kg.jvp(SinCos.apply, (x,), (t,))
    close(s, np.sin(x))
    close(c, np.cos(x))
    close(ts, t * np.cos(x))
    close(tc, -t * np.sin(x))
    jf = kg.jacobian(lambda v: kg.stack(SinCos.apply(v)), mode="fwd")(x)
    jr = kg.jacobian(lambda v: kg.stack(SinCos.apply(v)), mode="rev")(x)
    close(jf, jr)
    close(jr[0], np.diag(np.cos(x)))
    close(jr[1], np.diag(-np.sin(x)))


# -- 3. nondiff_argnums -------------------------------------------------------------------------
def test_custom_vjp_nondiff_argnums():
    seen = []

    def power(k, x):
        return x ** k

    f = kg.custom_vjp(power, nondiff_argnums=(0,))

    def bwd(k, res, g):
        seen.append(k)
        return (g * k * res ** (k - 1),)

    f.defvjp(lambda k, x: (x ** k, x), bwd)
    x = rnd(6)
    close(f(3, x), x ** 3)
    close(kg.grad(lambda a: kg.sum(f(3, a)))(x), 3 * x ** 2)
    assert seen == [3] and type(seen[0]) is int           # passed through untouched
    close(kg.grad(lambda a: kg.sum(kg.grad(lambda b: kg.sum(f(3, b)))(a)))(x), 6 * x)


def test_custom_vjp_nondiff_callable_and_middle_position():
    def apply_fn(fn, x):
        return fn(x)

    f = kg.custom_vjp(apply_fn, nondiff_argnums=(0,))
    f.defvjp(lambda fn, x: (fn(x), x), lambda fn, res, g: (g * kg.cos(res),) if fn is kg.sin else (g,))
    x = rnd(5)
    close(kg.grad(lambda a: kg.sum(f(kg.sin, a)))(x), np.cos(x))

    def affine(x, k, y):
        return x * k + y

    h = kg.custom_vjp(affine, nondiff_argnums=(1,))
    h.defvjp(lambda x, k, y: (affine(x, k, y), None), lambda k, res, g: (g * k, g))
    y = rnd(5, seed=1)
    gx, gy = kg.grad(lambda a, b: kg.sum(h(a, 2.5, b)), argnums=(0, 1))(x, y)
    close(gx, np.full(5, 2.5))
    close(gy, np.ones(5))


def test_custom_jvp_nondiff_argnums_both_modes():
    def power(k, x):
        return x ** k

    f = kg.custom_jvp(power, nondiff_argnums=(0,))
    ks = []

    @f.defjvp
    def rule(k, primals, tangents):
        ks.append(k)
        (x,), (t,) = primals, tangents
        return x ** k, k * x ** (k - 1) * t

    x, t = rnd(6), rnd(6, seed=1)
    out, tout = kg.jvp(lambda a: f(3, a), (x,), (t,))
    close(out, x ** 3)
    close(tout, 3 * x ** 2 * t)
    close(kg.grad(lambda a: kg.sum(f(3, a)))(x), 3 * x ** 2)
    close(kg.hessian(lambda a: kg.sum(f(3, a)))(x), np.diag(6 * x))
    assert set(ks) == {3}

    def affine(x, k, y):
        return x * k + y

    h = kg.custom_jvp(affine, nondiff_argnums=(1,))

    @h.defjvp
    def rule2(k, primals, tangents):
        return affine(primals[0], k, primals[1]), tangents[0] * k + tangents[1]

    y = rnd(6, seed=2)
    gx, gy = kg.grad(lambda a, b: kg.sum(h(a, 2.5, b)), argnums=(0, 1))(x, y)
    close(gx, np.full(6, 2.5))
    close(gy, np.ones(6))
    _, tt = kg.jvp(lambda a, b: h(a, 2.5, b), (x, y), (np.ones(6), np.ones(6)))
    close(tt, np.full(6, 3.5))


# -- 4. kg.Function: several outputs, mark_non_differentiable, needs_input_grad, None gradients ----
class SinCosArgmax(kg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        idx = kg.argmax(x)
        ctx.mark_non_differentiable(idx)
        return kg.sin(x), kg.cos(x), idx

    @staticmethod
    def backward(ctx, gs, gc, gi):
        (x,) = ctx.saved_tensors
        return gs * kg.cos(x) - gc * kg.sin(x)


def test_function_several_outputs_and_non_differentiable_index():
    x = rnd(6)
    xt = kg.tensor(x, requires_grad=True)
    s, c, i = SinCosArgmax.apply(xt)
    close(s, np.sin(x))
    close(c, np.cos(x))
    assert int(i.item()) == int(np.argmax(x))
    assert s.requires_grad and c.requires_grad and not i.requires_grad
    (2 * s + 3 * c).sum().backward()
    close(xt.grad, 2 * np.cos(x) - 3 * np.sin(x))
    # only one output used: the other gets a zero cotangent
    g = kg.grad(lambda a: kg.sum(SinCosArgmax.apply(a)[1]))(x)
    close(g, -np.sin(x))
    # second order through the multi-output rule
    g2 = kg.grad(lambda a: kg.sum(kg.grad(lambda b: kg.sum(SinCosArgmax.apply(b)[0]))(a)))(x)
    close(g2, -np.sin(x))


def test_mark_non_differentiable_float_output():
    class Pair(kg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            m = kg.sin(x) * 2
            ctx.mark_non_differentiable(m)
            return kg.sin(x), m

        @staticmethod
        def backward(ctx, gs, gm):
            (x,) = ctx.saved_tensors
            return gs * kg.cos(x)

    xt = kg.tensor(rnd(4), requires_grad=True)
    a, m = Pair.apply(xt)
    assert a.requires_grad and not m.requires_grad and m.grad_fn is None
    close(m, 2 * np.sin(xt.data))
    with pytest.raises(RuntimeError):
        m.sum().backward()


def test_needs_input_grad():
    seen = []

    class Scale(kg.Function):
        @staticmethod
        def forward(ctx, x, k, y):
            seen.append(ctx.needs_input_grad)
            ctx.k = k
            ctx.save_for_backward(x, y)
            return x * k * y

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            return (g * ctx.k * y if ctx.needs_input_grad[0] else None, None,
                    g * ctx.k * x if ctx.needs_input_grad[2] else None)

    x = kg.tensor(rnd(3), requires_grad=True)
    y = kg.tensor(rnd(3, seed=1))
    Scale.apply(x, 2.0, y).sum().backward()
    assert seen[-1] == (True, False, False)
    close(x.grad, 2.0 * y.data)
    assert y.grad is None
    y2 = kg.tensor(rnd(3, seed=1), requires_grad=True)
    Scale.apply(x, 2.0, y2)
    assert seen[-1] == (True, False, True)
    with kg.no_grad():
        Scale.apply(x, 2.0, y2)
    assert seen[-1] == (False, False, False)
    gy = kg.grad(lambda b: kg.sum(Scale.apply(y.data, 2.0, b)))(y.data)
    assert seen[-1] == (False, False, True)
    close(gy, 2.0 * y.data)


def test_none_gradients_for_non_tensor_and_unused_args():
    class AddK(kg.Function):
        @staticmethod
        def forward(ctx, x, k, name):
            assert isinstance(k, float) and name == "tag"
            return x + k

        @staticmethod
        def backward(ctx, g):
            return g, None, None

    x = rnd(4)
    close(kg.grad(lambda a: kg.sum(AddK.apply(a, 1.5, "tag")))(x), np.ones(4))

    @kg.custom_gradient
    def first_only(a, b):
        return a * 2 + b, lambda g: (g * 2, None)

    ga, gb = kg.grad(lambda a, b: kg.sum(first_only(a, b)), argnums=(0, 1))(x, x)
    close(ga, np.full(4, 2.0))
    np.testing.assert_array_equal(arr(gb), np.zeros(4))      # None = zero cotangent

    def add(a, b):
        return a + b

    f = kg.custom_vjp(add)
    f.defvjp(lambda a, b: (a + b, None), lambda res, g: (g, None))
    ga, gb = kg.grad(lambda a, b: kg.sum(f(a, b)), argnums=(0, 1))(x, x)
    close(ga, np.ones(4))
    np.testing.assert_array_equal(arr(gb), np.zeros(4))


# -- 5. once-differentiable NumPy rules -----------------------------------------------------------
class NpSquareDecorated(kg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.x = np.array(arr(x))
        return x * x

    @staticmethod
    @kg.once_differentiable
    def backward(ctx, g):
        assert isinstance(g, np.ndarray)            # the decorator hands NumPy arrays in
        return 2 * ctx.x * g


class NpSquareRaw(kg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.x = np.array(arr(x))
        return x * x

    @staticmethod
    def backward(ctx, g):
        return 2 * ctx.x * arr(g)                  # returns a NumPy array


@kg.custom_gradient
def np_square_cg(x):
    return x * x, lambda g: 2 * arr(x) * arr(g)


def _np_square_vjp():
    def np_square_vjp(x):
        return x * x

    f = kg.custom_vjp(np_square_vjp)
    f.defvjp(lambda x: (x * x, np.array(arr(x))), lambda res, g: (2 * res * arr(g),))
    return f


NUMPY_RULES = {
    "NpSquareDecorated": NpSquareDecorated.apply,
    "NpSquareRaw": NpSquareRaw.apply,
    "np_square_cg": np_square_cg,
    "np_square_vjp": _np_square_vjp(),
}


@pytest.mark.parametrize("name", list(NUMPY_RULES))
def test_numpy_rule_first_derivative_fine_second_raises(name):
    f = NUMPY_RULES[name]
    x = rnd(5)
    close(kg.grad(lambda a: kg.sum(f(a)))(x), 2 * x)
    xt = kg.tensor(x, requires_grad=True)
    f(xt).sum().backward()
    close(xt.grad, 2 * x)
    with pytest.raises(kg.OnceDifferentiableError) as info:
        kg.grad(lambda a: kg.sum(kg.grad(lambda b: kg.sum(f(b)))(a)))(x)
    assert name in str(info.value), str(info.value)
    with pytest.raises(kg.OnceDifferentiableError):
        kg.jacobian(kg.grad(lambda a: kg.sum(f(a))), mode="rev")(x)
    # create_graph on the tape API asks for the same second derivative
    xt = kg.tensor(x, requires_grad=True)
    with pytest.raises(kg.OnceDifferentiableError):
        f(xt).sum().backward(create_graph=True)


# -- 6. error messages ---------------------------------------------------------------------------
def _wrong_arity(style):
    """A two-input op whose rule returns one gradient."""
    if style == "custom_gradient":
        @kg.custom_gradient
        def two_in(x, y):
            return x * y, lambda g: g * y
        return two_in
    if style == "Function":
        class TwoIn(kg.Function):
            @staticmethod
            def forward(ctx, x, y):
                ctx.save_for_backward(x, y)
                return x * y

            @staticmethod
            def backward(ctx, g):
                return g, g, g
        return TwoIn.apply
    if style == "custom_vjp":
        def two_in_vjp(x, y):
            return x * y
        f = kg.custom_vjp(two_in_vjp)
        f.defvjp(lambda x, y: (x * y, (x, y)), lambda res, g: (g * res[1],))
        return f
    raise AssertionError(style)


ARITY_NAMES = {"custom_gradient": "two_in", "Function": "TwoIn", "custom_vjp": "two_in_vjp"}


@pytest.mark.parametrize("style", list(ARITY_NAMES))
def test_wrong_number_of_gradients_names_the_function(style):
    f = _wrong_arity(style)
    with pytest.raises(TypeError) as info:
        kg.grad(lambda a, b: kg.sum(f(a, b)), argnums=(0, 1))(rnd(3), rnd(3, seed=1))
    msg = str(info.value)
    assert ARITY_NAMES[style] in msg and "2 input" in msg, msg


def test_custom_jvp_rule_must_return_a_pair():
    def mul(x, y):
        return x * y

    f = kg.custom_jvp(mul)

    @f.defjvp
    def rule(primals, tangents):
        return tangents[0] * primals[1]           # forgot the primal output

    with pytest.raises(TypeError) as info:
        kg.jvp(f, (rnd(3), rnd(3)), (np.ones(3), np.ones(3)))
    assert "mul" in str(info.value)
    with pytest.raises(TypeError) as info:
        kg.grad(lambda a: kg.sum(f(a, np.ones(3))))(rnd(3))
    assert "mul" in str(info.value)


def test_missing_rule_or_output_pair_names_the_function():
    def undefined_vjp(x):
        return x

    def undefined_jvp(x):
        return x

    with pytest.raises(TypeError, match="undefined_vjp"):
        kg.custom_vjp(undefined_vjp)(np.ones(2))
    with pytest.raises(TypeError, match="undefined_jvp"):
        kg.custom_jvp(undefined_jvp)(np.ones(2))

    @kg.custom_gradient
    def no_grad_fn(x):
        return x * 2

    with pytest.raises(TypeError, match="no_grad_fn"):
        no_grad_fn(np.ones(2))


def _wrong_shape(style, bad_shape):
    """A one-input op on shape (3,) whose rule returns a gradient of ``bad_shape``."""
    if style == "custom_gradient":
        @kg.custom_gradient
        def bad_shape_op(x):
            return x * 2, lambda g: kg.ones(bad_shape, dtype=kg.float64)
        return bad_shape_op
    if style == "Function":
        class BadShapeOp(kg.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return kg.ones(bad_shape, dtype=kg.float64)
        return BadShapeOp.apply
    if style == "custom_vjp":
        def bad_shape_vjp(x):
            return x * 2
        f = kg.custom_vjp(bad_shape_vjp)
        f.defvjp(lambda x: (x * 2, None), lambda res, g: (kg.ones(bad_shape, dtype=kg.float64),))
        return f
    raise AssertionError(style)


SHAPE_NAMES = {"custom_gradient": "bad_shape_op", "Function": "BadShapeOp", "custom_vjp": "bad_shape_vjp"}


# (2, 3) for a (3,) input is *not* wrong: like PyTorch, a gradient the input broadcasts to is summed down
# (test_function_unreduced_broadcast_gradients_match_torch); these two cannot fit a (3,) input at all
@pytest.mark.parametrize("bad_shape", [(2, 4), (4,)], ids=str)
@pytest.mark.parametrize("style", list(SHAPE_NAMES))
def test_wrong_gradient_shape_names_the_function_and_shapes(style, bad_shape):
    f = _wrong_shape(style, bad_shape)
    with pytest.raises(ValueError) as info:
        kg.grad(lambda a: kg.sum(f(a)))(rnd(3))
    msg = str(info.value)
    assert SHAPE_NAMES[style] in msg and str(bad_shape) in msg and "(3,)" in msg, msg


@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_custom_jvp_wrong_tangent_shape_names_the_function(mode):
    def twice(x):
        return x * 2

    f = kg.custom_jvp(twice)

    @f.defjvp
    def rule(primals, tangents):
        return primals[0] * 2, kg.ones((5,), dtype=kg.float64)

    x = rnd(3)
    with pytest.raises(ValueError) as info:
        if mode == "fwd":
            kg.jvp(f, (x,), (np.ones(3),))
        else:
            kg.grad(lambda a: kg.sum(f(a)))(x)
    msg = str(info.value)
    assert "twice" in msg and "(5,)" in msg and "(3,)" in msg, msg


# -- 7. no_grad ------------------------------------------------------------------------------------
@pytest.mark.parametrize("style", STYLES)
def test_no_grad_builds_no_graph(style):
    spec = SPECS["cube"]
    calls = []
    base = Spec("cube", 1, spec.fun, lambda xs, g: calls.append(1) or spec.vjp(xs, g),
                lambda xs, ts: calls.append(1) or spec.jvp(xs, ts), spec.builtin)
    f = make(style, base)
    xt = kg.tensor(rnd(4), requires_grad=True)
    with kg.no_grad():
        out = f(xt)
    assert not out.requires_grad and out.grad_fn is None
    close(out, xt.data ** 3)
    assert calls == []
    out = f(xt)
    assert out.requires_grad and "cube" in repr(out.grad_fn)


# -- 8. broadcasting -------------------------------------------------------------------------------
def _reduced_rule(style):
    """x * y + y on a (3, 1) and (1, 4) pair, the rule reducing its gradients to the input shapes."""
    def vjp(xs, g):
        x, y = xs
        return kg.sum(g * y, axis=1, keepdims=True), kg.sum(g * (x + 1), axis=0, keepdims=True)

    spec = SPECS["xy_plus_y"]
    return make(style, Spec("bcast", 2, spec.fun, vjp, spec.jvp, spec.builtin))


@pytest.mark.parametrize("style", STYLES)
def test_broadcasting_pair_gradients(style):
    f = _reduced_rule(style)
    a, b = rnd(3, 1), rnd(1, 4, seed=1)
    w = rnd(3, 4, seed=2)
    got = kg.grad(lambda x, y: kg.sum(w * f(x, y)), argnums=(0, 1))(a, b)
    want = kg.grad(lambda x, y: kg.sum(w * (x * y + y)), argnums=(0, 1))(a, b)
    assert got[0].shape == (3, 1) and got[1].shape == (1, 4)
    close(got[0], want[0])
    close(got[1], want[1])
    got2 = kg.grad(lambda x, y: kg.sum(kg.grad(lambda u: kg.sum(w * f(u, y)))(x) ** 2), argnums=(0, 1))(a, b)
    want2 = kg.grad(lambda x, y: kg.sum(kg.grad(lambda u: kg.sum(w * (u * y + y)))(x) ** 2), argnums=(0, 1))(a, b)
    close(got2[0], want2[0])
    close(got2[1], want2[1])


def test_custom_jvp_broadcasting_pair_forward_mode():
    f = make("custom_jvp", SPECS["xy_plus_y"])
    a, b = rnd(3, 1), rnd(1, 4, seed=1)
    ta, tb = rnd(3, 1, seed=2), rnd(1, 4, seed=3)
    out, t = kg.jvp(f, (a, b), (ta, tb))
    _, t_b = kg.jvp(lambda x, y: x * y + y, (a, b), (ta, tb))
    assert t.shape == (3, 4)
    close(t, t_b)


def test_function_unreduced_broadcast_gradients_match_torch():
    """kg.Function is PyTorch's autograd.Function: a backward returning the output-shaped gradient
    g * y for a (3, 1) input is summed down to (3, 1) by PyTorch, not rejected."""
    class XYPlusY(kg.Function):
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x * y + y

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            return g * y, g * (x + 1)

    class TXYPlusY(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x * y + y

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            return g * y, g * (x + 1)

    a, b, w = rnd(3, 1), rnd(1, 4, seed=1), rnd(3, 4, seed=2)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    (torch.tensor(w) * TXYPlusY.apply(ta, tb)).sum().backward()
    got = kg.grad(lambda x, y: kg.sum(w * XYPlusY.apply(x, y)), argnums=(0, 1))(a, b)
    close(got[0], ta.grad.numpy())
    close(got[1], tb.grad.numpy())


@pytest.mark.parametrize("style", ["custom_gradient", "custom_vjp"])
def test_unreduced_broadcast_gradients_are_reduced_or_rejected_loudly(style):
    """TensorFlow/JAX-style rules returning output-shaped gradients for a broadcast input: either
    summed to the input's shape (the right answer) or a ValueError naming the op and both shapes;
    never a silently wrong gradient."""
    spec = SPECS["xy_plus_y"]
    f = make(style, Spec("unreduced_op", 2, spec.fun, spec.vjp, spec.jvp, spec.builtin))
    a, b, w = rnd(3, 1), rnd(1, 4, seed=1), rnd(3, 4, seed=2)
    want = kg.grad(lambda x, y: kg.sum(w * (x * y + y)), argnums=(0, 1))(a, b)
    try:
        got = kg.grad(lambda x, y: kg.sum(w * f(x, y)), argnums=(0, 1))(a, b)
    except ValueError as e:
        msg = str(e)
        assert "unreduced_op" in msg and "(3, 4)" in msg and "(3, 1)" in msg, msg
    else:
        close(got[0], want[0])
        close(got[1], want[1])


# -- 9. second derivatives through what the forward computed -------------------------------------
def test_function_saving_its_output_double_backward_matches_torch():
    """PyTorch's own example: Exp saves its result and backward returns g * result. The saved
    output depends on x, so the second derivative is exp(x), as torch computes, not 0."""
    class Exp(kg.Function):
        @staticmethod
        def forward(ctx, x):
            r = kg.exp(x)
            ctx.save_for_backward(r)
            return r

        @staticmethod
        def backward(ctx, g):
            (r,) = ctx.saved_tensors
            return g * r

    class TExp(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            r = x.exp()
            ctx.save_for_backward(r)
            return r

        @staticmethod
        def backward(ctx, g):
            (r,) = ctx.saved_tensors
            return g * r

    x = rnd(5)
    xt = torch.tensor(x, requires_grad=True)
    (g,) = torch.autograd.grad(TExp.apply(xt).sum(), xt, create_graph=True)
    (g2,) = torch.autograd.grad(g.sum(), xt)
    close(kg.grad(lambda a: kg.sum(Exp.apply(a)))(x), np.exp(x))
    close(kg.grad(lambda a: kg.sum(kg.grad(lambda b: kg.sum(Exp.apply(b)))(a)))(x), g2.numpy())


def test_custom_vjp_residual_is_differentiated_again():
    """JAX semantics: residuals computed by fwd are functions of the inputs; grad of grad of a
    custom_vjp exp whose residual is exp(x) is exp(x)."""
    def exp_vjp(x):
        return kg.exp(x)

    f = kg.custom_vjp(exp_vjp)
    f.defvjp(lambda x: (kg.exp(x), kg.exp(x)), lambda r, g: (g * r,))
    x = rnd(5)
    close(kg.grad(lambda a: kg.sum(kg.grad(lambda b: kg.sum(f(b)))(a)))(x), np.exp(x))


def test_custom_gradient_closure_over_an_intermediate_is_differentiated_again():
    @kg.custom_gradient
    def sin_x_closure(x):
        s = kg.sin(x)
        return s * x, lambda dy: dy * (kg.cos(x) * x + s)

    x = rnd(5)
    close(kg.grad(lambda a: kg.sum(kg.grad(lambda b: kg.sum(sin_x_closure(b)))(a)))(x),
          2 * np.cos(x) - x * np.sin(x))


# -- 10. forward mode uses the custom rule only ------------------------------------------------------
def test_custom_jvp_forward_mode_does_not_differentiate_its_primal_function():
    """The custom rule replaces the primal function's derivative: kg.jvp must not also push
    tangents through the primal function (which here has no forward rule at all)."""
    class ReverseOnly(kg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    def twice_reverse_only(x):
        return ReverseOnly.apply(x)

    f = kg.custom_jvp(twice_reverse_only)

    @f.defjvp
    def rule(primals, tangents):
        return primals[0] * 2, tangents[0] * 2

    x = rnd(3)
    out, t = kg.jvp(f, (x,), (np.ones(3),))
    close(out, 2 * x)
    close(t, np.full(3, 2.0))


def test_custom_jvp_forward_mode_ignores_kinks_of_its_primal_function():
    """A smooth custom rule around relu: under kinks('raise') reverse mode is fine, so forward mode
    must be too (the rule, not relu's derivative, is used)."""
    def relu_smooth_grad(x):
        return kg.relu(x)

    f = kg.custom_jvp(relu_smooth_grad)

    @f.defjvp
    def rule(primals, tangents):
        return kg.relu(primals[0]), tangents[0] * kg.sigmoid(primals[0])

    x = np.array([0.0, 1.0, -2.0])
    with kg.kinks("raise"):
        g = kg.grad(lambda a: kg.sum(f(a)))(x)
        _, t = kg.jvp(f, (x,), (np.ones(3),))
    close(g, 1 / (1 + np.exp(-x)))
    close(t, 1 / (1 + np.exp(-x)))
