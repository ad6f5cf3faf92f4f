"""kinkgrad against PyTorch 2.13 on one program: values, ``.backward()``, ``kg.grad`` and ``kg.jvp``.

PyTorch gives the reference: the output, the leaves' ``.grad`` after ``sum(w * out).backward()``, and
``torch.func.jvp`` with the program's tangents. kinkgrad is asked the same four ways, each separately
(an error in one is reported as that quantity's mismatch). ``assert_matches_torch`` raises with a
report a developer can act on: which quantity differed and where, the first step at which it
differs (the op to suspect), the program, its inputs, and Python that reproduces it.

Tolerance: everything runs in float64 (eps 2.2e-16); a program has at most 12 ops on values bounded by
1e3 and domain shifts keep derivatives bounded, so the two libraries' different summation orders and
kernels differ by around a thousand eps at most. Arrays are compared as
``max|kg - torch| <= rtol * max(1, max|torch|)`` with ``rtol = table.RTOL = 1e-10`` (the largest
difference on agreeing programs was 2.8e-13, about 1,300 eps, over 20,000 programs); an op whose PyTorch
float64 kernel is known to be less accurate widens it for its programs (``FuzzOp.rtol``). NaN and
infinities must sit at the same places. A wrong derivative is off by far more: the self-test's 1% error
is 1e8 times rtol.
"""
from __future__ import annotations

import textwrap
import warnings
from dataclasses import dataclass

import numpy as np
import torch

import kinkgrad as kg

from .program import evaluate, policy
from .table import RTOL

QUANTITIES = ("value", "backward", "grad", "jvp")


@dataclass
class Mismatch:
    quantity: str          # "value", "backward", "grad" or "jvp"
    where: str             # "out", "leaf x1", "step v3", "tangent"
    detail: str
    kg: object = None
    torch: object = None

    def __str__(self):
        return f"{self.quantity} differs at {self.where}: {self.detail}"


def close(a, b, rtol):
    """(ok, why): same shape, NaN/inf at the same places, finite parts within rtol of the scale."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return False, f"shape {a.shape} vs torch {b.shape}"
    fa, fb = np.isfinite(a), np.isfinite(b)
    if not (np.array_equal(fa, fb) and np.array_equal(a[~fa], b[~fb], equal_nan=True)):
        return False, "NaN/inf at different places"
    if not fa.any():
        return True, ""
    scale = max(1.0, float(np.max(np.abs(b[fb]))))
    err = float(np.max(np.abs(a[fa] - b[fb]))) / scale
    return err <= rtol, f"max |kg - torch| = {err * scale:.3g} (relative to scale {scale:.3g}: {err:.3g} > {rtol:g})"


def reference(program, upto=None):
    """PyTorch's answers: env values, out, leaf gradients of sum(w * out), and the jvp of out."""
    xs = [torch.tensor(a, requires_grad=True) for a in program.leaves]
    env, out = evaluate(program, "torch", xs, upto)
    (out * torch.tensor(program.weights(out.numel()))).sum().backward()
    grads = [x.grad.numpy() if x.grad is not None else np.zeros_like(a) for x, a in zip(xs, program.leaves)]
    primals = tuple(torch.tensor(a) for a in program.leaves)
    tangents = tuple(torch.tensor(t) for t in program.tangents())
    _, jv = torch.func.jvp(lambda *ls: evaluate(program, "torch", ls, upto)[1], primals, tangents)
    return {"env": {k: v.detach().numpy() for k, v in env.items()}, "value": out.detach().numpy(),
            "backward": grads, "grad": grads, "jvp": jv.numpy()}


def _data(t):
    return None if t is None else np.asarray(t.data if isinstance(t, kg.Tensor) else t)


