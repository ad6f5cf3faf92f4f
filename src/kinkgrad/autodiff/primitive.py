"""Primitives: the one place where an operation's forward kernel and derivative rules are declared.

A primitive states its derivative once and both modes are generated from it:

* elementwise ops give ``derivs``: one function per input returning the partial derivative
  ``∂out/∂x_i``; reverse mode multiplies it by the cotangent ``g``, forward mode by the tangent
  ``t``, so the two modes cannot disagree (not even at a kink);
* other ops give ``vjp`` (per input, ``(m, g, out, *xs) -> cotangent``) and either ``jvp`` (per
  input, ``(m, t, out, *xs) -> tangent``) or ``linear=True`` (the op is linear in each
  differentiable input, so its JVP is the op itself applied to the tangent);
* an op whose forward kernel computes something one input's gradient needs again (a convolution's
  im2col matrix, for the weight) declares ``residual=i`` (that input's index): the kernel returns
  ``(out, residual)``, the node keeps the residual only when input i needs a gradient, and the
  reverse rules get it as ``res=`` (a NumPy value, for the plain backward only: a rule running on
  kinkgrad ops recomputes what it needs from the inputs, so it stays differentiable).

Rules are written against a math namespace ``m``: during a plain backward pass ``m`` is NumPy
(``rawops``) and the rule runs at NumPy speed; with ``create_graph`` or nested transforms ``m`` is
kinkgrad itself and the same rule builds a differentiable graph, so higher derivatives come free.
"""
from __future__ import annotations

import contextlib
import itertools
from typing import NamedTuple

import numpy as np

from ..kinks.resolve import resolve_elementwise
from ..kinks.policy import _POLICY
from . import rawops as _rawops
from ..tensor import Tensor
from .sites import user_site
from .state import _STATE, levels_below


