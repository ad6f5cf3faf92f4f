"""Differential fuzzing against PyTorch 2.13: random programs of 3-12 ops over every primitive family.

``tests/fuzz/`` generates straight-line programs (elementwise smooth and nonsmooth functions, binary
operators with broadcasting, reductions with axes and keepdims, max/min with indices, shape ops,
indexing, gathers and where, matmul/einsum/affine, softmax/log_softmax/logsumexp, order statistics,
convolution and pooling, norms, losses) and compares kinkgrad with PyTorch on each: the output
values, the leaves' ``.grad`` after ``.backward()``, ``kg.grad``, and ``kg.jvp`` against
``torch.func.jvp``. Two runs:

* away from kinks, under the default policy: every nonsmooth step's inputs are at least 1e-3 from its
  kinks and ties (checked on the values it sees, then by ``kg.audit(tol=1e-3)`` on the whole program);
* at kinks and ties, under ``kg.kinks("torch")``: leaves are small integers and halves with repeats, so
  relu/abs/clip/maximum/max/sort/pooling... sit exactly on their kinks; the comparison is with
  PyTorch's own derivatives at the same points.

CI size (the default): 100 programs per run, derandomized (the same programs every time), plus one
short program per op variant and run; about 15 s. Long runs, for local use (new programs every time):

    KINKGRAD_FUZZ_EXAMPLES=20000 python -m pytest -q tests/test_fuzz.py     # programs per run
    python -m pytest -q tests/test_fuzz.py --fuzz-long                       # the same, 20,000

A failure prints the quantity that differed (value / backward / grad / jvp) and where, the op after
which it first differs, the program, its inputs, and Python that reproduces it. Op variants known to
differ are listed, with their reproducers, in ``tests/fuzz/known.py``.
"""
from __future__ import annotations

import contextlib
import io
import os
import zlib

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, Phase, given, settings

import kinkgrad as kg
from fuzz.compare import assert_matches_torch, compare, report
from fuzz.known import KNOWN_MISMATCHES
from fuzz.ops import FAMILIES, OPS
from fuzz.program import Program, RandomChooser, Step, audit, build, programs, usable
from fuzz.table import MARGIN, FuzzOp, unary

