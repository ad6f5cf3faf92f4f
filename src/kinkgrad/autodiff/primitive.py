"""Primitives: the one place where an operation's forward kernel and derivative rules are declared.

A primitive states its derivative once and every mode is computed from it. Elementwise ops give
``derivs``, one partial ``∂out/∂x_i`` per input: reverse mode multiplies it by the cotangent ``g``,
forward and directional mode by the tangent ``t``, and ``Primitive.partial`` applies the kink policy
for all three. Other ops give ``vjp`` (per input, ``(m, g, out, *xs) -> cotangent``) and either
``jvp`` (``(m, t, out, *xs) -> tangent``) or ``linear=True`` (the JVP is the op applied to the tangent).
``residual=i``: the kernel also returns what input i's gradient needs again (a convolution's im2col
matrix), kept only when that input needs a gradient and given to the plain backward's rules as
``saved=`` (a rule running on kinkgrad ops recomputes it from the inputs, to stay differentiable).

Rules are written against a namespace ``m``: NumPy in a plain backward pass (``Rules.numpy``, NumPy
speed); kinkgrad's own ops with ``create_graph`` or nested transforms (``Rules.graph``), so the same
rule builds a differentiable graph and higher derivatives come free.
"""
from __future__ import annotations

import contextlib
import itertools
from typing import NamedTuple

import numpy as np

from ..context import _DEFAULT, _STATE, scoped, state, user_site
from ..kinks.declare import register
from ..kinks.policy import current
from ..kinks.resolve import resolve_elementwise
from ..tensor import Tensor
from .safety import SEQ, checksums


class Primitive:
    """A named operation with its forward kernel, derivative rules and optional kink declaration.

    ``joint_rules``: one vjp returning every cotangent, one jvp taking every tangent (variadic ops);
    ``exact_zero_partials``: a partial is exactly 0 where its input is not selected (relu below 0),
    so forward mode keeps it 0 even against an infinite tangent; ``singular``: the derivative can be
    inf/NaN (sqrt, log), so reverse mode keeps a zero cotangent's products 0; ``tie_break(sign)``: a
    comparison's result at equality, given the sign of the tangent difference (directional mode).
    """

    __slots__ = ("name", "impl", "derivs", "vjps", "jvps", "linear", "kinks", "differentiable",
                 "piecewise_constant", "joint_rules", "singular", "tie_break", "exact_zero_partials",
                 "fast_path", "residual", "doc")

    def __init__(self, name, impl, *, derivs=None, vjp=None, jvp=None, linear=False, kinks=None,
                 differentiable=True, piecewise_constant=False, joint_rules=False, singular=False, tie_break=None,
                 exact_zero_partials=False, residual=None, doc=None):
        self.name = name
        self.impl = impl
        self.derivs = _rules(derivs)
        self.vjps = _rules(vjp)
        self.jvps = _rules(jvp)
        self.linear = linear
        self.kinks = kinks                  # a kinks.Kink (for every input) or one per input; None when smooth
        self.differentiable = differentiable
        self.piecewise_constant = piecewise_constant
        self.joint_rules = joint_rules
        self.singular = singular
        self.tie_break = tie_break
        self.exact_zero_partials = exact_zero_partials or piecewise_constant
        # one input, no NaN masking, no cut detection: the reverse pass takes a shortcut
        self.fast_path = derivs is not None and len(self.derivs) == 1 and not singular and not piecewise_constant
        self.residual = residual
        self.doc = doc
        if kinks is not None:
            register(name, kinks)

    def __call__(self, *args, **params):
        return apply(self, args, params)

    def __repr__(self):
        return f"<primitive {self.name}>"

    # -- the derivative, for every mode ----------------------------------------------------------
    def partial(self, i, m, out, xs, raw_xs, params, g=None, site=None, directions=None):
        """∂out/∂x_i of an elementwise op, kink policy applied, for every mode (``g``: the upstream
        cotangent or tangent, for the audit; ``directions``: the inputs' probing tangents)."""
        d = self.derivs[i](m, out, *xs, **params)
        if self.kinks is not None:
            d = resolve_elementwise(self.name, self.kinks, i, d, m, raw_xs, params, g, site, directions)
        return d

    def tangent(self, m, ts, out, xs, params, raw_xs=None, partials=None):
        """The output tangent ``Σ_i ∂out/∂x_i t_i`` for input tangents ``ts`` (None = zero), for forward
        mode and directional mode (which resolves ``partials`` once for every direction)."""
        if self.joint_rules and self.jvps is not None:
            return self.jvps[0](m, ts, out, *xs, **params)
        total = None
        for i, t in enumerate(ts):
            if t is None:
                continue
            if self.derivs is not None:
                d = partials[i] if partials is not None else self.partial(i, m, out, xs, raw_xs, params, t)
                term = tangent_product(self, m, t, d)
            elif self.linear:
                args = list(xs)
                args[i] = t
                term = self(*args, **params) if m is not Rules.numpy else self.kernel(*args, **params)
            elif self.jvps is not None and i < len(self.jvps) and self.jvps[i] is not None:
                term = self.jvps[i](m, t, out, *xs, **params)
            else:
                raise NotImplementedError(
                    f"{self.name}: forward mode (jvp) with respect to argument {i} is not implemented")
            total = term if total is None else total + term
        return total

    def cotangents(self, node, g, m, xs, out):
        """One cotangent per input (None where the input needs none, or where a piecewise-constant
        op passes nothing back: the engine then knows this op cut the path)."""
        params = node.params
        if self.fast_path and node.partials is None:
            # Primitive.partial inlined: the path most ops of a network take, once per node per backward
            d = self.derivs[0](m, out, *xs, **params)
            if self.kinks is not None:
                d = resolve_elementwise(self.name, self.kinks, 0, d, m, node.xs, params, g, node.site, node)
            return (g * d,)
        if self.derivs is not None:
            # partials that directional mode's forward probe decided, reused by a plain backward
            # (one that records a graph, or an audit, takes them from the rules again)
            decided = node.partials if m is Rules.numpy and node.partials and current().audit is None else ()
            cts = []
            for i, p in enumerate(node.parents):
                if p is None:
                    cts.append(None)
                    continue
                d = decided[i] if i in decided else self.partial(i, m, out, xs, node.xs, params, g, node.site, node)
                if self.piecewise_constant and not np.any(d.data if isinstance(d, Tensor) else d):
                    cts.append(None)
                    continue
                cts.append(masked_product(m, g, d) if self.singular else g * d)
            return cts
        if self.vjps is None:
            raise NotImplementedError(f"{self.name}: no reverse-mode (vjp) rule is defined")
        if self.residual is not None:
            params = {**params, "saved": node.saved}
        if self.joint_rules:
            return self.vjps[0](m, g, out, *xs, **params)
        cts = []
        for i, p in enumerate(node.parents):
            if p is None:
                cts.append(None)
            elif i >= len(self.vjps) or self.vjps[i] is None:
                raise NotImplementedError(
                    f"{self.name}: the derivative with respect to argument {i} is not implemented")
            else:
                cts.append(self.vjps[i](m, g, out, *xs, **params))
        return cts

    def kernel(self, *xs, **params):
        """The forward value alone (a residual kernel's saved value dropped)."""
        out = self.impl(*xs, **params)
        return out[0] if self.residual is not None else out


