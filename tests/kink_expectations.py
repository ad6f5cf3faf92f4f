"""What each preset must give at a kink case, computed independently of the declarations' ``left`` / ``right``.

* one-sided derivatives by differences (float64, h = 2**-20), taken as the slope of the smooth piece
  on each side: ``(f(x - h) - f(x - 2h)) / h`` and ``(f(x + 2h) - f(x + h)) / h``, so they exist at
  jumps too (the derivative of the piece, not the infinite difference quotient across the step);
* ties: the gradients of the pieces meeting at the point, got by breaking the tie with a tiny
  perturbation (``DELTA`` times a permutation) and differentiating there, where nothing ties;
* singular points: the one-sided limit of the derivative, from how those slopes grow as h shrinks;
* the measured conventions: live PyTorch 2.13, and the oracle's records (``kink_cases``).
"""
from __future__ import annotations

import contextlib
import itertools
import warnings
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch

import kink_cases as kc
import kinkgrad as kg
from declaration_cases import BY_NAME, DELTA, declared_kind
from kinkgrad.kinks.presets import BASE, TABLES

H = 2.0 ** -20
# Piece slopes (f(x - h) - f(x - 2h)) / h differ from the one-sided derivative by at most
# 1.5 h max|f''| (a Taylor step from x - 1.5 h): <= 2.64 h for the largest curvature here (selu's
# left piece, 1.76); rounding adds ~2 eps64 |f| / h ~ 4e-9 for |f| <= 8. Central differences away
# from kinks are far closer (h^2 |f'''| / 6 + rounding). Convention differences are >= 1e-2.
FD_ATOL = 4 * H
GROWTH = 100.0        # a slope growing 100x when h shrinks 2**20-fold diverges (|x|^-1/2 grows 1024x)


# -- running kinkgrad ----------------------------------------------------------------------------------------
@contextlib.contextmanager
def _quiet():
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", kg.NonDifferentiableWarning)    # floor, sign...: gradients cut by design
        warnings.simplefilter("ignore", RuntimeWarning)                 # log(0), 1/0 in forward values
        yield


def gradient(case, mode, preset=None, **policy):
    """d sum(w * fn(x)) / dx under ``kg.kinks(preset, **policy)``: reverse mode by ``kg.vjp``, forward
    mode by ``kg.jvp`` (one tangent of ones for elementwise cases, else one basis tangent per element)."""
    x = case.x
    with _quiet(), kg.kinks(preset, **policy):
        if mode == "reverse":
            out, pullback = kg.vjp(case.fn, x)
            return np.asarray(pullback(case.cotangent(out.shape))[0].data, dtype=np.float64)
        if case.elementwise:
            out, tan = kg.jvp(case.fn, (x,), (np.ones_like(x),))
            return case.cotangent(out.shape) * np.asarray(tan.data, dtype=np.float64)
        g = np.zeros(x.size)
        for i in range(x.size):
            e = np.zeros(x.size)
            e[i] = 1.0
            out, tan = kg.jvp(case.fn, (x,), (e.reshape(x.shape),))
            g[i] = np.sum(case.cotangent(out.shape) * np.asarray(tan.data))
        return g.reshape(x.shape)


def _values(case, x):
    with _quiet():
        return np.asarray(case.fn(kg.tensor(np.asarray(x, dtype=np.float64))).data, dtype=np.float64)


def _objective(case, x):
    out = _values(case, x)
    return float(np.sum(case.cotangent(out.shape) * out))


def _outer_objective(case, c):
    out = case.outer(c)
    return float(np.sum(case.cotangent(np.shape(out)) * out))


def _shifted(case, steps):
    """f (elementwise) or sum(w * f) per coordinate, at x + k e_i for each shift k in ``steps``; for a
    chained case, the function of the op's own input at c + k e_i (c = inner(x))."""
    if case.inner is not None:
        x, objective = case.inner(case.x), lambda c: _outer_objective(case, c)
    else:
        x, objective = case.x, lambda v: _objective(case, v)
    if case.elementwise:
        assert case.w is None, "elementwise cases use cotangent ones"
        return [_values(case, x + k) for k in steps]
    out = []
    for k in steps:
        g = np.empty(x.size)
        for i in range(x.size):
            e = np.zeros(x.size)
            e[i] = k
            g[i] = objective(x + e.reshape(x.shape))
        out.append(g.reshape(x.shape))
    return out


def _inner_jacobian(case):
    """d inner(x) / dx (inner is linear: its values on the basis vectors), (size of c) x (size of x)."""
    eye = np.eye(case.x.size)
    return np.stack([case.inner(e.reshape(case.x.shape)).ravel() for e in eye], axis=1)