LONG = int(os.environ.get("KINKGRAD_FUZZ_EXAMPLES", "0") or 0)
FUZZ = settings(max_examples=LONG or 100, deadline=None, derandomize=not LONG, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """PyTorch's intra-op threads cost far more than they save on these tiny tensors (4x on 2 busy cores)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@FUZZ
@given(programs("default"))
def test_programs_away_from_kinks_match_torch(program):
    assert_matches_torch(program)


@FUZZ
@given(programs("torch"))
def test_programs_at_kinks_match_torch_under_the_torch_preset(program):
    assert_matches_torch(program)


def _seeded(name):
    return RandomChooser(np.random.default_rng(zlib.crc32(name.encode())))


@pytest.mark.parametrize("run", ["default", "torch"])
@pytest.mark.parametrize("name", sorted(OPS))
def test_every_op_variant_matches_torch(name, run):
    """One short program per op variant and run, so none depends on the random runs drawing it."""
    if not usable(OPS[name], run):
        assert OPS[name].at_kinks, f"{name} is left out of the {run} run without a reason"
        return
    program = build(_seeded(f"{name}/{run}"), run, length=3, force=name)
    assert program is not None and name in {s.op for s in program.steps}, f"could not build a program with {name}"
    assert_matches_torch(program)


def test_the_table_covers_every_primitive_family():
    assert set(FAMILIES) == {"smooth", "kinks", "binary", "reduce", "extreme", "softmax", "shape", "index", "linalg",
                             "order", "conv", "norm", "loss"}
    assert len(OPS) >= 100
    left_out = {name: op.at_kinks for name, op in OPS.items() if op.at_kinks}
    assert set(left_out) == {"softplus_exact", "median_even", "loss_pinball"}, left_out


def test_the_at_kinks_run_really_sits_on_kinks():
    """At-kinks programs reach kinks and ties whose convention changes the gradient (audit 'dependent'), both
    elementwise kinks and ties among candidates (about half of them do: 529 of 1,000 in a survey)."""
    rng = np.random.default_rng(0)
    built = [p for p in (build(RandomChooser(rng), "torch") for _ in range(40)) if p is not None]
    reports = [audit(p) for p in built]
    dependent = [r for r in reports if r.dependent]
    kinds = {row["kind"] for r in dependent for row in r.rows.values() if row["dependent"]}
    assert len(built) >= 35 and len(dependent) >= len(built) / 3, (len(built), len(dependent))
    assert {"kink", "tie"} <= kinds, kinds


def test_the_away_from_kinks_run_stays_off_kinks():
    """Nonsmooth ops are evaluated in these programs, and none of their elements is within MARGIN of a kink."""
    rng = np.random.default_rng(1)
    built = [p for p in (build(RandomChooser(rng), "default") for _ in range(30)) if p is not None]
    rows = [row for p in built for row in audit(p, tol=MARGIN).rows.values()]
    assert sum(row["evaluated"] for row in rows) > 100
    assert not [row for row in rows if row["at_kink"] or row["near_kink"]]


# -- the fuzzer catches a wrong derivative ----------------------------------------------------------
@kg.custom_jvp
def sin_wrong(x):
    return kg.sin(x)


@sin_wrong.defjvp
def _sin_wrong_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return kg.sin(x), kg.cos(x) * 1.01 * t       # 1% off: reverse mode (its transpose) is wrong too


PLANTED = {**OPS, "sin_wrong": FuzzOp("sin_wrong", "planted", sin_wrong, torch.sin, unary())}


def test_a_wrong_derivative_is_caught_with_the_op_named():
    @settings(max_examples=30, deadline=None, derandomize=True, database=None, phases=[Phase.generate],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(programs("default", table=PLANTED))
    def fuzz(program):
        assert_matches_torch(program)

    with pytest.raises(AssertionError) as failure:
        fuzz()
    message = str(failure.value)
    for what in ("backward differs", "grad differs", "jvp differs", "suspect op 'sin_wrong'", "program:",
                 "sin_wrong(", "inputs:", "x0 = array(", "reproduce"):
        assert what in message, what
    assert "value differs" not in message


@pytest.mark.parametrize("run", ["default", "torch"])
def test_every_quantity_is_compared(run):
    """The planted op differs in backward, kg.grad and kg.jvp but not in value; a wrong value is caught too (the
    derivatives downstream of it may then differ as well)."""
    program = build(_seeded(f"planted/{run}"), run, length=4, force="sin_wrong", table=PLANTED)
    found = {m.quantity for m in compare(program)}
    assert found == {"backward", "grad", "jvp"}, found
    shifted = {**OPS, "sin_wrong": FuzzOp("sin_wrong", "planted", lambda x: kg.sin(x) + 1e-6, torch.sin, unary())}
    program = build(_seeded(f"shifted/{run}"), run, length=4, force="sin_wrong", table=shifted)
    mismatches = compare(program)
    assert mismatches and mismatches[0].quantity == "value", [str(m) for m in mismatches]


def _raises(x):
    raise ValueError("planted failure")


def test_an_error_in_kinkgrad_is_reported_for_every_quantity():
    raising = {**OPS, "sin_wrong": FuzzOp("sin_wrong", "planted", _raises, torch.sin, unary())}
    program = Program("default", [np.array([0.5, 1.0])], [Step("exp", ("x0",), {"s": 0.0}), Step("sin_wrong", ("v0",))],
                      table=raising)
    mismatches = compare(program)
    assert [m.quantity for m in mismatches] == ["value", "backward", "grad", "jvp"]
    assert all("kinkgrad raised ValueError: planted failure" in str(m) for m in mismatches)
    assert "suspect op 'sin_wrong'" in report(program, mismatches)


def test_the_printed_reproducer_reproduces(monkeypatch):
    """Pasting the reproducer of a failure re-runs the same program and shows the same mismatch."""
    monkeypatch.setitem(OPS, "sin", PLANTED["sin_wrong"])
    program = Program("default", [np.array([0.3, -1.2]), np.array([[0.5], [2.0]])],
                      [Step("sin", ("x0",)), Step("multiply", ("v0", "x1")), Step("sum", ("v1",), {"axis": 0,
                                                                                                  "keepdims": False})],
                      seed=7)
    mismatches = compare(program)
    text = report(program, mismatches)
    snippet = text[text.index("reproduce (from the repository root):"):].split("\n", 1)[1]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile("\n".join(line[2:] for line in snippet.splitlines()), "<reproducer>", "exec"), {})
    assert out.getvalue().splitlines() == [str(m) for m in mismatches]
    assert "suspect op 'sin'" in text


def test_known_mismatches_still_differ():
    """Each known mismatch still reproduces; when kinkgrad agrees with PyTorch, remove its entry. (One test
    over the list, so an empty list is a passing test, not a skipped one.)"""
    for key, known in sorted(KNOWN_MISMATCHES.items()):
        mine, theirs = known.reproduce()
        assert not np.allclose(mine, theirs, equal_nan=True), f"{key} now matches PyTorch: remove it from fuzz/known.py"