def _rules(rules):
    return rules if rules is None or isinstance(rules, tuple) else (rules,)


# -- NaN-safe products ------------------------------------------------------------------------------
def masked_product(m, g, d):
    """Reverse mode's ``g * d``, exactly 0 wherever ``g`` is 0 even where ``d`` is inf or NaN: a branch
    ``where`` did not select gets a zero cotangent, which its singular derivative (sqrt'(0) = inf)
    must not turn into NaN."""
    if isinstance(d, np.ndarray) and isinstance(g, np.ndarray) and np.isfinite(d).all():
        return g * d
    return m.where(g == 0, 0.0, g * d)


def tangent_product(prim, m, t, d):
    """Forward mode's ``t * d``, NaN-safe both ways: a zero partial (an unselected input) wins over an
    infinite tangent (max(sqrt(x), 1) at 0), a zero tangent over an infinite partial (sqrt at 0 along
    a direction not moving x); 0 times a NaN partial stays NaN (0/0 has no derivative at all)."""
    finite_d = isinstance(d, np.ndarray) and np.isfinite(d).all()
    if prim.exact_zero_partials and not (prim.singular and not finite_d):
        finite_t = np.isfinite(t).all() if isinstance(t, np.ndarray) else (
            not isinstance(t, Tensor) and np.isfinite(t))
        return t * d if finite_t else m.where(d == 0, 0.0, t * d)
    if prim.singular and not finite_d:
        return m.where((t == 0) & m.isinf(d), 0.0, t * d)
    return t * d


# -- applying a primitive: the hot path of every operation -------------------------------------------
DIRECTIONAL = [None]          # the directional-mode module (installed by it): tangents on demand


