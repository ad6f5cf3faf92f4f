"""Functional transforms in JAX's spelling: grad, value_and_grad, vjp, jvp, jacobian, hessian, hvp.

They accept NumPy arrays, Python floats and Tensors, never touch the ``.grad`` of their inputs,
and nest freely: inside another transform (or when an input already carries a graph or a
tangent) the backward pass is itself recorded, so grad-of-grad and jvp-of-grad work.
"""
from __future__ import annotations

import contextlib
import functools
import warnings

import numpy as np

from ..context import scoped, state, user_frame
from ..kinks.cuts import warn_cut
from ..kinks.policy import current
from ..kinks.policy import kinks as kink_scope
from ..tensor import Tensor, _check_can_require_grad, _to_array
from .backward import run_backward
from .directional import MAX_DEPTH, seed_directions
from .primitive import Primitive, Rules, graph_handle, new_level

_identity = Primitive("identity", lambda x: x, vjp=lambda m, g, out, x: g, linear=True,
                      doc="Returns its input; gives a transform's input its own graph handle.")


def _kink_scope(kinks, seed=None, depth=None):
    if kinks is None:
        if depth and depth > 1 and current().preset == "directional":
            return kink_scope(depth=depth)
        return contextlib.nullcontext()
    if isinstance(kinks, dict):
        return kink_scope(seed=seed, depth=depth, **kinks)
    return kink_scope(kinks, seed=seed, depth=depth)


def _seed_directions(lifted, direction):
    """Directional mode: give each differentiated input its probing directions (``direction``:
    the first one, for one input, or a tuple with one per input)."""
    policy = current()
    if policy.preset != "directional":
        if direction is not None:
            raise ValueError("grad: direction= is only meaningful with kinks='directional'")
        return
    firsts = direction if isinstance(direction, (tuple, list)) and len(lifted) > 1 else (direction,) * len(lifted)
    if len(firsts) != len(lifted):
        raise ValueError(f"grad: {len(firsts)} direction(s) for {len(lifted)} differentiated argument(s)")
    for t, v in zip(lifted, firsts):
        seed_directions(t, policy, v)


def _lift(x, what, reverse=True):
    """A fresh graph handle for a transform's input, still linked to any outer graph or tangent
    (``reverse``: it is differentiated in reverse mode, so it requires grad)."""
    given = isinstance(x, Tensor)
    arr = x.data if given else _to_array(x)
    _check_can_require_grad(arr.dtype, what)
    if given and x.requires_grad and state().grad_enabled:
        return _identity(x)
    t = Tensor._wrap(arr)
    t._tangents = x._tangents if given else None
    t.requires_grad = reverse
    return t


def _needs_graph(args):
    """Record the backward pass itself when an enclosing computation may differentiate it."""
    st = state()
    return st.grad_enabled and bool(st.depth or st.levels or any(
        isinstance(a, Tensor) and (a.requires_grad or a._tangents) for a in args))


def _argnums_tuple(argnums, nargs, fname):
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    for i in nums:
        if not -nargs <= i < nargs:
            raise ValueError(f"{fname}: argnums={argnums} but the function was called with {nargs} argument(s)")
    return single, tuple(i % nargs for i in nums)


def _pullback(outs, cotangents, handles, create_graph, retain, names):
    roots, cts, cuts = [], [], []
    for y, ct in zip(outs, cotangents):
        if y.requires_grad:
            roots.append(y.node if y.node is not None else y)
            cts.append(ct)
        elif y._cut:
            cuts.extend(y._cut)
    if not roots:
        for name in names if cuts else ():
            warn_cut(cuts, f"the gradient w.r.t. {name}")
        return [None] * len(handles)
    with scoped(grad_enabled=create_graph):
        return run_backward(roots, cts, create_graph=create_graph, retain_graph=retain, targets=handles,
                            target_names=names)


def _as_result(g, like, create_graph):
    if g is None:
        return Tensor._wrap(np.zeros_like(like.data))
    return g if create_graph else Tensor._wrap(np.asarray(g, like.dtype))


def _name(f):
    return getattr(f, "__name__", "f")


def _lift_args(f, args, nums):
    """``args`` with those at ``nums`` replaced by fresh graph handles, and the handles."""
    args = list(args)
    lifted = [_lift(args[i], f"argument {i} of {_name(f)}") for i in nums]
    for i, t in zip(nums, lifted):
        args[i] = t
    return args, lifted


def _tensors(f, outs, transform):
    """``f``'s outputs as tensors: a NumPy value or a number cannot depend on the inputs, so it is
    differentiated as a constant, with a warning."""
    if not all(isinstance(o, Tensor) for o in outs):
        warnings.warn(f"{transform}: {_name(f)} returned a NumPy value or a number, not a kinkgrad tensor, so it "
                      "does not depend on its inputs and its derivative is zero; compute it with kinkgrad ops "
                      "(kg.exp, x @ w ...) to differentiate it", UserWarning, stacklevel=user_frame(2)[1] + 1)
    return tuple(o if isinstance(o, Tensor) else Tensor._wrap(np.asarray(o)) for o in outs)