class Primitive:
    """A named operation with its forward kernel, derivative rules and optional kink declaration."""

    __slots__ = ("name", "impl", "derivs", "vjps", "jvps", "linear", "kinks", "differentiable",
                 "piecewise_constant", "variadic", "singular", "tie_break", "selects",
                 "unary", "residual", "doc")

    def __init__(self, name, impl, *, derivs=None, vjp=None, jvp=None, linear=False, kinks=None,
                 differentiable=True, piecewise_constant=False, variadic=False, singular=False, tie_break=None,
                 selects=False, residual=None, doc=None):
        self.name = name
        self.impl = impl
        self.derivs = _as_tuple(derivs)
        self.vjps = _as_tuple(vjp)
        self.jvps = _as_tuple(jvp)
        self.linear = linear
        self.kinks = kinks                  # a kinks.Kink (or per-input tuple), or None when smooth
        self.differentiable = differentiable
        self.piecewise_constant = piecewise_constant
        self.variadic = variadic            # one vjp returning every cotangent; one jvp taking every tangent
        self.singular = singular            # derivative can be inf/NaN (sqrt, log, 1/x...): mask zero seeds
        self.tie_break = tie_break          # comparisons: the result at equality, given the sign of the
                                            # first nonzero tangent difference (directional mode)
        self.selects = selects or piecewise_constant   # some partials are exactly 0 (an unselected input)
        self.unary = (self.derivs is not None and len(self.derivs) == 1 and not singular
                      and not piecewise_constant)
        self.residual = residual            # None, or the input whose gradient uses what the kernel saved:
                                            # the kernel then returns (out, residual); vjps get res=
        self.doc = doc

    def __call__(self, *args, **params):
        return apply(self, args, params)

    def __repr__(self):
        return f"<primitive {self.name}>"

    # -- reverse mode -------------------------------------------------------------------------
    def cotangents(self, node, g, m, xs, out):
        """One cotangent per input (None where the input needs none)."""
        params = node.params
        parents = node.parents
        if self.unary and node.partials is None:
            # one input, no singular masking, no cut detection: the path most ops of a network take
            d = self.derivs[0](m, out, *xs, **params)
            if self.kinks is not None:
                d = _resolve(self, 0, d, m, node.xs, params, g, node.site, node)
            return (g * d,)
        if self.derivs is not None:
            kinks = self.kinks
            res = []
            cached = node.partials
            for i, p in enumerate(parents):
                if p is None:
                    res.append(None)
                    continue
                if cached is not None and i in cached and m is _rawops and _POLICY.get().audit is None:
                    res.append(_masked_product(m, g, cached[i]) if self.singular else g * cached[i])
                    continue
                d = self.derivs[i](m, out, *xs, **params)
                if kinks is not None:
                    d = _resolve(self, i, d, m, node.xs, params, g, node.site, node)
                if self.piecewise_constant and not np.any(d.data if isinstance(d, Tensor) else d):
                    res.append(None)    # no contribution: lets the engine see that this op cut the path
                    continue
                res.append(_masked_product(m, g, d) if self.singular else g * d)
            return res
        if self.vjps is None:
            raise NotImplementedError(f"{self.name}: no reverse-mode (vjp) rule is defined")
        vjps = self.vjps
        if self.residual is not None:
            params = {**params, "res": node.res}
        if self.variadic:
            return vjps[0](m, g, out, *xs, **params)
        res = []
        for i, p in enumerate(parents):
            if p is None:
                res.append(None)
            elif i >= len(vjps) or vjps[i] is None:
                raise NotImplementedError(
                    f"{self.name}: the derivative with respect to argument {i} is not implemented")
            else:
                res.append(vjps[i](m, g, out, *xs, **params))
        return res

    # -- forward mode -------------------------------------------------------------------------
    def tangent(self, ts, out, xs, params):
        """The output tangent given input tangents ``ts`` (None = zero), written in kinkgrad ops."""
        from .. import ops as m

        if self.variadic and self.jvps is not None:
            return self.jvps[0](m, ts, out, *xs, **params)
        total = None
        for i, t in enumerate(ts):
            if t is None:
                continue
            if self.derivs is not None:
                d = self.derivs[i](m, out, *xs, **params)
                if self.kinks is not None:
                    d = _resolve(self, i, d, m, [x.data if isinstance(x, Tensor) else x for x in xs], params, t)
                term = _tangent_product(self, m, t, d)
            elif self.linear:
                args = list(xs)
                args[i] = t
                term = self(*args, **params)
            elif self.jvps is not None and i < len(self.jvps) and self.jvps[i] is not None:
                term = self.jvps[i](m, t, out, *xs, **params)
            else:
                raise NotImplementedError(
                    f"{self.name}: forward mode (jvp) with respect to argument {i} is not implemented")
            total = term if total is None else total + term
        if total is not None and total.shape != out.shape:
            total = m.broadcast_to(total, out.shape)
        return total


def _as_tuple(rules):
    if rules is None or isinstance(rules, tuple):
        return rules
    return (rules,)


def _masked_product(m, g, d):
    """Reverse mode's NaN-safety: ``g * d`` that is exactly 0 wherever ``g`` is 0, even where ``d``
    is inf or NaN.

    A branch that ``where`` did not select receives a zero cotangent, and its own singular
    derivative (sqrt'(0) = inf, log'(0) = inf) must not turn that zero into NaN. Only ops declared
    ``singular`` pay for the check, and only when ``d`` is not finite.
    """
    if isinstance(d, np.ndarray) and isinstance(g, np.ndarray) and np.isfinite(d).all():
        return g * d
    return m.where(g == 0, 0.0, g * d)


def _tangent_product(prim, m, t, d):
    """Forward mode's NaN-safe ``t * d`` (see ``_selected_product`` and ``_zero_tangent_product``)."""
    if prim.selects and prim.singular:
        return _selected_product(m, t, d) if isinstance(d, np.ndarray) and np.isfinite(d).all() \
            else _zero_tangent_product(m, t, d)
    if prim.selects:
        return _selected_product(m, t, d)
    if prim.singular:
        return _zero_tangent_product(m, t, d)
    return t * d


def _zero_tangent_product(m, t, d):
    """A zero tangent times an *infinite* partial is 0 (sqrt at 0 along a direction that does not
    move x), while a zero tangent times a NaN partial stays NaN (0/0 has no derivative at all)."""
    if isinstance(d, np.ndarray) and np.isfinite(d).all():
        return t * d
    return m.where((t == 0) & m.isinf(d), 0.0, t * d)


