"""Reverse mode: an iterative walk over the recorded graph, children before parents.

The engine, not the rules, sums cotangents back to each input's (broadcast) shape and dtype, runs
hooks, frees the graph and accumulates ``.grad``. With ``create_graph`` the rules run on kinkgrad's
ops, so the backward pass is itself recorded (higher derivatives); otherwise on NumPy.
"""
from __future__ import annotations

from operator import attrgetter

import numpy as np

from ..context import _STATE, running_op, state
from ..kinks.cuts import describe, warn_cut
from ..kinks.policy import current
from ..tensor import Tensor
from .primitive import Node, Rules
from .safety import NEWEST, check_checksums, check_finite, check_saved


def toposort(roots, stop=()):
    """Nodes reachable from ``roots`` (not looking through ``stop``), each before its parents: an op's
    inputs are created before it, so decreasing creation number is a topological order (no recursion,
    and half the cost of a post-order walk, ~0.4 us per op)."""
    stack = [r for r in roots if type(r) is Node]
    reached = set(stack)
    while stack:
        node = stack.pop()
        if node in stop:
            continue
        for p in node.parents:
            if type(p) is Node and p not in reached:
                reached.add(p)
                stack.append(p)
    return sorted(reached, key=_SEQ_OF, reverse=True)


_SEQ_OF = attrgetter("seq")


class _Pass:
    """One backward pass: the cotangents waiting at each node and leaf, and what cut a path."""

    def __init__(self, create_graph, retain_graph, stop):
        self.m = Rules.graph if create_graph else Rules.numpy
        self.create_graph = create_graph
        self.retain_graph = retain_graph
        self.stop = stop
        self.at_nodes = {}
        self.at_leaves = {}
        self.captured = {}      # cotangents reaching the ``stop`` nodes (a transform's inputs)
        self.cuts = []          # piecewise-constant ops that passed nothing back
        self.cut_below = []     # their inputs (nodes or leaves), where a cut path continues
        self.directional = current().preset == "directional"
        self.anomaly = state().anomaly
        self.stale = NEWEST[0]  # nodes made before the newest in-place write check what they saved

    def seed(self, roots, cotangents):
        for r, g in zip(roots, cotangents):
            acc = self.at_nodes if type(r) is Node else self.at_leaves
            acc[r] = acc[r] + g if r in acc else g

    def propagate(self, order):
        """Pull each node's cotangent through its rules and pass the results to its parents (one
        loop with no call per node: this is the backward pass's inner loop)."""
        at_nodes, at_leaves, m, stop, stale = self.at_nodes, self.at_leaves, self.m, self.stop, self.stale
        for node in order:
            g = at_nodes.pop(node, None)
            if g is None:
                continue
            if node._hooks:
                g = run_hooks(node._hooks, g, self.create_graph, f"the output of {node.prim.name}")
            if node in stop:
                self.captured[node] = g
                continue
            if node.xs is None:
                raise RuntimeError(
                    "trying to backward through the graph a second time (or to use results after it was freed): "
                    f"{node.prim.name} already released its saved values. Pass retain_graph=True to the first "
                    "backward() if you need to backward through the same graph twice.")
            if node.seq < stale:
                check_saved(node)
            if self.anomaly and node.checksums is not None:
                check_checksums(node)
            xs, out = graph_tensors(node) if self.create_graph else (node.xs, node.out)
            if node.site is not None or self.directional:
                # resolvers inside non-elementwise rules read the op's call site and directions
                with running_op(node.site, node if self.directional else None):
                    cts = node.prim.cotangents(node, g, m, xs, out)
            else:
                cts = node.prim.cotangents(node, g, m, xs, out)
            if self.anomaly:
                check_finite(node, cts)
            for p, c, x in zip(node.parents, cts, node.xs):
                if p is None:
                    continue
                if c is None:
                    if node.prim.piecewise_constant:
                        self.cuts.append((node.prim.name, node.site))
                        self.cut_below.append(p)
                    continue
                if type(c) is not np.ndarray or c.shape != x.shape or c.dtype != x.dtype:   # (inlined: the
                    c = fit(c, x, m, node.prim.name)     # common case costs no call; this runs per edge)
                acc = at_nodes if type(p) is Node else at_leaves
                prev = acc.get(p)
                acc[p] = c if prev is None else prev + c
            if not self.retain_graph:
                node.xs = node.out = node.params = node.saved = None   # params may hold closures over a graph

    def targets_result(self, targets, names):
        """The cotangents of ``targets`` (a transform's inputs), warning for each one whose every path was cut."""
        self.captured.update((t, self.at_leaves.get(t)) for t in targets if type(t) is not Node)
        result = [self.captured.get(t) for t in targets]
        if self.cuts:
            for name, g in zip(names, result):
                if g is None:
                    warn_cut(self.cuts, f"the gradient w.r.t. {name}")
        return result

    def accumulate_leaves(self):
        """Add into every reached leaf's ``.grad``; a leaf that only cut paths reach, wherever the cut
        is, gets zeros and a warning naming the op(s) that cut it."""
        for leaf, g in self.at_leaves.items():
            accumulate(leaf, g, self.create_graph)
        if self.cuts:
            for leaf in _leaves_below(self.cut_below):
                if leaf not in self.at_leaves:
                    warn_cut(self.cuts, f"the gradient of a leaf of shape {leaf.shape}")
                    zero = np.zeros_like(leaf.data)
                    accumulate(leaf, Tensor._wrap(zero) if self.create_graph else zero, self.create_graph)


