"""The kink declarations test themselves: every declared primitive has a kink case, and at that kink
every preset gives what it promises, in reverse and forward mode.

The cases are in ``declaration_cases.py``, the independent expectations in ``kink_expectations.py``;
what each preset is checked against:

* ``left`` / ``right`` / ``mid``: the one-sided derivatives from differences (the slopes of the pieces
  beside the point; coordinate-wise at ties), their average; for sparsemax the two pieces' gradients;
  at singular points the one-sided limits;
* ``default``: the minimum-norm element of [left, right]; an even split at ties (the mean of the
  pieces' gradients); at a jump the slope of the piece holding the point's value; at singular points
  the limit;
* ``zero`` / ``nan``: 0 / NaN at the kink elements (at ties: on the Jacobian entries that differ
  between the pieces); ``random``: within the one-sided interval (the pieces' hull) and the same for
  the same seed; ``raise``: ``KinkError`` naming the op;
* ``torch``: live PyTorch 2.13 where it has the op; else the oracle's measured records
  (``tests/data/kink_conventions.json``); else the table's rule applied to the independent sides, as
  for ``jax`` / ``tensorflow`` wherever the oracle has no record.

Away from the kink elements every preset must give the ordinary derivative (central differences).
Every assertion message names the source its expectation came from (``kink_expectations.expected``).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache

import numpy as np
import pytest

import kinkgrad as kg
from declaration_cases import CASES, declared_kind
from kink_expectations import (
    EXACT,
    FD_ATOL,
    expected,
    gradient,
    limits,
    oracle_value,
    pieces,
    random_bounds,
    sides,
)
from kinkgrad.kinks.declare import DECLARED
from kinkgrad.kinks.presets import TABLES

AT_KINK = [p for p in kg.PRESETS if p not in ("directional", "raise", "random")]
EPS64 = float(np.finfo(np.float64).eps)
MODES = ("reverse", "forward")

# Known engine / declaration defects, each reproduced by the test it marks: (case, preset or check) -> why.
# strict=True: once the engine is fixed the test passes, the xfail fails, and the entry must go.
RANDOM_SEGMENT = ("random draws a new element of the Clarke set at every evaluation; a forward-mode Jacobian "
                  "built column by column evaluates once per column, and sparsemax's Clarke set at this kink is a "
                  "segment (not a box), so columns drawn from different points of it can leave the coordinate "
                  "bounds this test checks (reverse mode, one evaluation, stays inside)")
POWER_LEFT = ("power declares its right-hand limit p * inf at x = 0 on both sides; x**0.5 has no left side (sqrt "
              "declares NaN there), but a NaN partial for x would turn forward-mode derivatives with respect to "
              "p into NaN (a zero tangent times a NaN partial stays NaN, which the jax/tensorflow presets rely on)")
ENGINE = {("sparsemax", "random"): RANDOM_SEGMENT, ("power(x,0.5)", "left"): POWER_LEFT,
          ("power(x,0.5)", "mid"): POWER_LEFT, ("power(x,0.5)", "random"): POWER_LEFT}


def _params(cases, checks=(None,)):
    """pytest params (case, check) for each case and check (a preset or a check's name), marked xfail where
    ENGINE names a known failure; a case alone when ``checks`` is (None,)."""
    out = []
    for case in cases:
        for check in checks:
            reason = ENGINE.get((case.name, check))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            values, name = ((case,), case.name) if check is None else ((case, check), f"{case.name}-{check}")
            out.append(pytest.param(*values, id=name, marks=marks))
    return out


POINTWISE = [c for c in CASES if c.family in ("pointwise", "chained")]
TIES = [c for c in CASES if c.family in ("order", "pieces")]
SINGULAR = [c for c in CASES if c.family == "singular"]
NUMBERED = [c for c in CASES if c.family in ("pointwise", "singular") and c.elementwise]


def assert_close(got, want, atol, what):
    """Elementwise |got - want| <= atol + 8 eps |want| (``atol`` per element); NaN only where NaN is expected,
    infinities exactly."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    with np.errstate(invalid="ignore"):
        near = np.abs(got - want) <= np.broadcast_to(atol, want.shape) + 8 * EPS64 * np.abs(want)
    ok = (np.isnan(got) == np.isnan(want)) & (np.isnan(want) | (got == want) | (np.isfinite(want) & near))
    assert ok.all(), (f"{what}: got {got.tolist()}, expected {want.tolist()} "
                      f"(differ at {[tuple(i) for i in np.argwhere(~ok)]})")


# ================================================================================================
# coverage
# ================================================================================================
@cache
def library_declarations():
    """The ops kinkgrad itself declares: ``DECLARED`` as a fresh interpreter sees it after ``import kinkgrad``
    (this process's registry also holds the primitives other tests make with ``kg.Primitive(kinks=...)``)."""
    code = "import json, kinkgrad; from kinkgrad.kinks.declare import DECLARED; print(json.dumps(sorted(DECLARED)))"
    src = os.path.dirname(os.path.dirname(kg.__file__))          # the same kinkgrad as this process
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout)