def _selected_product(m, t, d):
    """Forward mode's NaN-safety: ``t * d`` that is exactly 0 wherever the partial ``d`` is 0 (an
    input the op did not select), even where the incoming tangent is inf or NaN.

    The dual of ``_masked_product``: in reverse mode a zero *cotangent* must win over a singular
    partial; in forward mode a zero *partial* must win over a singular tangent (max(sqrt(x), 1)
    at 0).
    """
    if isinstance(t, np.ndarray) and np.isfinite(t).all():
        return t * d
    if not isinstance(t, (np.ndarray, Tensor)) and np.isfinite(t):
        return t * d
    return m.where(d == 0, 0.0, t * d)


_resolve = resolve_elementwise   # the single choke point for every derivative at a kink


# ---------------------------------------------------------------------------------------------
# Applying a primitive: the hot path of every operation.
# ---------------------------------------------------------------------------------------------
_SEQ = itertools.count()


class Node:
    """One recorded application of a primitive: what the backward rules need, nothing more.

    ``parents[i]`` is the Node that produced input i, the leaf Tensor itself, or None when the
    input needs no gradient. Only raw arrays are saved, so no reference cycles through tensors.
    """

    __slots__ = ("prim", "parents", "xs", "out", "params", "_hooks", "tangents", "site", "dirs", "dirs_out",
                 "partials", "seq", "res", "__weakref__")

    def __init__(self, prim, parents, xs, out, params):
        # creation order is a topological order (an op's inputs exist before it), so the backward
        # pass needs only the set of reachable nodes, sorted by this number: no post-order walk
        self.seq = next(_SEQ)
        self.prim = prim
        self.parents = parents
        self.xs = xs
        self.out = out
        self.params = params
        self._hooks = None
        # forward-mode tangents of the inputs and the output, kept only while a jvp is active, so
        # a backward pass run inside jvp (forward-over-reverse: hvp, hessian) sees them again
        self.tangents = None
        self.site = None        # the user's file:line, recorded only when an audit or warning may need it
        self.dirs = None        # directional mode: the inputs' tangents along the probing directions,
        self.dirs_out = None    # and the output's (computed on demand, memoized)
        self.partials = None    # directional mode: the partial derivatives chosen at the kinks
        self.res = None         # what a residual kernel saved for the backward pass

    @property
    def name(self):
        return self.prim.name

    def __repr__(self):
        return f"<{self.prim.name} node>"


def _ref(a):
    """The graph handle of an input: its node, itself if it is a leaf needing grad, else None."""
    if a.node is not None:
        return a.node
    return a if a.requires_grad else None


def apply(prim, args, params, plain=False):
    st = _STATE.get()
    if st.recorder is not None:
        return _apply_recorded(prim, args, params, plain, st)
    if st.levels:
        level = _top_level(args, st.levels)
        if level is not None:
            return _apply_forward_mode(prim, args, params, level)
    if st.directional and (prim.tie_break is not None or prim.piecewise_constant) and not plain:
        return _directional().apply_directional(prim, args, params)
    if len(args) == 1:
        # one and two inputs unrolled: a comprehension is a function call of its own, ~10% of an
        # op's overhead (a 60-op chain, forward + backward: 3.7 -> 3.4 us per op)
        a = args[0]
        xs = (a.data,) if isinstance(a, Tensor) else (a,)
    elif len(args) == 2:
        a, b = args
        xs = (a.data if isinstance(a, Tensor) else a, b.data if isinstance(b, Tensor) else b)
    else:
        xs = tuple([a.data if isinstance(a, Tensor) else a for a in args])
    try:
        out = prim.impl(*xs, **params)
    except (ValueError, TypeError, IndexError) as e:
        raise _op_error(prim, xs, e) from None
    res = None
    if prim.residual is not None:
        out, res = out
    if type(out) is not np.ndarray:
        out = np.asarray(out)
    if st.grad_enabled:
        # graph handles of the inputs (their node, the leaf itself, or None), built inline: this
        # loop runs for every op, and a helper call per input costs ~10% of the per-op overhead
        if len(args) == 1:
            a = args[0]
            parents = ((a.node if a.node is not None else (a if a.requires_grad else None))
                       if isinstance(a, Tensor) else None,)
        elif len(args) == 2:
            a, b = args
            parents = ((a.node if a.node is not None else (a if a.requires_grad else None))
                       if isinstance(a, Tensor) else None,
                       (b.node if b.node is not None else (b if b.requires_grad else None))
                       if isinstance(b, Tensor) else None)
        else:
            parents = tuple([(a.node if a.node is not None else (a if a.requires_grad else None))
                             if isinstance(a, Tensor) else None for a in args])
        for p in parents:
            if p is not None:       # (identity tests only: == on a Tensor is elementwise)
                if prim.differentiable and out.dtype.kind == "f":
                    node = Node(prim, parents, xs, out, params)
                    if res is not None and parents[prim.residual] is not None:
                        node.res = res          # kept only for the input that needs it
                    if st.sites or prim.piecewise_constant:
                        node.site = user_site()
                    return Tensor._wrap(out, node)
                return _cut(out, prim, args)    # a comparison, argmax, integer cast: the graph ends here
        for a in args:
            if isinstance(a, Tensor) and a._cut is not None:
                return _cut(out, prim, args)    # carry the news that this value came through a cut
    return Tensor._wrap(out)


