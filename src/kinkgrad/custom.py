"""Custom derivatives in every style users know, one mechanism underneath.

``@kg.custom_gradient`` (TensorFlow), ``class F(kg.Function)`` (PyTorch), ``@kg.custom_vjp`` and
``@kg.custom_jvp`` (JAX) all create an ad hoc primitive: the user's forward runs once, without
recording, and the node that stands for it carries the user's rule. Everything the engine does
for built-ins (broadcast checks, dtype casts, hooks, audit, higher order when the rule is written
in kinkgrad ops) it does for these too. A rule written in raw NumPy is once-differentiable: a
second derivative through it raises instead of silently returning zero.
"""
from __future__ import annotations

import functools

import numpy as np

from .autodiff.primitive import Primitive, apply
from .autodiff.transforms import jvp as _jvp
from .autodiff.transforms import vjp as _vjp
from .context import no_grad, scoped, state
from .kinks.policy import current
from .tensor import Tensor, as_tensor


class OnceDifferentiableError(RuntimeError):
    """A second derivative was requested through a rule that only works once."""


def _name(fn):
    return getattr(fn, "__qualname__", getattr(fn, "__name__", "custom"))


def _value_prim(name, vjp=None, jvp=None):
    """A primitive whose forward value was computed already (passed as the ``value`` param)."""
    return Primitive(name, lambda *xs, value, **rest: value, vjp=vjp, jvp=jvp, joint_rules=True,
                     doc=f"custom derivative rule of {name}")


def _check_grads(name, grads, xs, create_graph, what="gradient"):
    """Validate a user rule's output: one entry per input, right shapes, differentiable if needed."""
    if not isinstance(grads, (tuple, list)):
        grads = (grads,)
    if len(grads) != len(xs):
        raise TypeError(f"{name}: the {what} function returned {len(grads)} value(s) for {len(xs)} input(s); "
                        "return one per input (None where an input has no gradient)")
    out = []
    for i, (g, x) in enumerate(zip(grads, xs)):
        if g is None:
            out.append(None)
            continue
        xshape = np.shape(x.data if isinstance(x, Tensor) else x)
        if create_graph:
            if not isinstance(g, Tensor):
                raise OnceDifferentiableError(
                    f"{name}: its {what} rule returned a NumPy array for input {i}, so it is once-differentiable; "
                    "a second derivative through it is not available. Write the rule with kinkgrad ops "
                    "(kg.where, kg.sign, ...) to differentiate it again.")
        garr = g.data if isinstance(g, Tensor) else np.asarray(g)
        gshape = np.shape(garr)
        try:
            joint = np.broadcast_shapes(gshape, xshape)
        except ValueError:
            joint = None
        if joint not in (gshape, xshape):     # the engine sums a broadcast gradient down to the input
            raise ValueError(f"{name}: the {what} for input {i} has shape {gshape}, which does not fit the "
                             f"input's shape {xshape}")
        out.append(g if create_graph else garr)
    return out


def _forward_scope():
    """How a custom op's own forward code runs: recorded when gradients are on (so residuals and
    closures stay differentiable for higher orders) but with no tangents or probing directions:
    forward mode goes through the custom rule, never through the code it replaces."""
    return scoped(levels=(), directional=0)


def _note_surrogate():
    report = current().audit
    if report is not None:
        report.surrogates += 1