def kinkgrad_answers(program, size, upto=None):
    """kinkgrad's answers to the same questions (``size``: PyTorch's output size, for the cotangent
    weights); a quantity that raised holds the exception."""
    n, leaves = len(program.leaves), program.leaves
    w = program.weights(size)
    res = {}
    with policy(program.run), warnings.catch_warnings():
        warnings.simplefilter("ignore", kg.NonDifferentiableWarning)
        try:
            xs = [kg.tensor(a, requires_grad=True) for a in leaves]
            env, out = evaluate(program, "kg", xs, upto)
            res["env"] = {k: _data(v) for k, v in env.items()}
            res["value"] = _data(out)
            try:
                kg.sum(out * w).backward()
                res["backward"] = [np.zeros_like(a) if x.grad is None else _data(x.grad) for x, a in zip(xs, leaves)]
            except Exception as e:
                res["backward"] = e
        except Exception as e:
            res["value"] = res["backward"] = e
        try:
            g = kg.grad(lambda *ls: kg.sum(evaluate(program, "kg", ls, upto)[1] * w), argnums=tuple(range(n)))(*leaves)
            res["grad"] = [_data(v) for v in (g if isinstance(g, (tuple, list)) else (g,))]
        except Exception as e:
            res["grad"] = e
        try:
            primal, tangent = kg.jvp(lambda *ls: evaluate(program, "kg", ls, upto)[1], tuple(leaves),
                                     tuple(program.tangents()))
            res["jvp"] = _data(tangent)
            res["jvp_primal"] = _data(primal)
        except Exception as e:
            res["jvp"] = e
    return res


def compare(program, upto=None):
    """Every way kinkgrad differs from PyTorch on ``program`` (its first ``upto`` steps): a list of Mismatch."""
    ref = reference(program, upto)
    mine = kinkgrad_answers(program, ref["value"].size, upto)
    rtol = program.rtol() if program.steps[:upto] else RTOL
    found = []
    for q in QUANTITIES:
        got, want = mine[q], ref[q]
        if isinstance(got, Exception):
            found.append(Mismatch(q, "-", f"kinkgrad raised {type(got).__name__}: {got}"))
            continue
        if q in ("value", "jvp"):
            ok, why = close(got, want, rtol)
            if not ok:
                found.append(Mismatch(q, "out" if q == "value" else "tangent", why, got, want))
            value_ok = not any(m.quantity == "value" for m in found)
            if q == "jvp" and value_ok and not close(mine["jvp_primal"], ref["value"], rtol)[0]:
                found.append(Mismatch(q, "primal out", "kg.jvp's primal output differs from torch's value",
                                      mine["jvp_primal"], ref["value"]))
            continue
        for i, (a, b) in enumerate(zip(got, want)):
            ok, why = close(a, b, rtol)
            if not ok:
                found.append(Mismatch(q, f"leaf x{i}", why, a, b))
    if found and found[0].quantity == "value" and "env" in mine:
        for name, want in ref["env"].items():     # where the values part ways
            got = mine["env"].get(name)
            if not close(got if got is not None else np.nan, want, rtol)[0]:
                found[0].where = f"{found[0].where} (first differing variable: {name})"
                break
    return found


def first_step(program, quantity):
    """The first step after which ``quantity`` differs on the program cut there (the op to suspect)."""
    for k in range(1, len(program.steps) + 1):
        if any(m.quantity == quantity for m in compare(program, upto=k)):
            return k - 1
    return None


def report(program, mismatches):
    """The failure message: what differed, where it starts, the program, its inputs, a reproducer."""
    lines = ["kinkgrad differs from PyTorch 2.13:"]
    lines += [f"  {m}" for m in mismatches]
    k = first_step(program, mismatches[0].quantity)
    if k is not None:
        lines.append(f"  {mismatches[0].quantity} first differs after step v{k} = {program.steps[k].op}: suspect "
                     f"op '{program.steps[k].op}'")
    with np.printoptions(floatmode="unique", linewidth=120):
        for m in mismatches[:4]:
            if m.kg is not None:
                lines.append(f"  {m.quantity} at {m.where}:\n    kinkgrad: {np.asarray(m.kg)!r}\n"
                             f"    torch:    {np.asarray(m.torch)!r}")
        lines.append("program:")
        lines += ["  " + line for line in program.listing().splitlines()]
        lines.append("inputs:")
        lines += [f"  x{i} = {x!r}" for i, x in enumerate(program.leaves)]
        w = program.weights(reference(program)["value"].size)
        lines.append(f"  w = {w!r}  (cotangent of out)")
        lines += [f"  t{i} = {t!r}  (jvp tangent of x{i})" for i, t in enumerate(program.tangents())]
    lines.append("reproduce (from the repository root):")
    lines.append(textwrap.indent(reproducer(program), "  "))
    return "\n".join(lines)


def reproducer(program):
    return ("import sys; sys.path[:0] = ['src', 'tests']\n"
            "from numpy import array, inf\n"
            "from fuzz.program import Program, Step\n"
            "from fuzz.compare import compare\n"
            f"p = {program.source()}\n"
            "for m in compare(p): print(m)")


def assert_matches_torch(program):
    mismatches = compare(program)
    assert not mismatches, report(program, mismatches)