class OpRecord(NamedTuple):
    """One primitive applied while ``record_ops`` was active: the primitive, its inputs as given
    (Tensors, arrays or Python values), its keyword parameters and the Tensor it returned."""

    prim: Primitive
    inputs: tuple
    params: dict
    output: Tensor


@contextlib.contextmanager
def record_ops():
    """Record every primitive applied inside the block, in order (what an exporter or a tracing
    compiler replays): ``with kg.record_ops() as ops: y = f(x)`` gives a list of ``OpRecord``.

    Only primitives are recorded (a composite such as ``gelu`` appears as the primitives it applies);
    values computed outside kinkgrad ops (NumPy on ``.data``, ``.item()``) are not."""
    ops = []
    token = _STATE.set(_STATE.get()._replace(recorder=ops))
    try:
        yield ops
    finally:
        _STATE.reset(token)


def _apply_recorded(prim, args, params, plain, st):
    token = _STATE.set(st._replace(recorder=None))      # what runs inside (forward mode...) is not recorded
    try:
        out = apply(prim, args, params, plain)
    finally:
        _STATE.reset(token)
    st.recorder.append(OpRecord(prim, tuple(args), dict(params), out))
    return out


def _cut(out, prim, args):
    """A result that depends on grad-requiring inputs only through a non-differentiable op."""
    t = Tensor._wrap(out)
    cuts = []
    for a in args:
        if isinstance(a, Tensor):
            if a._cut is not None:
                cuts.extend(a._cut)
            elif a.requires_grad:
                cuts.append((prim.name, user_site()))
    t._cut = tuple(cuts) or None
    return t


def _directional():
    from . import directional   # imported on first use: directional imports this module

    return directional


def _op_error(prim, xs, e):
    """Re-raise a kernel's error naming the op and the shapes and dtypes it was given."""
    desc = ", ".join(
        f"{tuple(x.shape)} {x.dtype.name}" if isinstance(x, np.ndarray) else type(x).__name__ for x in xs)
    return type(e)(f"{prim.name}: {e} (inputs: {desc})")


def _top_level(args, levels):
    top = None
    for a in args:
        if isinstance(a, Tensor) and a._tangents:
            for lvl in a._tangents:
                if lvl in levels and (top is None or levels.index(lvl) > levels.index(top)):
                    top = lvl
    return top


def _apply_forward_mode(prim, args, params, level):
    """Compute the primal with the inner levels off, then this level's tangent from the rules."""
    with levels_below(level):
        out = apply(prim, args, params)
        if not prim.differentiable:
            return out
        ts = [a._tangents.get(level) if isinstance(a, Tensor) and a._tangents else None for a in args]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            t = prim.tangent(ts, out, args, params)
    if t is not None:
        out._tangents = dict(out._tangents or {})
        out._tangents[level] = t
        if out.node is not None:
            out.node.tangents = ([a._tangents if isinstance(a, Tensor) else None for a in args], out._tangents)
    return out