def value_and_grad(f, argnums=0, has_aux=False, kinks=None, direction=None, seed=None):
    """Return a function computing ``(f(*args), df/dargs)``; ``f`` must return a scalar.

    ``kinks="directional"`` returns a certified generalized gradient: the gradient of the smooth
    piece of f active along ``direction`` (random, from ``seed``, when not given).
    """

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        single, nums = _argnums_tuple(argnums, len(args), "grad")
        create_graph = _needs_graph(args)
        depth = 1
        while True:
            with _kink_scope(kinks, seed, depth):
                policy = current()
                snapshot = policy.audit.snapshot() if policy.audit is not None else None
                y, aux, grads = _value_and_grads(f, args, kwargs, nums, has_aux, create_graph, direction)
            # directional mode: a kink whose switch had zero tangent along every direction kept the
            # default value; one more direction usually decides it (the lexicographic rule)
            if policy.preset != "directional" or not policy.undecided[0] or depth >= MAX_DEPTH:
                break
            if snapshot is not None:
                policy.audit.restore(snapshot)    # the retry replaces this attempt in the audit
            depth += 1
        g = grads[0] if single else grads
        return ((y, aux), g) if has_aux else (y, g)

    return wrapper


def _value_and_grads(f, args, kwargs, nums, has_aux, create_graph, direction):
    args, lifted = _lift_args(f, args, nums)
    _seed_directions(lifted, direction)
    with scoped(grad_enabled=True, depth=state().depth + 1):
        res = f(*args, **kwargs)
    y, aux = res if has_aux else (res, None)
    (y,) = _tensors(f, (y,), "grad")
    if y.data.size != 1:
        raise TypeError(f"grad: {_name(f)} must return a scalar, got shape {y.shape}; "
                        "use kg.vjp or kg.jacobian for non-scalar outputs")
    if not np.issubdtype(y.dtype, np.floating):
        raise TypeError(f"grad: {_name(f)} returned dtype {y.dtype.name}; "
                        "differentiable outputs must be floating point")
    ones = Tensor._wrap(np.ones_like(y.data)) if create_graph else np.ones_like(y.data)
    gs = _pullback([y], [ones], [graph_handle(t) for t in lifted], create_graph, retain=create_graph,
                   names=[f"argument {i} of {_name(f)}" for i in nums])
    grads = tuple(_as_result(g, t, create_graph) for g, t in zip(gs, lifted))
    if not create_graph:
        y = y.detach()
    return y, aux, grads


def grad(f, argnums=0, has_aux=False, kinks=None, direction=None, seed=None):
    """Return a function computing the gradient of scalar ``f`` w.r.t. argument(s) ``argnums``.

    >>> import kinkgrad as kg
    >>> kg.grad(lambda x: (x * x).sum())(kg.tensor([1.0, 2.0]))
    tensor([2., 4.])
    """
    vg = value_and_grad(f, argnums=argnums, has_aux=has_aux, kinks=kinks, direction=direction, seed=seed)

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        value, g = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapper


def _outputs_tuple(out):
    return (tuple(out), True) if isinstance(out, (tuple, list)) else ((out,), False)


def vjp(f, *primals, has_aux=False, kinks=None):
    """``(f(*primals), pullback)`` where ``pullback(cotangent)`` gives one cotangent per primal."""
    create_graph = _needs_graph(primals)
    with _kink_scope(kinks):
        args, lifted = _lift_args(f, primals, range(len(primals)))
        with scoped(grad_enabled=True, depth=state().depth + 1):
            res = f(*args)
    out, aux = res if has_aux else (res, None)
    outs, is_seq = _outputs_tuple(out)
    outs = _tensors(f, outs, "vjp")
    handles = [graph_handle(t) for t in lifted]

    def pullback(cotangent):
        cts = _outputs_tuple(cotangent)[0] if is_seq else (cotangent,)
        if len(cts) != len(outs):
            raise ValueError(f"vjp: {len(cts)} cotangent(s) for {len(outs)} output(s)")
        seeds = []
        for y, c in zip(outs, cts):
            c_arr = c if (create_graph and isinstance(c, Tensor)) else _to_array(c, y.dtype)
            if tuple(np.shape(c_arr)) != tuple(y.shape):
                raise ValueError(f"vjp: cotangent of shape {tuple(np.shape(c_arr))} for an output of shape {y.shape}")
            seeds.append(Tensor._wrap(c_arr) if create_graph and not isinstance(c_arr, Tensor) else c_arr)
        with _kink_scope(kinks):
            gs = _pullback(outs, seeds, handles, create_graph, retain=True,
                           names=[f"argument {i} of {_name(f)}" for i in range(len(lifted))])
        return tuple(_as_result(g, t, create_graph) for g, t in zip(gs, lifted))

    shown = out if create_graph else (tuple(o.detach() for o in outs) if is_seq else outs[0].detach())
    return (shown, pullback, aux) if has_aux else (shown, pullback)