def run_backward(roots, cotangents, *, create_graph, retain_graph, targets=None, target_names=None):
    """Propagate ``cotangents`` from ``roots`` (Nodes or leaf Tensors); return the cotangents of
    ``targets`` (graph handles) if given, else accumulate into the ``.grad`` of every leaf reached."""
    run = _Pass(create_graph, retain_graph, set(targets) if targets else ())
    run.seed(roots, cotangents)
    # rules may divide by zero at singular points (sqrt'(0) = inf); that is the answer, not noise
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        run.propagate(toposort(roots, run.stop))
    if targets is not None:
        return run.targets_result(targets, target_names)
    run.accumulate_leaves()
    return None


def _leaves_below(starts):
    """The leaves reachable from ``starts`` (nodes or leaves) through the graph, in a stable order."""
    reached = list(starts) + [p for node in toposort(starts) for p in node.parents]
    return list(dict.fromkeys(p for p in reached if p is not None and type(p) is not Node))


def fit(c, x, m, opname):
    """Sum a cotangent back to its input's shape (broadcasting) and cast it to the input's dtype."""
    shape = np.shape(x)
    cshape = c.shape if hasattr(c, "shape") else ()
    if cshape != shape:
        c = m.sum_to(c, shape) if len(cshape) >= len(shape) else m.broadcast_to(c, shape)
        if c.shape != shape:
            raise RuntimeError(f"{opname}: cotangent of shape {cshape} does not fit input shape {shape}")
    dtype = getattr(x, "dtype", None)
    if dtype is not None and c.dtype != dtype and dtype.kind == "f":
        c = m.cast(c, dtype)
    return c


def graph_tensors(node):
    """A node's inputs and output as tensors wired into the graph (create_graph), with their tangents."""
    in_tangents, out_tangents = node.tangents or (None, None)
    xs = []
    for i, (parent, x) in enumerate(zip(node.parents, node.xs)):
        if type(parent) is Node or parent is None and isinstance(x, np.ndarray):
            x = Tensor._wrap(x, parent)
            if in_tangents is not None:
                x._tangents = in_tangents[i]
        elif parent is not None:
            x = parent          # a leaf tensor: already carries its own tangents
        xs.append(x)
    out = Tensor._wrap(node.out, node)
    out._tangents = out_tangents
    return xs, out