class Rules:
    """The two namespaces rules are written against (``numpy`` and ``graph``), installed by ``kinkgrad.ops``."""

    numpy = None
    graph = None


class Node:
    """One recorded application of a primitive: what the backward rules need, nothing more.
    ``parents[i]`` is the Node that produced input i, the leaf Tensor itself, or None (it needs no
    gradient). Only raw arrays are saved, so no reference cycles run through tensors."""

    __slots__ = ("prim", "parents", "xs", "out", "params", "_hooks", "tangents", "site", "dirs", "dirs_out",
                 "partials", "seq", "saved", "checksums", "__weakref__")

    def __init__(self, prim, parents, xs, out, params):
        self.seq = next(SEQ)    # creation order, a topological order (see backward.toposort)
        self.prim = prim
        self.parents = parents
        self.xs = xs
        self.out = out
        self.params = params
        self._hooks = None
        self.tangents = None    # the inputs' and output's tangents while a jvp is active, for a backward inside it
        self.site = None        # the user's file:line, recorded only when an audit or warning may need it
        self.dirs = None        # directional mode: the inputs' tangents along the probing directions,
        self.dirs_out = None    # and the output's (computed on demand, memoized),
        self.partials = None    # and the partial derivatives chosen at the kinks
        self.saved = None       # what a residual kernel saved for the backward pass
        self.checksums = None   # anomaly mode: of the saved values, to catch raw NumPy writes

    name = property(lambda self: self.prim.name)

    def __call__(self):
        """Directional mode: the tangents of the node's inputs (a node is the resolver's directions provider)."""
        return DIRECTIONAL[0].node_input_dirs(self)

    def __repr__(self):
        return f"<{self.prim.name} node>"


def graph_handle(a):
    """The graph handle of an input: its node, itself if it is a leaf needing grad, else None."""
    return a.node if a.node is not None else (a if a.requires_grad else None)


def apply(prim, args, params, directional_values=True):
    """Run ``prim`` on ``args``, recorded for reverse mode when some input needs a gradient
    (``directional_values=False``: the kernel's own value, which directional mode adjusts at jumps and ties)."""
    st = _STATE.get(_DEFAULT[0])
    if st.recorder is not None:
        return _apply_recorded(prim, args, params, directional_values, st)
    if st.levels:
        level = _top_level(args, st.levels)
        if level is not None:
            return _apply_forward_mode(prim, args, params, level)
    if st.directional and (prim.tie_break is not None or prim.piecewise_constant) and directional_values:
        return DIRECTIONAL[0].apply_directional(prim, args, params)
    if len(args) == 1:
        # one and two inputs unrolled: a comprehension is a function call of its own, ~10% of an
        # op's overhead (a 60-op chain, forward + backward: 3.7 -> 3.4 us per op)
        a = args[0]
        if isinstance(a, Tensor):
            xs = (a.data,)
        elif type(a) in _SEQUENCES and holds_tensor(a):
            return _apply_to_sequences(prim, args, params)
        else:
            xs = (a,)
    elif len(args) == 2:
        a, b = args
        if isinstance(a, Tensor):
            xa = a.data
        elif type(a) in _SEQUENCES and holds_tensor(a):
            return _apply_to_sequences(prim, args, params)
        else:
            xa = a
        if isinstance(b, Tensor):
            xs = (xa, b.data)
        elif type(b) in _SEQUENCES and holds_tensor(b):
            return _apply_to_sequences(prim, args, params)
        else:
            xs = (xa, b)
    else:
        if any(type(a) in _SEQUENCES and holds_tensor(a) for a in args):
            return _apply_to_sequences(prim, args, params)
        xs = tuple([a.data if isinstance(a, Tensor) else a for a in args])
    try:
        out = prim.impl(*xs, **params)
    except (ValueError, TypeError, IndexError) as e:
        raise _op_error(prim, xs, e) from None
    saved = None
    if prim.residual is not None:
        out, saved = out
    if type(out) is not np.ndarray:
        out = np.asarray(out)
    if st.grad_enabled:
        # graph handles of the inputs (graph_handle, inlined: this runs for every op, and a helper
        # call per input costs ~10% of the per-op overhead)
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
                    if saved is not None and parents[prim.residual] is not None:
                        node.saved = saved          # kept only for the input that needs it
                    if st.sites or prim.piecewise_constant:
                        node.site = user_site()
                        if st.anomaly:
                            node.checksums = checksums(xs, out)
                    return Tensor._wrap(out, node)
                if out.dtype.kind == "c":
                    raise TypeError(_complex_error(prim, xs))
                return _cut(out, prim, args)    # a comparison, argmax, integer cast: the graph ends here
        for a in args:
            if isinstance(a, Tensor) and a._cut is not None:
                return _cut(out, prim, args)    # carry the news that this value came through a cut
    if out.dtype.kind == "c":
        raise TypeError(_complex_error(prim, xs))
    return Tensor._wrap(out)