def test_the_library_declarations_are_in_the_registry():
    assert set(library_declarations()) <= set(DECLARED)
    assert len(library_declarations()) >= 40


def test_every_declared_primitive_has_a_kink_case():
    missing = sorted(set(library_declarations()) - {c.op for c in CASES})
    assert not missing, (f"kinked primitives without a kink case: {missing}; add one to CASES in "
                         "tests/declaration_cases.py")
    stale = sorted({c.op for c in CASES} - set(DECLARED))
    assert not stale, f"cases for ops that declare no kinks: {stale}"


def test_every_declared_primitive_is_checked_under_every_preset():
    checked = {(c.op, p) for c in CASES for p in AT_KINK + ["random", "raise"]}
    presets = [p for p in kg.PRESETS if p != "directional"]
    missing = sorted((op, p) for op in library_declarations() for p in presets if (op, p) not in checked)
    assert not missing, f"(op, preset) pairs no test checks: {missing}"


TABLE_ENTRIES = [(preset, op) for preset, table in TABLES.items() for op in table]


@pytest.mark.parametrize("preset, op", [
    pytest.param(preset, op, id=f"{preset}-{op}",
                 marks=[pytest.mark.xfail(strict=True, reason=ENGINE[(preset, op)])] if (preset, op) in ENGINE else [])
    for preset, op in TABLE_ENTRIES])
def test_every_preset_entry_is_a_declared_op_and_rule(preset, op):
    """What a preset table says for an op, a user can say too: ``kg.kinks(op=rule)`` accepts it (the op
    declares kinks, and a rule word is a general one or one the op's declaration adds)."""
    with kg.kinks(**{op: TABLES[preset][op]}):
        pass


@pytest.mark.parametrize("case", _params([c for c in CASES if c.oracle is not None]))
def test_the_oracle_records_a_case_names_are_found(case):
    """A case naming oracle records finds at least one (else its jax / tensorflow checks silently fall back)."""
    mask = case.kink_mask()
    xs = case.x[mask] if mask is not None else [None]
    found = [oracle_value(case, preset, mode, case.oracle[1].format(x) if "{" in case.oracle[1] else case.oracle[1])
             for preset in ("torch", "jax", "tensorflow") for mode in ("reverse", "forward") for x in xs]
    assert any(v is not None for v in found), f"{case.name}: no record for {case.oracle}"


@pytest.mark.parametrize("case", _params(CASES))
def test_case_sits_on_a_kink_of_its_op(case):
    """The engine itself reports the case's op at a kink (so the case reaches the declared primitive)."""
    with kg.audit() as report:
        gradient(case, "reverse", None)
    hits = sum(r["at_kink"] for r in report.rows.values() if r["op"] == case.op)
    assert hits >= 1, f"{case.name}: no kink of {case.op} reached; audit rows {list(report.rows.values())}"


@pytest.mark.parametrize("case, check", _params(POINTWISE, ["at"]))
def test_declared_kinks_are_where_the_function_breaks(case, check):
    """``Kink.at`` marks exactly the elements where the one-sided slopes differ or the value steps, and
    the declared kind says which: ``jump`` where the value steps, a continuous kink or tie elsewhere."""
    s, mask = sides(case.name), case.kink_mask()
    broken = s.jump | (np.abs(s.left - s.right) > 1e-3)
    np.testing.assert_array_equal(mask, broken, err_msg=f"{case.name}: Kink.at {mask} vs breaks {broken}")
    assert np.all(s.jump[mask] == (declared_kind(case) == "jump")), (case.name, declared_kind(case), s.jump)