def pull_back(case, g, absolute=False):
    """g (per element of the op's own input) carried back to x by the chain rule through ``inner``;
    structural zeros of its Jacobian stay zero next to NaN or inf (no 0 * NaN)."""
    if case.inner is None:
        return g
    J = _inner_jacobian(case)
    J = np.abs(J) if absolute else J
    with np.errstate(invalid="ignore"):
        terms = np.where(J != 0, J * np.asarray(g, dtype=np.float64).ravel()[:, None], 0.0)
    return terms.sum(axis=0).reshape(case.x.shape)


@dataclass
class Sides:
    left: np.ndarray         # slope of the piece left of the point
    right: np.ndarray        # slope of the piece right of the point
    central: np.ndarray      # the derivative where there is no kink
    jump: np.ndarray         # the value steps here
    holding: np.ndarray      # slope of the piece that holds the point's own value (its side of a jump)


@cache
def sides(name, h=H):
    """One-sided piece slopes of each coordinate (float64 differences with step ``h``)."""
    case = BY_NAME[name]
    with np.errstate(all="ignore"):
        fm2, fm1, f0, fp1, fp2 = _shifted(case, (-2 * h, -h, 0.0, h, 2 * h))
        left, right = (fm1 - fm2) / h, (fp2 - fp1) / h
        from_left, from_right = np.abs(f0 - fm1) <= 1e-3, np.abs(fp1 - f0) <= 1e-3
        holding = np.where(from_left, left, right)
        return Sides(left, right, (fp1 - fm1) / (2 * h), ~(from_left & from_right), holding)


@cache
def limits(name):
    """The one-sided limits of the derivative at singular points: +-inf where the piece slope grows
    ``GROWTH``-fold as h shrinks from 2**-20 to 2**-40, NaN where the function is undefined, else the slope."""
    coarse, fine = sides(name, H), sides(name, 2.0 ** -40)
    out = []
    for c, f in ((coarse.left, fine.left), (coarse.right, fine.right)):
        with np.errstate(all="ignore"):
            grows = np.abs(f) > GROWTH * np.maximum(np.abs(c), 1.0)
            out.append(np.where(np.isnan(c) | np.isnan(f), np.nan, np.where(grows, np.sign(f) * np.inf, c)))
    return tuple(out)


def min_norm(left, right):
    """The element of [min(l, r), max(l, r)] closest to 0."""
    lo, hi = np.minimum(left, right), np.maximum(left, right)
    return np.where(lo > 0, lo, np.where(hi < 0, hi, 0.0))


# -- ties: the pieces meeting at the point -------------------------------------------------------------------
def _jacobian(case, x):
    with _quiet():
        out = _values(case, x)
        return np.asarray(kg.jacobian(case.fn)(x).data, dtype=np.float64).reshape(out.size, x.size), out.shape


def _tie_breaks(x):
    """Perturbations DELTA * (a ranking) that order every group of equal values in each possible way."""
    flat = x.ravel()
    groups = [np.flatnonzero(flat == v) for v in np.unique(flat)]
    groups = [g for g in groups if len(g) > 1]
    for orders in itertools.product(*(itertools.permutations(range(len(g))) for g in groups)):
        d = np.zeros(flat.size)
        for g, o in zip(groups, orders):
            d[g] = DELTA * np.array(o)
        yield d.reshape(x.shape)


@dataclass
class Pieces:
    jacobians: list          # one (outputs x inputs) Jacobian per piece
    grads: np.ndarray        # w @ J per piece
    first: np.ndarray        # the piece in which the first tied candidate wins
    last: np.ndarray         # ... the last one
    w: np.ndarray


@cache
def pieces(name):
    case = BY_NAME[name]
    x = case.x
    if case.family == "pieces":
        perturbations = list(case.sides)
    else:
        perturbations = list(_tie_breaks(x))
    jacobians, shape = zip(*(_jacobian(case, x + d) for d in perturbations))
    w = case.cotangent(shape[0]).ravel()
    grads = np.array([(w @ J).reshape(x.shape) for J in jacobians])
    if case.family == "order":
        rank = case.first_wins * DELTA * np.arange(x.size).reshape(x.shape)
        first, last = ((w @ _jacobian(case, x + s * rank)[0]).reshape(x.shape) for s in (1, -1))
    else:
        first = last = None
    return Pieces(list(jacobians), grads, first, last, w)


