"""Random programs over the fuzz table: how they are built, printed and run in either library.

A ``Program`` is a straight-line sequence of steps ``v_j = op(args, params)`` over float64 leaves
``x_i``. Its output is every result nothing else consumes, raveled and concatenated; the scalar
``sum(w * out)`` (weights from the program's seed) is what ``.backward()`` and ``kg.grad`` differentiate,
and ``out`` is what ``kg.jvp`` pushes the seed's tangents through.

``build`` grows a program one step at a time while evaluating it (PyTorch is the reference value;
kinkgrad is evaluated alongside), so every step is checked on the values it will really see:

* run ``"default"`` (away from kinks): a nonsmooth step is kept only if its inputs are >= ``MARGIN``
  from its kinks and ties, in both libraries; finally the whole program is audited with
  ``kg.audit(tol=MARGIN)`` and rejected if any op reports an element at or near a kink;
* run ``"torch"`` (at kinks, under ``kg.kinks("torch")``): leaves are small integers and halves with
  repeats, so relu/abs/clip/max/sort/... land exactly on their kinks and ties; a step may sit on a
  kink only where kinkgrad's and PyTorch's inputs are bitwise equal (both then face the same point).

Choices come from a ``chooser``: hypothesis (``HypothesisChooser``, so failures shrink) or a NumPy
generator (``RandomChooser``, for surveys); leaf values always come from a NumPy generator seeded by
the chooser.
"""
from __future__ import annotations

import contextlib
import sys
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from hypothesis import assume
from hypothesis import strategies as st

import kinkgrad as kg

from .known import KNOWN_MISMATCHES
from .ops import OPS
from .table import MARGIN

MAX_SIZE = 64            # elements per variable: programs stay small, so hundreds run in seconds
VALUE_BOUND = 1e3        # |values| of every variable; keeps float64 round-off ~1e-13 relative
KINK_VALUES = np.array([-2.0, -1.0, -0.5, 0.0, 0.0, 0.5, 1.0, 2.0])   # at-kinks leaves: exact, with repeats
RUNS = {"default": "away from kinks, default policy", "torch": 'at kinks and ties, under kg.kinks("torch")'}


@dataclass
class Step:
    op: str
    args: tuple
    params: dict = field(default_factory=dict)

    def __repr__(self):
        return f"Step({self.op!r}, {self.args!r}, {self.params!r})"


@dataclass
class Program:
    run: str                  # "default" or "torch" (see RUNS)
    leaves: list              # float64 arrays: the inputs x0, x1, ...
    steps: list               # Step j defines v{j}
    seed: int = 0             # cotangent weights and jvp tangents
    table: dict = field(default=None, repr=False)   # op table (OPS unless a test plants its own op)

    def __repr__(self):      # what hypothesis prints; the failure message has the whole program
        return f"Program({self.run!r}, {len(self.steps)} steps: {', '.join(s.op for s in self.steps)})"

    def _repr_pretty_(self, printer, cycle):      # hypothesis's pretty printer would list every field
        printer.text(repr(self))

    def op(self, name):
        return (self.table or OPS)[name]

    def sinks(self, upto=None):
        """Names of the results no later step consumes (unused leaves included), in definition order."""
        steps = self.steps[:upto]
        used = {a for s in steps for a in s.args}
        names = [f"x{i}" for i in range(len(self.leaves))] + [f"v{j}" for j in range(len(steps))]
        return [n for n in names if n not in used]

    def weights(self, n):
        rng = np.random.default_rng(self.seed)
        if self.run == "torch":
            return rng.choice([-2.0, -1.0, 1.0, 2.0, 3.0], n)
        return rng.standard_normal(n)

    def tangents(self):
        rng = np.random.default_rng(self.seed + 1)
        return [rng.standard_normal(np.shape(x)) for x in self.leaves]

    def rtol(self):
        return max(self.op(s.op).rtol for s in self.steps)

    def listing(self):
        lines = [f"run: {RUNS[self.run]}"]
        lines += [f"x{i}: leaf of shape {np.shape(x)}" for i, x in enumerate(self.leaves)]
        for j, s in enumerate(self.steps):
            params = "".join(f", {k}={_fmt(v)}" for k, v in s.params.items())
            lines.append(f"v{j} = {s.op}({', '.join(s.args)}{params})")
        lines.append(f"out = concatenate(ravel of {', '.join(self.sinks())});  loss = sum(w * out)")
        return "\n".join(lines)

    def source(self):
        """Python that rebuilds this program (values printed exactly)."""
        with np.printoptions(floatmode="unique", threshold=sys.maxsize, linewidth=120):
            return (f"Program(run={self.run!r}, seed={self.seed},\n    leaves={self.leaves!r},\n"
                    f"    steps={self.steps!r})")


def _fmt(v):
    return f"array({v.tolist()})" if isinstance(v, np.ndarray) else repr(v)


def policy(run):
    """The kink policy a run compares under (the process default for ``"default"``)."""
    return kg.kinks("torch") if run == "torch" else contextlib.nullcontext()