# -- TensorFlow style -----------------------------------------------------------------------------
def custom_gradient(f):
    """``@kg.custom_gradient``: ``f(*xs)`` returns ``(y, grad_fn)``; ``grad_fn(dy)`` returns one
    gradient per input.

    >>> import kinkgrad as kg
    >>> @kg.custom_gradient
    ... def abs_with_grad(x):
    ...     return kg.abs(x), lambda dy: dy * 1.0
    >>> kg.grad(abs_with_grad)(0.0)
    tensor(1.)
    """
    name = f"custom_gradient({_name(f)})"

    def vjp(m, g, out, *xs, value, grad_fn):
        create_graph = isinstance(g, Tensor)
        grads = grad_fn(g if create_graph else Tensor._wrap(np.asarray(g)))
        return _check_grads(name, grads, xs, create_graph)

    prim = _value_prim(name, vjp=vjp)

    @functools.wraps(f)
    def wrapper(*args):
        xs = [a if isinstance(a, Tensor) else as_tensor(a) for a in args]
        with _forward_scope():
            res = f(*xs)
        if not (isinstance(res, tuple) and len(res) == 2 and callable(res[1])):
            raise TypeError(f"{name}: the function must return (output, grad_fn), got {type(res).__name__}")
        y, grad_fn = res
        value = y.data if isinstance(y, Tensor) else np.asarray(y)
        return apply(prim, tuple(xs), {"value": value, "grad_fn": grad_fn})

    return wrapper


