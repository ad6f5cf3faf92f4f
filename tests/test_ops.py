"""Table-driven op tests: every spec in ``opspecs.SPECS`` gets each check below.

* reverse mode (``kg.vjp`` with a random cotangent) against central finite differences, float64;
* forward/reverse consistency: <w, J t> from ``kg.jvp`` equals <J^T w, t> from ``kg.vjp``;
* second derivatives: ``kg.hvp`` (forward-over-reverse) and grad-of-grad (reverse-over-reverse)
  against finite differences of ``kg.grad``; and against PyTorch's double backward for smooth ops;
* values and gradients against PyTorch 2.13 on the same inputs, float64 and float32;
* hypothesis over broadcasting shape pairs for the binary elementwise ops.

Tolerances: |a - e| <= rtol |e| + atol, with atol = rtol * max(1, max|e|) unless stated, because
float rounding scales with the operands' magnitude, not with an element that may cancel to ~0:
* FD_RTOL = 1e-6: central differences with h = 1e-6 in float64 have truncation error
  h^2/6 |f'''| ~ 1e-13 and rounding error ~ eps64 * sum|w f| / h ~ 2e-10 sum|w f|; atol is
  FD_RTOL * sum|w f|, a margin of ~1000x over both, yet any wrong derivative (off by O(1)) fails.
* FD2_RTOL = 1e-6 for second derivatives: FD of exact gradients with h = 1e-5 (truncation ~2e-11,
  rounding ~2e-11 relative to max(1, |grad|), which atol is scaled by).
* JVP_RTOL = 1e-10: both sides are exact in exact arithmetic; float64 rounding of these small
  computations is ~1e-15 relative, scaled by the sum of absolute products.
* float64 vs torch: spec.rtol64 (default 1e-10): different float64 algorithms (eps64 = 2.2e-16) agree
  to ~1e-14 on our well-conditioned domains (documented torch-side exceptions in the table:
  torch's float64 celu and hardsigmoid backward round a constant to float32).
* float32: spec.rtol32 (default 1e-5 ~ 84 * eps32, eps32 = 1.19e-7): a few ulps per kernel times the
  modest condition numbers of the sampled domains, plus O(n eps) summation error over <= 24 terms.
"""
from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import kinkgrad as kg
from opspecs import BY_NAME, SPECS

FD_H, FD_RTOL = 1e-6, 1e-6
FD2_H, FD2_RTOL = 1e-5, 1e-6
JVP_RTOL = 1e-10

IDS = [s.name for s in SPECS]
SMOOTH = [s for s in SPECS if s.smooth]
TORCH_CASES = [pytest.param(s, d, id=f"{s.name}-{d}") for s in SPECS for d in s.dtypes]

torch.set_num_threads(1)


# -- helpers ------------------------------------------------------------------------------------
def rng_for(spec, case, purpose):
    return np.random.default_rng([zlib.crc32(spec.name.encode()), case, purpose])


def sample(spec, case, shapes, dtype="float64"):
    """Inputs for one case: float arrays in ``dtype``, boolean ones (masks) unchanged."""
    args = spec.domain(rng_for(spec, case, 0), shapes)
    args = [np.asarray(a) for a in args]
    return [a.astype(dtype) if a.dtype.kind == "f" else a for a in args]


def outs(res):
    return list(res) if isinstance(res, (list, tuple)) else [res]


def data(x):
    return x.data if isinstance(x, kg.Tensor) else np.asarray(x)


def closure(spec, args):
    """``spec.kg`` as a function of its differentiable arguments only (the others fixed)."""
    def f(*diff_args):
        full = list(args)
        for i, a in zip(spec.diff, diff_args):
            full[i] = a
        return spec.kg(*full)
    return f


def evaluate(spec, args):
    """Forward values as ndarrays, no graph."""
    with kg.no_grad():
        return [data(o) for o in outs(spec.kg(*[kg.tensor(a) for a in args]))]


def cotangents(spec, case, out_arrays, dtype="float64"):
    rng = rng_for(spec, case, 1)
    return [rng.standard_normal(np.shape(o)).astype(dtype) for o in out_arrays]


def tangents(spec, case, args):
    rng = rng_for(spec, case, 2)
    return [rng.standard_normal(args[i].shape) for i in spec.diff]


def kg_loss(spec, ws):
    """L(args) = sum_k <w_k, out_k>, built from kinkgrad ops."""
    def loss(*args):
        total = None
        for o, w in zip(outs(spec.kg(*args)), ws):
            term = kg.sum(o * w)
            total = term if total is None else total + term
        return total
    return loss