def convention_free(p, rule):
    """``zero`` / ``nan`` at ties: an (output, input) entry of the Jacobian that differs between the pieces
    depends on the convention; ``zero`` drops those entries, ``nan`` marks every input that has one."""
    J = np.array(p.jacobians)
    differs = np.any(np.abs(J - J[0]) > 1e-12, axis=0) & (p.w[:, None] != 0)
    kept = p.w @ np.where(differs, 0.0, J[0])
    if rule == "nan":
        kept = np.where(differs.any(axis=0), np.nan, kept)
    return kept.reshape(p.grads.shape[1:])


def segment_min_norm(p):
    """The minimum-norm (Frobenius) Jacobian on the segment between the two pieces, times w."""
    a, b = p.jacobians
    d = b - a
    t = 0.0 if not d.any() else float(np.clip(-np.sum(a * d) / np.sum(d * d), 0.0, 1.0))
    return (p.w @ (a + t * d)).reshape(p.grads.shape[1:])


# -- the other sources: live PyTorch and the measured oracle -------------------------------------------------
@cache
def torch_gradient(name):
    case = BY_NAME[name]
    x = torch.tensor(case.x, dtype=torch.float64, requires_grad=True)
    out = case.torch(x)
    (g,) = torch.autograd.grad((out * torch.as_tensor(case.cotangent(tuple(out.shape)))).sum(), x)
    return g.numpy()


_FRAMEWORK = {"torch": ("torch", "torch.func.jvp"), "jax": ("jax.vjp", "jax.jvp"), "tensorflow": ("tf", "tf.jvp")}
_ORACLE = {(r["op"], r["point"], r["wrt"], r["cotangent"], r["framework"]): r
           for r in kc.load_records() if r["dtype"] == "float64"}


def oracle_value(case, preset, mode, point):
    """The measured value for ``point`` (None when not measured, or measured on a composite stand-in)."""
    op, _, wrt = case.oracle
    cot = "ones" if case.w is None else f"w={[float(v) for v in case.w]}"
    rec = _ORACLE.get((op, point, wrt, cot, _FRAMEWORK[preset][mode == "forward"]))
    if rec is None or rec.get("impl") != "native":
        return None
    return kc.value_of(rec)


def table_rule(op, preset):
    """The rule the preset's table names for ``op`` (its base rule when the table has no entry)."""
    return TABLES.get(preset, {}).get(op, BASE[preset])


# -- what a preset must give -----------------------------------------------------------------------------------
EXACT = 1e-12         # for values that are not differences: pieces' Jacobians, measured values, rule constants


def _elementwise_rule(case, rule):
    """(value, atol) a rule gives at a kink of a pointwise or singular case, from the independent sides."""
    if case.family == "singular":
        left, right = limits(case.name)
        if rule in ("default", "limit"):     # the presets' singular= option is "limit": the true one-sided limit
            return np.where(np.isnan(left), right, np.where(np.isnan(right), left, np.where(left == right, left,
                                                                                           np.nan))), FD_ATOL
    else:
        s = sides(case.name)
        left, right = s.left, s.right
        if rule == "default":
            if declared_kind(case) == "tie":     # the minimum-norm element of conv{e_a, e_b}: an even split
                return np.full(case.x.shape, 1.0 / len(case.inputs)), EXACT
            # a jump has no Clarke interval: the slope of the piece that holds the point's own value
            return np.where(s.jump, s.holding, min_norm(left, right)), FD_ATOL
    with np.errstate(all="ignore"):
        if callable(rule):      # a preset's own function of one kink's sides (and the op's inputs)
            value = [rule(lv, rv, case.op_inputs(), case.params) for lv, rv in zip(left.ravel(), right.ravel())]
            return np.array(value, dtype=np.float64).reshape(case.x.shape), FD_ATOL
        if isinstance(rule, (int, float)) and not isinstance(rule, bool):
            return np.full(case.x.shape, float(rule)), EXACT
        words = {"left": (left, FD_ATOL), "right": (right, FD_ATOL), "mid": ((left + right) / 2, FD_ATOL),
                 "zero": (np.zeros(case.x.shape), EXACT), "nan": (np.full(case.x.shape, np.nan), EXACT),
                 "split": (np.full(case.x.shape, 1.0 / len(case.inputs)), EXACT),
                 "first": (np.full(case.x.shape, float(case.wrt == 0)), EXACT),
                 "last": (np.full(case.x.shape, float(case.wrt == len(case.inputs) - 1)), EXACT)}
    if rule not in words:
        raise ValueError(f"{case.name}: no independent expectation for rule {rule!r}")
    return words[rule]