# -- PyTorch style --------------------------------------------------------------------------------
class FunctionCtx:
    """The ``ctx`` of ``kg.Function``: ``save_for_backward``, ``saved_tensors``, ``needs_input_grad``,
    ``mark_non_differentiable``, and any attribute you set."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self.saved_tensors = ()
        self.non_differentiable = ()

    def save_for_backward(self, *tensors):
        self.saved_tensors = tensors

    def mark_non_differentiable(self, *outputs):
        self.non_differentiable = tuple(id(o) for o in outputs)


class Function:
    """PyTorch's ``torch.autograd.Function``: subclass with static ``forward(ctx, *args)`` and
    ``backward(ctx, *grad_outputs)`` (and optionally ``jvp(ctx, *tangents)``), call ``F.apply``.

    >>> import kinkgrad as kg
    >>> class MyReLU(kg.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return kg.clip(x, 0.0, None)
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors
    ...         return kg.where(x < 0, 0.0, g)
    >>> kg.grad(MyReLU.apply)(0.0)
    tensor(1.)
    """

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("kg.Function subclasses must define forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("kg.Function subclasses must define backward(ctx, *grad_outputs)")

    @classmethod
    def _prims(cls, n_out):
        key = ("_kg_prims", n_out)
        cache = cls.__dict__.get("_kg_prim_cache")
        if cache is None:
            cache = {}
            setattr(cls, "_kg_prim_cache", cache)
        if key not in cache:
            cache[key] = [_function_prim(cls, i, n_out) for i in range(n_out)]
        return cache[key]

    @classmethod
    def apply(cls, *args):
        st = state()
        needs = tuple(isinstance(a, Tensor) and a.requires_grad and st.grad_enabled for a in args)
        ctx = FunctionCtx(needs)
        with no_grad(), _forward_scope():       # PyTorch runs forward without recording, too
            out = cls.forward(ctx, *args)
        outs = out if isinstance(out, tuple) else (out,)
        values = [o.data if isinstance(o, Tensor) else np.asarray(o) for o in outs]
        prims = cls._prims(len(outs))
        results = []
        for i, (prim, v, o) in enumerate(zip(prims, values, outs)):
            if id(o) in ctx.non_differentiable or v.dtype.kind != "f":
                results.append(Tensor._wrap(v))
                continue
            results.append(apply(prim, tuple(args), {"value": v, "ctx": ctx, "values": values, "index": i}))
        # a saved output is the output itself (PyTorch's Exp example): give backward the recorded one,
        # so a second derivative flows through this op again instead of treating it as a constant
        swap = {id(o): r for o, r in zip(outs, results) if isinstance(o, Tensor)}
        ctx.saved_tensors = tuple(swap.get(id(t), t) for t in ctx.saved_tensors)
        return tuple(results) if isinstance(out, tuple) else results[0]


def _function_prim(cls, index, n_out):
    name = f"{cls.__name__}.apply" + (f"[{index}]" if n_out > 1 else "")

    def vjp(m, g, out, *xs, value, ctx, values, index):
        create_graph = isinstance(g, Tensor)
        gs = []
        for j, v in enumerate(values):
            if j == index:
                gs.append(g if create_graph else Tensor._wrap(np.asarray(g)))
            else:
                gs.append(Tensor._wrap(np.zeros_like(v)))     # each output's node asks backward about itself
        grads = cls.backward(ctx, *gs)
        return _check_grads(f"{cls.__name__}.backward", grads, xs, create_graph)

    def jvp(m, ts, out, *xs, value, ctx, values, index):
        tangents = [t if t is not None else (Tensor._wrap(np.zeros_like(x.data if isinstance(x, Tensor) else x))
                                              if isinstance(x, (Tensor, np.ndarray)) else None)
                    for t, x in zip(ts, xs)]
        res = cls.jvp(ctx, *tangents)
        res = res if isinstance(res, tuple) else (res,)
        return res[index]

    # forward mode only where the class (or a base) defines jvp(ctx, *tangents)
    return _value_prim(name, vjp=vjp, jvp=jvp if getattr(cls, "jvp", None) is not None else None)


def once_differentiable(fn):
    """Mark a ``backward`` written in NumPy: it runs on plain arrays, and a second derivative through
    it raises ``OnceDifferentiableError`` (PyTorch's decorator of the same name)."""

    @functools.wraps(fn)
    def wrapper(ctx, *grads):
        raw = [g.data if isinstance(g, Tensor) else g for g in grads]
        res = fn(ctx, *raw)
        res = res if isinstance(res, tuple) else (res,)
        return tuple(None if r is None else np.asarray(r) for r in res)

    return wrapper


# -- JAX style ------------------------------------------------------------------------------------
def _split(args, nondiff):
    diff = [a for i, a in enumerate(args) if i not in nondiff]
    fixed = [a for i, a in enumerate(args) if i in nondiff]
    return fixed, diff


class _JaxStyle:
    """What ``custom_vjp`` and ``custom_jvp`` share: the wrapped function, its non-differentiable
    arguments, and the call that runs the forward once and records one node carrying the rule."""

    def __init__(self, fun, nondiff_argnums, kind, **rules):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff = tuple(nondiff_argnums)
        self.prim = _value_prim(f"{kind}({_name(fun)})", **rules)

    def __call__(self, *args):
        fixed, diff = _split(args, self.nondiff)
        diff = [as_tensor(a) if not isinstance(a, Tensor) else a for a in diff]
        full = list(args)
        for i, d in zip([i for i in range(len(args)) if i not in self.nondiff], diff):
            full[i] = d
        out, extra = self._forward(full)
        value = out.data if isinstance(out, Tensor) else np.asarray(out)
        return apply(self.prim, tuple(diff), {"value": value, "fixed": fixed, **extra})


class custom_vjp(_JaxStyle):
    """JAX's ``jax.custom_vjp``: ``f.defvjp(fwd, bwd)`` with ``fwd(*args) -> (out, residuals)`` and
    ``bwd(*nondiff_args, residuals, g) -> tuple of cotangents`` (one per differentiable argument).
    Forward mode through it raises (there is no rule for it)."""

    def __init__(self, fun, nondiff_argnums=()):
        super().__init__(fun, nondiff_argnums, "custom_vjp", vjp=self._vjp)
        self.fwd = self.bwd = None

    def defvjp(self, fwd, bwd):
        self.fwd, self.bwd = fwd, bwd
        return self

    def _vjp(self, m, g, out, *xs, value, fixed, residuals):
        create_graph = isinstance(g, Tensor)
        cts = self.bwd(*fixed, residuals, g if create_graph else Tensor._wrap(np.asarray(g)))
        return _check_grads(self.prim.name, cts, xs, create_graph, "cotangent")

    def _forward(self, args):
        if self.fwd is None:
            raise TypeError(f"{self.prim.name}: call defvjp(fwd, bwd) before using it")
        with _forward_scope():     # recorded: the residuals may be differentiated again
            out, residuals = self.fwd(*args)
        return out, {"residuals": residuals}


class custom_jvp(_JaxStyle):
    """JAX's ``jax.custom_jvp``: ``@f.defjvp`` a rule ``rule(*nondiff_args, primals, tangents) ->
    (primal_out, tangent_out)``, linear in the tangents and written in kinkgrad ops. Reverse mode
    transposes it, as JAX does."""

    def __init__(self, fun, nondiff_argnums=()):
        super().__init__(fun, nondiff_argnums, "custom_jvp", vjp=self._vjp, jvp=self._jvp)
        self.rule = None

    def defjvp(self, rule):
        self.rule = rule
        return rule

    def _tangent(self, fixed, xs, ts):
        zeros = [t if t is not None else Tensor._wrap(np.zeros_like(x.data if isinstance(x, Tensor) else x))
                 for t, x in zip(ts, xs)]
        res = self.rule(*fixed, tuple(xs), tuple(zeros))
        if not (isinstance(res, tuple) and len(res) == 2):
            raise TypeError(f"{self.prim.name}: the jvp rule must return (primal_out, tangent_out)")
        t, p = res[1], res[0]
        ts, ps = np.shape(getattr(t, "data", t)), np.shape(getattr(p, "data", p))
        if ts != ps:
            raise ValueError(f"{self.prim.name}: the jvp rule returned a tangent of shape {ts} for an output of "
                             f"shape {ps}")
        return t

    def _jvp(self, m, ts, out, *xs, value, fixed):
        return self._tangent(fixed, xs, ts)

    def _vjp(self, m, g, out, *xs, value, fixed):
        create_graph = isinstance(g, Tensor)
        zeros = [np.zeros_like(x.data if isinstance(x, Tensor) else np.asarray(x)) for x in xs]
        _, pullback = _vjp(lambda *ts: self._tangent(fixed, xs, ts), *zeros)
        cts = pullback(g if create_graph else np.asarray(g))
        return [c if create_graph else c.data for c in cts]

    def _forward(self, args):
        if self.rule is None:
            raise TypeError(f"{self.prim.name}: define the rule with @f.defjvp before using it")
        with no_grad(), _forward_scope():
            return self.fun(*args), {}


# -- straight-through estimators ------------------------------------------------------------------
def _st_vjp(m, g, out, x, value, grad_like, name):
    _note_surrogate()
    if grad_like is None:
        return (g,)
    create_graph = isinstance(g, Tensor)
    _, pullback = _vjp(grad_like, x if create_graph else np.asarray(x))
    (c,) = pullback(g)
    return (c if create_graph else c.data,)


def _st_jvp(m, ts, out, x, value, grad_like, name):
    if ts[0] is None:
        return None
    _note_surrogate()
    if grad_like is None:
        return ts[0]
    return _jvp(grad_like, (x,), (ts[0],))[1]


_ST = Primitive("straight_through", lambda x, value, grad_like, name: value, vjp=_st_vjp, jvp=_st_jvp,
                joint_rules=True, doc="value of f, derivative of grad_like")


def straight_through(f, grad_like=None, name=None):
    """A straight-through estimator: forward exactly ``f(x)``, backward as the derivative of
    ``grad_like`` (the identity by default). ``kg.straight_through(kg.round)(x)`` rounds but
    passes gradients through unchanged. The audit tags such gradients ``surrogate``."""
    label = name or f"straight_through({_name(f)})"

    def wrapped(x):
        xt = x if isinstance(x, Tensor) else as_tensor(x)
        with no_grad(), _forward_scope():
            y = f(xt)
        value = y.data if isinstance(y, Tensor) else np.asarray(y)
        if value.shape != xt.shape:
            raise ValueError(f"{label}: f must keep the input's shape {xt.shape}, got {value.shape}")
        return apply(_ST, (xt,), {"value": value.astype(xt.dtype, copy=False), "grad_like": grad_like,
                                  "name": label})

    wrapped.__name__ = label
    return wrapped