def evaluate(program, lib, leaves, upto=None):
    """Run the first ``upto`` steps in ``lib`` ("kg" or "torch") on the leaf tensors: (env, out)."""
    env = {f"x{i}": x for i, x in enumerate(leaves)}
    for j, step in enumerate(program.steps[:upto]):
        fn = getattr(program.op(step.op), lib)
        env[f"v{j}"] = fn(*[env[a] for a in step.args], **step.params)
    parts = [env[n] for n in program.sinks(upto)]
    if lib == "kg":
        flat = [kg.ravel(p) for p in parts]
        return env, flat[0] if len(flat) == 1 else kg.concatenate(flat)
    flat = [p.reshape(-1) for p in parts]
    return env, flat[0] if len(flat) == 1 else torch.cat(flat)


def audit(program, tol=None):
    """kinkgrad's audit of one forward and backward pass of ``program`` under its run's policy."""
    with policy(program.run), kg.audit(tol=tol) as report, warnings.catch_warnings():
        warnings.simplefilter("ignore", kg.NonDifferentiableWarning)
        xs = [kg.tensor(a, requires_grad=True) for a in program.leaves]
        _, out = evaluate(program, "kg", xs)
        kg.sum(out * program.weights(int(np.prod(out.shape)))).backward()
    return report


# -- choosers ---------------------------------------------------------------------------------------
class HypothesisChooser:
    def __init__(self, draw):
        self.draw = draw

    def integer(self, lo, hi):
        return self.draw(st.integers(lo, hi))


class RandomChooser:
    def __init__(self, rng):
        self.rng = rng

    def integer(self, lo, hi):
        return int(self.rng.integers(lo, hi + 1))


# -- building ---------------------------------------------------------------------------------------
def usable(op, run):
    """Whether ``op`` takes part in ``run``: not excluded at kinks, not wholly a known mismatch there."""
    known = KNOWN_MISMATCHES.get((op.name, run))
    return not (run == "torch" and op.at_kinks) and (known is None or known.when is not None)