def _tie_rule(case, rule):
    """(value, atol) a rule gives at a tie (order) or at sparsemax's threshold (pieces)."""
    p = pieces(case.name)
    if rule in ("zero", "nan"):
        return convention_free(p, rule), EXACT
    if case.family == "pieces":
        words = {"default": segment_min_norm(p), "left": p.grads[0], "right": p.grads[1],
                 "mid": (p.grads[0] + p.grads[1]) / 2}
        if rule in words:
            return words[rule], EXACT
    else:
        s = sides(case.name)
        words = {"default": p.grads.mean(axis=0), "split": p.grads.mean(axis=0), "first": p.first, "last": p.last,
                 # median's "linear": between the two middle order statistics, ties to the first in stable order
                 "linear": p.first}
        if rule in words:
            return words[rule], EXACT
        if rule in ("left", "right", "mid"):
            return {"left": s.left, "right": s.right, "mid": (s.left + s.right) / 2}[rule], FD_ATOL
    raise ValueError(f"{case.name}: no independent expectation for rule {rule!r}")


def expected(case, preset, mode):
    """(values, atol, source): what ``preset`` must give in ``mode``, and where that comes from. Away from
    the kink elements of pointwise and singular cases: the ordinary derivative (central differences)."""
    rule = table_rule(case.op, preset)
    if case.family in ("order", "pieces"):
        if preset == "torch" and case.torch is not None:
            return torch_gradient(case.name), EXACT, "live PyTorch 2.13"
        if preset in _FRAMEWORK and case.oracle is not None:
            v = oracle_value(case, preset, mode, case.oracle[1])
            if v is not None:
                return v.reshape(case.x.shape), EXACT, f"the oracle's {_FRAMEWORK[preset][mode == 'forward']} record"
        value, atol = _tie_rule(case, rule)
        return value, atol, f"rule {_name(rule)} on the pieces / one-sided differences"
    mask = case.kink_mask()
    if preset == "torch" and case.torch is not None:
        at, at_atol, source = torch_gradient(case.name), EXACT, "live PyTorch 2.13"
    else:
        at, at_atol = _elementwise_rule(case, rule)
        at, at_atol = np.array(at, dtype=np.float64), np.full(case.x.shape, at_atol)
        source = f"rule {_name(rule)} on the one-sided {'limits' if case.family == 'singular' else 'differences'}"
        if preset in _FRAMEWORK and case.oracle is not None:
            measured = 0
            for idx in zip(*np.nonzero(mask)):
                point = case.oracle[1].format(case.x[idx]) if "{" in case.oracle[1] else case.oracle[1]
                v = oracle_value(case, preset, mode, point)
                if v is not None:
                    at[idx] = v if np.ndim(v) == 0 else v[idx]
                    at_atol[idx] = EXACT
                    measured += 1
            if measured:
                source = f"the oracle's {_FRAMEWORK[preset][mode == 'forward']} records ({measured}), else " + source
    values = pull_back(case, np.where(mask, at, sides(case.name).central))
    atol = pull_back(case, np.where(mask, at_atol, FD_ATOL), absolute=True)
    if case.inner is not None:
        source += ", carried back through the op's input map"
    if mode == "forward" and preset in ("jax", "tensorflow") and not case.elementwise and np.isnan(values).any():
        # as these frameworks compute a JVP (each partial times its tangent, summed), a NaN partial makes its
        # output's tangent NaN for every basis tangent (0 * NaN), so every forward-mode element is NaN
        values, source = np.full(case.x.shape, np.nan), source + ", NaN partials spread by the JVP's 0 * NaN"
    return values, atol, source


def random_bounds(case):
    """Where ``random`` must land: (lo, hi) per element; NaN bounds where the value must be NaN."""
    if case.family in ("order", "pieces"):
        g = pieces(case.name).grads
        return g.min(axis=0) - EXACT, g.max(axis=0) + EXACT
    mask = case.kink_mask()
    central = sides(case.name).central
    if case.family == "singular":
        left, right = limits(case.name)
    else:
        left, right = sides(case.name).left, sides(case.name).right
    with np.errstate(invalid="ignore"):
        lo = np.where(mask, np.minimum(left, right) - FD_ATOL, central - FD_ATOL)
        hi = np.where(mask, np.maximum(left, right) + FD_ATOL, central + FD_ATOL)
    if case.inner is None:
        return lo, hi
    J = _inner_jacobian(case)          # interval arithmetic through the linear map
    mid, half = (lo + hi).ravel() / 2, (hi - lo).ravel() / 2
    return ((mid @ J - half @ np.abs(J)).reshape(case.x.shape), (mid @ J + half @ np.abs(J)).reshape(case.x.shape))


def _name(rule):
    return getattr(rule, "__name__", None) or repr(rule)