def jvp(f, primals, tangents, kinks=None):
    """``(f(*primals), J @ tangents)`` by forward mode: tangents ride along with values, no tape."""
    primals, tangents = tuple(primals), tuple(tangents)
    keep_graph = _needs_graph(primals + tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primal(s) but {len(tangents)} tangent(s)")
    with _kink_scope(kinks), new_level() as level:
        xs = []
        for i, (x, t) in enumerate(zip(primals, tangents)):
            xt = _lift(x, f"primal {i}", reverse=False)
            t_arr = t if isinstance(t, Tensor) else Tensor._wrap(_to_array(t, xt.dtype))
            if tuple(t_arr.shape) != tuple(xt.shape):
                raise ValueError(f"jvp: tangent {i} has shape {tuple(t_arr.shape)} but its primal has shape {xt.shape}")
            if t_arr.dtype != xt.dtype:
                t_arr = Rules.graph.cast(t_arr, dtype=xt.dtype)
            xt._tangents = {**(xt._tangents or {}), level: t_arr}
            xs.append(xt)
        out = f(*xs)
    outs, is_seq = _outputs_tuple(out)
    clean, touts = [], []
    for y in outs:
        t = y._tangents.get(level) if isinstance(y, Tensor) and y._tangents else None
        if t is None:
            t = Tensor._wrap(np.zeros_like(y.data if isinstance(y, Tensor) else np.asarray(y)))
        else:       # the output without this level's tangent
            y2 = Tensor._wrap(y.data, y.node)
            y2.requires_grad = y.requires_grad
            y2._tangents = {k: v for k, v in y._tangents.items() if k != level} or None
            y = y2
        clean.append(y if keep_graph or not isinstance(y, Tensor) else y.detach())
        touts.append(t if keep_graph else t.detach())
    return (tuple(clean), tuple(touts)) if is_seq else (clean[0], touts[0])


def jacobian(f, argnums=0, mode="rev", kinks=None):
    """The Jacobian, shaped ``out.shape + x.shape``; ``mode="rev"`` (a VJP per output element) or
    ``"fwd"`` (a JVP per input element)."""
    if mode not in ("rev", "fwd"):
        raise ValueError(f"jacobian: mode must be 'rev' or 'fwd', got {mode!r}")

    @functools.wraps(f)
    def wrapper(*args):
        single, nums = _argnums_tuple(argnums, len(args), "jacobian")
        one = _jac_rev if mode == "rev" else _jac_fwd
        results = [one(_of_argument(f, args, i), args[i], kinks) for i in nums]
        return results[0] if single else tuple(results)

    return wrapper


def _of_argument(f, args, i):
    """``f`` as a function of its argument i alone, the others fixed at ``args``."""
    return lambda xi: f(*args[:i], xi, *args[i + 1:])


def _jac_rev(f, x, kinks):
    out, pullback = vjp(f, x, kinks=kinks)
    rows = [pullback(e.reshape(out.shape))[0] for e in np.eye(out.data.size, dtype=out.dtype)]
    xshape = tuple(np.shape(x.data if isinstance(x, Tensor) else _to_array(x)))
    return Rules.graph.reshape(Rules.graph.stack(rows, axis=0), tuple(out.shape) + xshape)


def _jac_fwd(f, x, kinks):
    xa = x.data if isinstance(x, Tensor) else _to_array(x)
    cols, out = [], None
    for e in np.eye(xa.size, dtype=xa.dtype):
        out, t = jvp(f, (x,), (e.reshape(xa.shape),), kinks=kinks)
        cols.append(t)
    if out is None:     # x has no elements
        return Tensor._wrap(np.zeros(tuple(np.shape(f(x))) + xa.shape, dtype=xa.dtype))
    jac = Rules.graph.stack(cols, axis=-1)              # out.shape + (x.size,)
    return Rules.graph.reshape(jac, tuple(out.shape) + xa.shape)


def hessian(f, argnums=0, kinks=None):
    """Second derivatives of scalar ``f``: forward-over-reverse, or reverse-over-reverse where some op
    has no forward rule (a custom_vjp, say). With a tuple ``argnums``, ``H[i][j]`` is the block for
    arguments i and j."""

    nums = argnums if isinstance(argnums, int) else tuple(argnums)

    def block(i, j, args):
        gi = grad(f, argnums=i, kinks=kinks)
        try:
            return jacobian(gi, argnums=j, mode="fwd", kinks=kinks)(*args)
        except NotImplementedError:
            return jacobian(gi, argnums=j, mode="rev", kinks=kinks)(*args)

    @functools.wraps(f)
    def wrapper(*args):
        if isinstance(nums, int):
            return block(nums, nums, args)
        return tuple(tuple(block(i, j, args) for j in nums) for i in nums)

    return wrapper


def hvp(f, primals, tangents, kinks=None):
    """Hessian-vector product ``H @ v`` without forming H (forward-over-reverse)."""
    return jvp(grad(f, argnums=tuple(range(len(primals))) if len(primals) > 1 else 0, kinks=kinks),
               primals, tangents, kinks=kinks)[1]