class Builder:
    """The program under construction, as the op plans see it (``g`` in the table)."""

    def __init__(self, chooser, run, table=None):
        self.chooser, self.run, self.table = chooser, run, table or OPS
        self.rng = np.random.default_rng(chooser.integer(0, 2 ** 32 - 1))
        self.leaves, self.steps, self.names = [], [], []
        self.shapes, self.tv, self.kv = {}, {}, {}     # name -> shape, PyTorch value, kinkgrad value (or None)

    # choices
    def int(self, lo, hi):
        return self.chooser.integer(lo, hi)

    def pick(self, options):
        return options[self.int(0, len(options) - 1)]

    def coin(self):
        return self.int(0, 1) == 1

    # shapes and axes
    def shape(self, name):
        return self.shapes[name]

    def val(self, name):
        return self.tv[name]

    def axis(self, shape, none=True, tuples=True):
        nd = len(shape)
        options = (["none"] if none or nd == 0 else []) + (["int"] if nd else []) + (["pair"] if tuples and nd >= 2
                                                                                    else [])
        kind = self.pick(options)
        if kind == "none":
            return None
        if kind == "int":
            return self.int(-nd, nd - 1)
        a, b = sorted(int(i) for i in self.rng.choice(nd, 2, replace=False))
        return (a, b - nd if self.coin() else b)

    def axes_of(self, shape, axis):
        if axis is None:
            return tuple(range(len(shape)))
        return tuple(a % len(shape) for a in ((axis,) if isinstance(axis, int) else axis))

    def factor_shape(self, size):
        dims = [1] * self.int(1, 4)
        n, p = size, 2
        while n > 1:
            while n % p:
                p += 1
            dims[self.int(0, len(dims) - 1)] *= p
            n //= p
        return tuple(dims)

    def random_shape(self):
        kind = self.int(0, 19)
        if kind == 0:
            return ()
        if kind >= 17:     # an image batch (N, C, H, W) for convolution and pooling, at most 64 elements
            n, c = self.pick([(1, 1), (1, 2), (1, 3), (2, 1), (2, 2)])
            return (n, c, self.int(2, 4), self.int(2, 4))
        nd = 1 if kind < 6 else 2 if kind < 13 else 3
        return tuple(self.int(1, 4) for _ in range(nd))

    # variables
    def var(self, fits=None, recent=True):
        """An existing variable whose shape fits (the latest one most of the time, so programs compose
        deeply), else a new leaf of a fitting shape, else None."""
        found = [n for n in self.names if fits is None or fits(self.shapes[n])]
        if found:
            return found[-1] if recent and self.int(0, 3) else self.pick(found)
        for _ in range(20):
            shape = self.random_shape()
            if fits(shape):
                return self.leaf(shape)
        return None

    def leaf(self, shape):
        name = f"x{len(self.leaves)}"
        value = (self.rng.choice(KINK_VALUES, shape) if self.run == "torch" else self.rng.standard_normal(shape))
        value = np.asarray(value, dtype=np.float64)
        self.leaves.append(value)
        self.names.append(name)
        self.shapes[name], self.tv[name], self.kv[name] = value.shape, value, value
        return name

    def operand(self, shape, into=False, same=False):
        """A second operand: an existing variable or a new leaf whose shape is ``shape`` (same), broadcasts
        into it (into), or broadcasts with it to at most MAX_SIZE elements."""
        def fits(s):
            if same:
                return s == tuple(shape)
            try:
                joint = np.broadcast_shapes(s, shape)
            except ValueError:
                return False
            return joint == tuple(shape) if into else int(np.prod(joint)) <= MAX_SIZE
        found = [n for n in self.names if fits(self.shapes[n])]
        if found and self.int(0, 4) < 2:
            return self.pick(found)
        if same:
            return self.leaf(tuple(shape))
        grow = not into and self.int(0, 3) == 0
        new = []
        for n in shape[self.int(0, len(shape)):]:     # trailing dims of shape, some set to 1 (or grown from 1)
            new.append(self.int(2, 3) if grow and n == 1 else 1 if self.int(0, 9) < 3 else n)
        if grow and self.coin():
            new = [self.int(1, 3)] + [1] * (len(shape) - len(new)) + new
        if int(np.prod(np.broadcast_shapes(tuple(new), tuple(shape)))) > MAX_SIZE:
            new = [1] * len(new)
        return self.leaf(tuple(new))

    # steps
    def attempt(self, op):
        """Plan, evaluate and check one step of ``op``; keep it (True) or undo it (False)."""
        mark = (len(self.leaves), len(self.names))
        plan = op.plan(self)
        if plan is None or not self._evaluate(op, *plan):
            for name in self.names[mark[1]:]:
                del self.shapes[name], self.tv[name], self.kv[name]
            del self.leaves[mark[0]:], self.names[mark[1]:]
            return False
        self.steps.append(Step(op.name, tuple(plan[0]), plan[1]))
        self.names.append(f"v{len(self.steps) - 1}")
        return True

    def _evaluate(self, op, args, params):
        name = f"v{len(self.steps)}"
        t_in = [self.tv[a] for a in args]
        known = KNOWN_MISMATCHES.get((op.name, self.run))
        if known is not None and (known.when is None or known.when(t_in, params)):
            return False     # the variant is a known mismatch (fuzz/known.py)
        with torch.no_grad():
            t_out = op.torch(*[torch.tensor(v) for v in t_in], **params).numpy()
        if not (t_out.dtype == np.float64 and 1 <= t_out.size <= MAX_SIZE and np.all(np.isfinite(t_out))
                and np.max(np.abs(t_out)) <= VALUE_BOUND):
            return False
        k_in = [self.kv[a] for a in args]
        have_kg = all(v is not None for v in k_in)
        if op.kink is not None:
            near = op.kink(t_in, params) < MARGIN or (have_kg and op.kink(k_in, params) < MARGIN)
            same = have_kg and all(np.array_equal(k, t) for k, t in zip(k_in, t_in))
            if near and (self.run == "default" or not same):
                return False
        k_out = None
        if have_kg:
            try:
                with policy(self.run), warnings.catch_warnings():
                    warnings.simplefilter("ignore", kg.NonDifferentiableWarning)
                    k_out = np.asarray(op.kg(*[kg.tensor(v) for v in k_in], **params).data)
            except Exception:      # kinkgrad fails here: compare() reports it with the whole program
                k_out = None
        self.shapes[name], self.tv[name], self.kv[name] = t_out.shape, t_out, k_out
        return True


def build(chooser, run, length=None, force=None, table=None):
    """A program of ``length`` steps (3-12 when None) for ``run``, or None when none could be grown.
    ``force``: an op name that must appear (it is attempted first, on fresh operands)."""
    b = Builder(chooser, run, table)
    for _ in range(b.int(1, 2)):
        b.leaf(b.random_shape())
    target = length or b.int(3, 12)
    if force is not None:
        for _ in range(30):
            if b.attempt(b.table[force]):
                break
            b.leaf(b.random_shape())      # fresh operands for the next try
        else:
            return None
    families = {}
    for op in b.table.values():
        if usable(op, run):
            families.setdefault(op.family, []).append(op)
    names = sorted(families)
    tries = 0
    while len(b.steps) < target and tries < 40 * target:
        tries += 1
        b.attempt(b.pick(families[b.pick(names)]))
    if len(b.steps) < min(3, target):
        return None
    program = Program(run, b.leaves, b.steps, seed=b.int(0, 2 ** 31 - 1), table=table)
    if run == "default":
        try:
            report = audit(program, tol=MARGIN)
        except Exception:      # kinkgrad fails on it: compare() reports that
            return program
        if any(r["near_kink"] or r["at_kink"] for r in report.rows.values()):
            return None
    return program


def programs(run, table=None):
    """A hypothesis strategy: programs for ``run`` (the choices are hypothesis draws, so a failure shrinks
    to a short program)."""
    @st.composite
    def strategy(draw):
        program = build(HypothesisChooser(draw), run, table=table)
        assume(program is not None)
        return program
    return strategy()