def assert_close(actual, expected, rtol, what, atol=None):
    """|actual - expected| <= rtol |expected| + atol, atol defaulting to rtol * max(1, max|expected|)."""
    actual, expected = data(actual), data(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if atol is None:
        atol = rtol * max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    err = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    bad = ~(err <= rtol * np.abs(expected.astype(np.float64)) + atol)
    assert not bad.any(), (f"{what}: {int(bad.sum())} element(s) differ; max error {np.max(err):.3g}, "
                           f"allowed rtol={rtol:.1e}, atol={atol:.2g}\nactual={actual}\nexpected={expected}")


def fd_gradient(spec, args, ws, i):
    """Central-difference gradient of sum <w, f(args)> w.r.t. argument ``i``."""
    x = args[i]
    grad = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        vals = []
        for step in (FD_H, -FD_H):
            a = [np.array(v, copy=True) for v in args]
            a[i][k] += step
            vals.append(sum(float(np.sum(o * w)) for o, w in zip(evaluate(spec, a), ws)))
        grad[k] = (vals[0] - vals[1]) / (2 * FD_H)
    return grad


def loss_scale(spec, args, ws):
    """sum |w * f|: what float64 rounding in the finite-difference quotient scales with."""
    return max(1.0, sum(float(np.sum(np.abs(o * w))) for o, w in zip(evaluate(spec, args), ws)))


def cases(spec):
    return list(enumerate(spec.shapes))


def run_cases(spec, check):
    """Run ``check(case, shapes)`` on every shape case; report all failing cases, not just the first."""
    failures = []
    for case, shapes in cases(spec):
        try:
            check(case, shapes)
        except Exception as e:   # noqa: BLE001  (collected and re-raised below)
            failures.append(f"[{spec.name} shapes={shapes}] {type(e).__name__}: {e}")
    if failures:
        raise AssertionError(f"{len(failures)} of {len(spec.shapes)} case(s) failed:\n" + "\n\n".join(failures))


# -- reverse mode vs finite differences -----------------------------------------------------------
@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_vjp_matches_finite_differences(spec):
    def check(case, shapes):
        args = sample(spec, case, shapes)
        primals = [args[i] for i in spec.diff]
        out, pullback = kg.vjp(closure(spec, args), *primals)
        ws = cotangents(spec, case, [data(o) for o in outs(out)])
        for o, ref in zip(outs(out), evaluate(spec, args)):
            np.testing.assert_array_equal(data(o), ref, err_msg=f"{spec.name} {shapes}: vjp's primal output")
        cts = pullback(tuple(ws) if isinstance(out, (list, tuple)) else ws[0])
        assert len(cts) == len(primals)
        # rounding in the FD quotient is ~eps * sum|w f| / h; FD_RTOL * that scale is ~1000x above it
        scale = loss_scale(spec, args, ws)
        for i, ct in zip(spec.diff, cts):
            assert ct.dtype == np.float64 and ct.shape == args[i].shape, f"{spec.name}: cotangent {i} dtype/shape"
            fd = fd_gradient(spec, args, ws, i)
            assert_close(ct, fd, FD_RTOL, f"{spec.name} {shapes}: d/d arg{i} vs finite differences",
                         atol=FD_RTOL * scale)

    run_cases(spec, check)


# -- forward mode vs reverse mode -----------------------------------------------------------------
@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_jvp_consistent_with_vjp(spec):
    def check(case, shapes):
        args = sample(spec, case, shapes)
        primals = [args[i] for i in spec.diff]
        ts = tangents(spec, case, args)
        f = closure(spec, args)
        out, tout = kg.jvp(f, primals, ts)
        for o, ref in zip(outs(out), evaluate(spec, args)):
            np.testing.assert_array_equal(data(o), ref, err_msg=f"{spec.name} {shapes}: jvp's primal output")
        touts = outs(tout)
        ws = cotangents(spec, case, [data(o) for o in outs(out)])
        for to, w in zip(touts, ws):
            assert data(to).shape == w.shape and data(to).dtype == np.float64, f"{spec.name}: tangent shape/dtype"
        _, pullback = kg.vjp(f, *primals)
        cts = pullback(tuple(ws) if isinstance(out, (list, tuple)) else ws[0])
        lhs = sum(float(np.sum(w * data(to))) for w, to in zip(ws, touts))     # <w, J t>
        rhs = sum(float(np.sum(data(c) * tt)) for c, tt in zip(cts, ts))        # <J^T w, t>
        scale = (sum(float(np.sum(np.abs(w * data(to)))) for w, to in zip(ws, touts))
                 + sum(float(np.sum(np.abs(data(c) * tt))) for c, tt in zip(cts, ts)))
        assert abs(lhs - rhs) <= JVP_RTOL * max(scale, 1e-300), (
            f"{spec.name} {shapes}: <w, J t> = {lhs!r} but <J^T w, t> = {rhs!r}")

    run_cases(spec, check)


# -- second derivatives -------------------------------------------------------------------------
def _as_list(g):
    return list(g) if isinstance(g, tuple) else [g]


def second_order_setup(spec, case, shapes):
    """(loss of the differentiable args, primals, direction v, its argnums, FD of grad along v, scale)."""
    args = sample(spec, case, shapes)
    primals = [args[i] for i in spec.diff]
    loss = kg_loss(spec, cotangents(spec, case, evaluate(spec, args)))

    def lf(*p):
        return loss(*[p[spec.diff.index(i)] if i in spec.diff else a for i, a in enumerate(args)])

    argnums = tuple(range(len(primals)))
    g = kg.grad(lf, argnums=argnums)
    vs = tangents(spec, case, args)
    plus = g(*[p + FD2_H * v for p, v in zip(primals, vs)])
    minus = g(*[p - FD2_H * v for p, v in zip(primals, vs)])
    fd = [(data(a) - data(b)) / (2 * FD2_H) for a, b in zip(plus, minus)]
    # FD2_RTOL relative to max(1, |grad|): truncation ~h^2 and rounding ~eps*|grad|/h are ~1e-10
    scale = max([1.0] + [float(np.max(np.abs(data(x)), initial=0)) for x in g(*primals)])
    return lf, primals, vs, argnums, fd, scale


def grad_of_grad(lf, primals, vs, argnums):
    """H v by reverse-over-reverse: the gradient of <grad L, v>."""
    g = kg.grad(lf, argnums=argnums)

    def gv(*p):
        return kg.sum(kg.stack([kg.sum(gi * v) for gi, v in zip(g(*p), vs)]))

    return _as_list(kg.grad(gv, argnums=argnums)(*primals))


# Nonsmooth specs are sampled off their kinks, where they are C^2 too (second derivative often 0),
# so their derivative rules must be differentiable there as well (rules are written in kinkgrad ops).
@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_hvp_matches_finite_differences(spec):
    """kg.hvp (forward-over-reverse) vs central differences of kg.grad, float64."""
    def check(case, shapes):
        lf, primals, vs, argnums, fd, scale = second_order_setup(spec, case, shapes)
        hv = _as_list(kg.hvp(lf, primals, vs))
        for k in range(len(primals)):
            assert_close(hv[k], fd[k], FD2_RTOL, f"{spec.name} {shapes}: hvp arg{spec.diff[k]} vs FD",
                         atol=FD2_RTOL * scale)

    run_cases(spec, check)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_grad_of_grad_matches_finite_differences(spec):
    """Reverse-over-reverse H v vs central differences of kg.grad, float64."""
    def check(case, shapes):
        lf, primals, vs, argnums, fd, scale = second_order_setup(spec, case, shapes)
        rr = grad_of_grad(lf, primals, vs, argnums)
        for k in range(len(primals)):
            assert_close(rr[k], fd[k], FD2_RTOL, f"{spec.name} {shapes}: grad-of-grad arg{spec.diff[k]} vs FD",
                         atol=FD2_RTOL * scale)

    run_cases(spec, check)


@pytest.mark.parametrize("spec", SMOOTH, ids=[s.name for s in SMOOTH])
def test_second_derivatives_match_torch(spec):
    """For smooth ops: kinkgrad's grad-of-grad equals torch's double backward, float64."""
    def check(case, shapes):
        args = sample(spec, case, shapes)
        primals = [args[i] for i in spec.diff]
        ws = cotangents(spec, case, evaluate(spec, args))
        vs = tangents(spec, case, args)

        def lf(*p):
            return kg_loss(spec, ws)(*[p[spec.diff.index(i)] if i in spec.diff else a for i, a in enumerate(args)])

        hv = grad_of_grad(lf, primals, vs, tuple(range(len(primals))))

        targs = [torch.tensor(a, requires_grad=i in spec.diff) for i, a in enumerate(args)]
        tl = sum((o * torch.tensor(w)).sum() for o, w in zip(outs(spec.torch(*targs)), ws))
        tdiff = [targs[i] for i in spec.diff]
        tg = torch.autograd.grad(tl, tdiff, create_graph=True, allow_unused=True)
        gv = sum((gi * torch.tensor(v)).sum() for gi, v in zip(tg, vs) if gi is not None and gi.requires_grad)
        if isinstance(gv, int):   # gradient independent of the inputs: the Hessian is 0
            th = [np.zeros_like(p) for p in primals]
        else:
            th = [np.zeros_like(p) if h is None else h.detach().numpy()
                  for h, p in zip(torch.autograd.grad(gv, tdiff, allow_unused=True), primals)]
        for k in range(len(primals)):
            assert_close(hv[k], th[k], spec.rtol64, f"{spec.name} {shapes}: grad-of-grad arg{spec.diff[k]} vs torch")

    run_cases(spec, check)


# -- values and gradients vs PyTorch ------------------------------------------------------------
def compare_with_torch(spec, args, ws, dtype, what):
    rtol = spec.rtol64 if dtype == "float64" else spec.rtol32
    targs = [torch.tensor(a, requires_grad=i in spec.diff) for i, a in enumerate(args)]
    tout = outs(spec.torch(*targs))
    kout = outs(spec.kg(*[kg.tensor(a) for a in args]))
    assert len(kout) == len(tout), f"{what}: {len(kout)} outputs vs torch's {len(tout)}"
    for ko, to in zip(kout, tout):
        assert data(ko).dtype == np.dtype(str(to.dtype).replace("torch.", "")), (
            f"{what}: output dtype {data(ko).dtype} but torch gives {to.dtype}")
        assert_close(ko, to.detach().numpy(), rtol, f"{what}: value")
    tl = sum((o * torch.tensor(w)).sum() for o, w in zip(tout, ws))
    tg = torch.autograd.grad(tl, [targs[i] for i in spec.diff], allow_unused=True)
    kgrads = kg.grad(kg_loss(spec, ws), argnums=spec.diff)(*args)
    for i, kgi, tgi in zip(spec.diff, kgrads, tg):
        expected = np.zeros_like(args[i]) if tgi is None else tgi.numpy()
        assert data(kgi).dtype == args[i].dtype, f"{what}: gradient dtype {data(kgi).dtype} for {args[i].dtype} input"
        assert_close(kgi, expected, rtol, f"{what}: d/d arg{i}")


@pytest.mark.parametrize("spec, dtype", TORCH_CASES)
def test_matches_torch(spec, dtype):
    def check(case, shapes):
        args = sample(spec, case, shapes, dtype)
        ws = cotangents(spec, case, evaluate(spec, args), dtype)
        compare_with_torch(spec, args, ws, dtype, f"{spec.name} {dtype} {shapes}")

    run_cases(spec, check)


# -- broadcasting, property-based ---------------------------------------------------------------
BROADCAST_OPS = {"add": 2, "multiply": 2, "divide": 2, "maximum": 2, "power_tensor": 2, "where": 3}


@pytest.mark.parametrize("name", list(BROADCAST_OPS))
def test_broadcasting_gradients_match_torch(name):
    spec = BY_NAME[name]

    @settings(max_examples=25, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(mutually_broadcastable_shapes(num_shapes=BROADCAST_OPS[name], max_dims=3, max_side=3),
           st.integers(0, 2**32 - 1), st.sampled_from(["float64", "float32"]))
    def check(bshapes, seed, dtype):
        rng = np.random.default_rng(seed)
        args = [np.asarray(a) for a in spec.domain(rng, bshapes.input_shapes)]
        args = [a.astype(dtype) if a.dtype.kind == "f" else a for a in args]
        with kg.no_grad():
            out = data(spec.kg(*[kg.tensor(a) for a in args]))
        assert out.shape == bshapes.result_shape
        ws = [rng.standard_normal(out.shape).astype(dtype)]
        compare_with_torch(spec, args, ws, dtype, f"{name} {dtype} {bshapes.input_shapes}")

    check()


# -- the table itself -----------------------------------------------------------------------------
def test_table_reaches_every_differentiable_primitive():
    """Every differentiable primitive in kinkgrad.ops is recorded by at least one spec's graph."""
    import kinkgrad.ops as ops_pkg
    from kinkgrad.autodiff.primitive import Node, Primitive

    declared = set()
    for mod in vars(ops_pkg).values():
        if type(mod).__name__ == "module" and mod.__name__.startswith("kinkgrad.ops"):
            prims = [getattr(p, "primitive", p) for p in vars(mod).values()]   # public functions wrap theirs
            declared |= {p.name for p in prims if isinstance(p, Primitive) and p.differentiable}
    reached, broken = set(), []
    for spec in SPECS:
        for case, shapes in cases(spec):
            args = sample(spec, case, shapes)
            xs = [kg.tensor(a, requires_grad=i in spec.diff) for i, a in enumerate(args)]
            try:
                res = outs(spec.kg(*xs))
            except Exception as e:   # a broken op fails its own tests; here we only want coverage
                broken.append(f"{spec.name} {shapes}: {type(e).__name__}: {e}")
                continue
            stack = [o.node for o in res if o.node is not None]
            while stack:
                node = stack.pop()
                reached.add(node.prim.name)
                stack.extend(p for p in node.parents if isinstance(p, Node))
    assert declared - reached == set(), (f"primitives no spec exercises: {sorted(declared - reached)}"
                                         + "".join(f"\n  (spec raised) {b}" for b in broken))


def test_linalg_namespace():
    """kg.linalg is kinkgrad.linalg (NumPy's linear-algebra names), with norm in it."""
    assert kg.linalg.norm is kg.norm
    for name in ("dot", "einsum", "matmul", "outer"):
        assert getattr(kg.linalg, name) is getattr(kg, name)