@pytest.mark.parametrize("case", _params(TIES))
def test_tie_cases_are_genuine_kinks(case):
    """Some coordinate's one-sided partials differ, and the pieces' gradients differ."""
    s = sides(case.name)
    assert np.any(np.abs(s.left - s.right) > 1e-3), (case.name, s.left, s.right)
    assert np.ptp(pieces(case.name).grads, axis=0).max() > 1e-3


@pytest.mark.parametrize("case", _params(SINGULAR))
def test_singular_points_are_where_the_derivative_blows_up(case):
    left, right = limits(case.name)
    blows_up = ~(np.isfinite(left) & np.isfinite(right))
    np.testing.assert_array_equal(case.kink_mask(), blows_up | (case.kink_mask() & case.smooth_here),
                                  err_msg=f"{case.name}: limits {left} / {right}")


# ================================================================================================
# every preset at the kink
# ================================================================================================
@pytest.mark.parametrize("case, preset", _params(CASES, AT_KINK))
def test_preset_at_the_kink(case, preset):
    for mode in MODES:
        want, atol, source = expected(case, preset, mode)
        got = gradient(case, mode, preset)
        assert_close(got, want, atol, f"{case.name} at x={case.x.tolist()} under {preset!r}, {mode} mode, "
                                      f"expected from {source}")


@pytest.mark.parametrize("case, preset", _params(CASES, ["random"]))
def test_random_is_in_the_clarke_set_and_reproducible(case, preset):
    lo, hi = random_bounds(case)
    must_be_nan = np.isnan(lo) | np.isnan(hi)
    for seed in (0, 1):
        for mode in MODES:
            got = gradient(case, mode, "random", seed=seed)
            np.testing.assert_array_equal(got, gradient(case, mode, "random", seed=seed))
            what = f"{case.name} under random (seed {seed}, {mode}): {got.tolist()} not in {lo.tolist()}..{hi.tolist()}"
            assert np.array_equal(np.isnan(got), must_be_nan), what
            ok = np.where(must_be_nan, True, (got >= lo) & (got <= hi))
            assert ok.all(), what


@pytest.mark.parametrize("case, preset", _params(CASES, ["raise"]))
def test_raise_names_the_op(case, preset):
    for mode in MODES:
        with pytest.raises(kg.KinkError) as info:
            gradient(case, mode, "raise")
        assert str(info.value).startswith(f"{case.op}:"), str(info.value)


# ================================================================================================
# options: a number for one op, singular=
# ================================================================================================
@pytest.mark.parametrize("case", _params(NUMBERED))
def test_a_number_is_the_derivative_at_the_kink(case):
    want = np.where(case.kink_mask(), 0.375, sides(case.name).central)
    for mode in MODES:
        assert_close(gradient(case, mode, None, **{case.op: 0.375}), want, np.where(case.kink_mask(), EXACT, FD_ATOL),
                     f"{case.name}: kinks({case.op}=0.375), {mode} mode")


@pytest.mark.parametrize("option", ["limit", "zero", "nan"])
@pytest.mark.parametrize("case", _params(SINGULAR))
def test_singular_option(case, option):
    at_limit, atol, _ = expected(case, "default", "reverse")
    mask = case.kink_mask()
    want = {"limit": at_limit, "zero": np.where(mask, 0.0, at_limit), "nan": np.where(mask, np.nan, at_limit)}[option]
    for mode in MODES:
        assert_close(gradient(case, mode, None, singular=option), want, atol, f"{case.name}: singular={option!r}")


@pytest.mark.parametrize("case", _params(SINGULAR))
def test_singular_raise(case):
    for mode in MODES:
        with pytest.raises(kg.KinkError) as info:
            gradient(case, mode, None, singular="raise")
        assert str(info.value).startswith(f"{case.op}:"), str(info.value)