_SEQUENCES = (list, tuple)


def holds_tensor(seq):
    """Whether a (nested) list or tuple holds a Tensor somewhere."""
    return any(isinstance(e, Tensor) or (type(e) in _SEQUENCES and holds_tensor(e)) for e in seq)


def _apply_to_sequences(prim, args, params):
    """An input given as a list holding tensors (``kg.mean([x, 1.0])``) is stacked into one tensor
    first, so the gradient reaches the tensors inside instead of NumPy silently dropping the graph."""
    from_sequence = Rules.graph.from_sequence
    return apply(prim, tuple(from_sequence(a, prim.name) if type(a) in _SEQUENCES and holds_tensor(a) else a
                             for a in args), params)


class OpRecord(NamedTuple):
    """One primitive applied while ``record_ops`` was active: the primitive, its inputs as given
    (Tensors, arrays or Python values), its keyword parameters and the Tensor it returned."""

    prim: Primitive
    inputs: tuple
    params: dict
    output: Tensor


@contextlib.contextmanager
def record_ops():
    """Record every primitive applied inside the block, in order, for an exporter or a tracing compiler
    to replay: ``with kg.record_ops() as ops: y = f(x)`` gives a list of ``OpRecord``. A composite
    (``gelu``) appears as the primitives it applies; NumPy on ``.data`` is not seen."""
    ops = []
    with scoped(recorder=ops):
        yield ops


def _apply_recorded(prim, args, params, directional_values, st):
    with scoped(recorder=None):     # what runs inside (forward mode...) is not recorded
        out = apply(prim, args, params, directional_values)
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


def _describe(xs):
    return ", ".join(f"{tuple(x.shape)} {x.dtype.name}" if isinstance(x, np.ndarray) else type(x).__name__
                     for x in xs)


def _op_error(prim, xs, e):
    """A kernel's error again, naming the op and the shapes and dtypes it was given."""
    message = f"{prim.name}: {e} (inputs: {_describe(xs)})"
    try:
        return type(e)(message)
    except TypeError:       # NumPy's UFuncTypeError and kin take other arguments: the plain class it derives from
        return next(k for k in (TypeError, ValueError, IndexError) if isinstance(e, k))(message)


def _complex_error(prim, xs):
    return (f"{prim.name}: complex values are not differentiable in kinkgrad yet (inputs: {_describe(xs)}); "
            "keep the computation real (split real and imaginary parts) or compute it under kg.no_grad()")


# -- forward mode: tangents ride along with values, one level per active jvp -------------------------
_next_level = itertools.count(1)


@contextlib.contextmanager
def new_level():
    """Open a forward-mode level; tangents tagged with it propagate until the block ends."""
    level = next(_next_level)
    with scoped(levels=state().levels + (level,)):
        yield level


def _top_level(args, levels):
    """The innermost active level that some input carries a tangent for (None: none does)."""
    found = [levels.index(lvl) for a in args if isinstance(a, Tensor) and a._tangents
             for lvl in a._tangents if lvl in levels]
    return levels[max(found)] if found else None


def _apply_forward_mode(prim, args, params, level):
    """Compute the primal with this level and the inner ones switched off, then this level's
    tangent from the rules."""
    levels = state().levels
    with scoped(levels=levels[: levels.index(level)]):
        out = apply(prim, args, params)
        if not prim.differentiable:
            return out
        ts = [a._tangents.get(level) if isinstance(a, Tensor) and a._tangents else None for a in args]
        raw_xs = [a.data if isinstance(a, Tensor) else a for a in args]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            t = prim.tangent(Rules.graph, ts, out, args, params, raw_xs)
            if t is not None:
                # the engine, not the rules, gives the tangent the output's shape and dtype (a float64
                # partial must not turn a float32 tangent into float64)
                if t.shape != out.shape:
                    t = Rules.graph.broadcast_to(t, out.shape)
                if t.dtype != out.dtype and out.dtype.kind == "f":
                    t = Rules.graph.cast(t, dtype=out.dtype)
                out._tangents = {**(out._tangents or {}), level: t}
                if out.node is not None:
                    out.node.tangents = ([a._tangents if isinstance(a, Tensor) else None for a in args], out._tangents)
    return out