def run_hooks(hooks, g, create_graph, where):
    """Run ``hooks`` on the gradient ``g``; a hook that returns something replaces ``g`` (same shape, dtype)."""
    for hook in list(hooks):
        gt = g if create_graph else Tensor._wrap(np.asarray(g))
        r = hook(gt)
        if r is not None:
            name = getattr(hook, "__qualname__", repr(hook))
            if not isinstance(r, (Tensor, np.ndarray)):
                raise TypeError(f"hook {name} (on {where}) returned a {type(r).__name__}; return a tensor (or None)")
            new = r if create_graph and isinstance(r, Tensor) else np.asarray(r.data if isinstance(r, Tensor) else r)
            if tuple(new.shape) != tuple(np.shape(g)) or new.dtype != gt.dtype:
                raise RuntimeError(
                    f"hook {name} (on {where}) returned a gradient of shape {tuple(new.shape)} {new.dtype}, but the "
                    f"gradient it received has shape {tuple(np.shape(g))} {gt.dtype}; return one of the same shape "
                    "and dtype (or None to keep it)")
            g = new if not create_graph or isinstance(new, Tensor) else Tensor._wrap(new)
    return g


def accumulate(leaf, g, create_graph):
    if leaf._hooks:
        g = run_hooks(leaf._hooks, g, create_graph, f"a leaf of shape {leaf.shape}")
    if not create_graph:
        g = np.asarray(g)
        if g.base is not None or not g.flags.writeable:
            g = g.copy()   # never hand out a view of another array as .grad
        g = Tensor._wrap(g)
    if leaf.grad is None:
        leaf.grad = g
    elif create_graph:
        leaf.grad = leaf.grad + g
    else:
        leaf.grad = Tensor._wrap(leaf.grad.data + g.data)


def backward(root, grad=None, retain_graph=False, create_graph=False):
    """``root.backward()``: accumulate d(root)/d(leaf) into each leaf's ``.grad``."""
    if not isinstance(root, Tensor):
        raise TypeError(f"backward() needs a Tensor, got {type(root).__name__}")
    if not root.requires_grad:
        if root._cut:
            raise RuntimeError(
                f"backward(): this tensor has no gradient: it depends on the inputs only through "
                f"non-differentiable op(s) {describe(root._cut)}. Use a straight-through estimator "
                "(kg.straight_through) or a surrogate gradient (kg.surrogate) there.")
        raise RuntimeError(
            "backward(): this tensor does not require grad and has no grad_fn, so there is nothing "
            "to differentiate; did you create the inputs with requires_grad=True, or compute it "
            "under kg.no_grad()?")
    st = state()
    if not create_graph and st.grad_enabled and (st.depth or st.levels):
        # inside a transform the enclosing computation differentiates what this backward produces;
        # a plain backward would hand it constants (.grad with no dependence on the transform's
        # inputs, a zero tangent under kg.jvp): a silent wrong derivative, so it is refused
        raise RuntimeError(
            "backward() inside kg.grad / kg.jvp / kg.vjp / kg.hessian...: the transform would differentiate "
            ".grad as a constant. Pass create_graph=True to record this backward (then .grad carries the "
            "graph until you reset it), compute the inner gradient with kg.grad or kg.vjp instead, or call "
            "backward() under kg.no_grad() if the transform does not depend on it.")
    g = _seed_cotangent(root, grad, create_graph)
    ref = root.node if root.node is not None else root
    # grad mode set by token, not through a generator context manager: this runs once per
    # backward() and the generator-based manager costs ~2 us of a 60-op chain's ~200
    token = _STATE.set(st._replace(grad_enabled=bool(create_graph)))
    try:
        run_backward([ref], [g], create_graph=bool(create_graph), retain_graph=retain_graph or create_graph)
    finally:
        _STATE.reset(token)


def _seed_cotangent(root, grad, create_graph):
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward(): grad can be implicitly created only for scalar outputs, but this tensor has "
                f"shape {root.shape}; call .sum() first or pass grad= with that shape")
        g = np.ones_like(root.data)
    elif isinstance(grad, Tensor) and create_graph:
        g = grad
    else:
        g = grad.data if isinstance(grad, Tensor) else grad
        if np.asarray(g).dtype.kind not in "biuf":
            raise TypeError(f"backward(): grad must be a tensor or an array of numbers, got {type(grad).__name__}")
        g = np.asarray(g, dtype=root.dtype)
    if g.shape != root.shape:
        raise RuntimeError(f"backward(): grad has shape {g.shape} but the tensor has shape {root.shape}")
    return Tensor._wrap(g) if create_graph and not isinstance(g, Tensor) else g


Tensor.backward = backward
