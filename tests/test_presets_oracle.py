"""The ``torch``, ``jax`` and ``tensorflow`` presets against the measured oracle.

For every record of ``tests/data/kink_conventions.json`` whose framework is a reverse-mode column
(``torch``, ``jax.vjp``, ``tf``: preset ``torch`` / ``jax`` / ``tensorflow``) or a forward-mode
column (``torch.func.jvp``, ``jax.jvp``, ``tf.jvp``), in float64 and float32, kinkgrad's value under
that preset must equal the measured one:

* reverse mode: ``kg.vjp`` of the op with the record's cotangent (ones or the listed weights);
* forward mode, exactly as the oracle computed it: for each element i of the ``wrt`` input,
  ``kg.jvp`` with tangent e_i on it and zero tangents on the other inputs, contracted with the
  same weights in the record's dtype.

NaN must match NaN, +-inf must match the same infinity, -0.0 equals 0.0. See ``assert_matches``
for the tolerance.

Records excluded from the main parametrization (``test_excluded_set_is_exactly_the_documented_one``
checks that the exclusions are exactly these, by category and (op, framework) counts):

1. ``no value`` (180 records): the framework returned ``"none"``, raised (``"error: ..."``) or has no
   such op (``"n/a: ..."``). kinkgrad never returns a missing gradient, so these are not targets.
   none: tf/tf.jvp floor, ceil, trunc, round, float(x > 0), float(argmax(x)), heaviside; tf.jvp
   sign. error: torch heaviside, float(x > 0), float(argmax(x)); torch.func.jvp heaviside.
   n/a: jax/tf max(x, dim=0).values, min(x, dim=0).values, median(x, dim=0).values,
   smooth_l1 (beta=1 and beta=0); jax huber; tf cummax, median(x), quantile (0.5 and 1.0),
   sort(x, stable=True).
2. ``composite`` (12 records): ``impl`` is not "native": a composition the oracle wrote for a
   framework lacking the op, not that framework's convention: jax.vjp/jax.jvp
   ``L1 / MAE loss(pred, true)`` (jnp.mean(jnp.abs(p - t))); tf/tf.jvp ``clip(x, min=0) (clamp_min)``
   (tf.clip_by_value(x, lo, dtype.max)).
3. ``not provided`` (4 records): torch/torch.func.jvp ``median(x, dim=0).values``: kinkgrad has no
   median-with-indices (``kink_cases.NOT_PROVIDED``).
4. ``nan leak`` (8 records): torch/jax.vjp ``where(x > 0, sqrt(x), 0)`` at x=-1 and x=0 return NaN:
   the unselected branch's NaN leaking into the gradient, a defect, not a convention. kinkgrad is
   NaN-safe under every preset: ``test_nan_leak_rows_give_zero`` asserts 0 there instead.
5. ``forward zero-tangent NaN`` (6 records): torch.func.jvp/jax.jvp/tf.jvp ``pow(x, p)`` wrt p at
   x=0, p=0.5: NaN from the zero tangent on x times the *infinite* partial d(x**p)/dx = 0.5 * 0**-0.5,
   where the same framework's reverse mode gives a finite value. In kinkgrad's forward mode a zero
   tangent times an infinite partial is 0 (a NaN partial stays NaN, so jax.jvp/tf.jvp at x=0, p=0,
   whose partial is NaN by those presets' own rule, are ordinary targets), so
   ``test_forward_zero_tangent_rows_give_reverse_value`` asserts the finite reverse-mode value.
"""
from __future__ import annotations

import re
import warnings
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest

import kink_cases as kc
import kinkgrad as kg

RECORDS = kc.load_records()
TARGET_FRAMEWORKS = set(kc.REVERSE) | set(kc.FORWARD)
DTYPES = ("float64", "float32")

EXCLUDED = {
    "no value": {
        ("ceil(x)", "tf"): 6, ("ceil(x)", "tf.jvp"): 6,
        ("floor(x)", "tf"): 6, ("floor(x)", "tf.jvp"): 6,
        ("trunc(x)", "tf"): 6, ("trunc(x)", "tf.jvp"): 6,
        ("round(x)", "tf"): 6, ("round(x)", "tf.jvp"): 6,
        ("sign(x)", "tf.jvp"): 4,
        ("float(x > 0)", "tf"): 2, ("float(x > 0)", "tf.jvp"): 2, ("float(x > 0)", "torch"): 2,
        ("float(argmax(x))", "tf"): 2, ("float(argmax(x))", "tf.jvp"): 2, ("float(argmax(x))", "torch"): 2,
        ("heaviside(x, 0.5)", "tf"): 2, ("heaviside(x, 0.5)", "tf.jvp"): 2,
        ("heaviside(x, 0.5)", "torch"): 2, ("heaviside(x, 0.5)", "torch.func.jvp"): 2,
        ("max(x, dim=0).values", "jax.vjp"): 2, ("max(x, dim=0).values", "jax.jvp"): 2,
        ("max(x, dim=0).values", "tf"): 2, ("max(x, dim=0).values", "tf.jvp"): 2,
        ("min(x, dim=0).values", "jax.vjp"): 2, ("min(x, dim=0).values", "jax.jvp"): 2,
        ("min(x, dim=0).values", "tf"): 2, ("min(x, dim=0).values", "tf.jvp"): 2,
        ("median(x, dim=0).values", "jax.vjp"): 2, ("median(x, dim=0).values", "jax.jvp"): 2,
        ("median(x, dim=0).values", "tf"): 2, ("median(x, dim=0).values", "tf.jvp"): 2,
        ("smooth_l1(pred, true, beta=1)", "jax.vjp"): 4, ("smooth_l1(pred, true, beta=1)", "jax.jvp"): 4,
        ("smooth_l1(pred, true, beta=1)", "tf"): 4, ("smooth_l1(pred, true, beta=1)", "tf.jvp"): 4,
        ("smooth_l1(pred, true, beta=0)", "jax.vjp"): 4, ("smooth_l1(pred, true, beta=0)", "jax.jvp"): 4,
        ("smooth_l1(pred, true, beta=0)", "tf"): 4, ("smooth_l1(pred, true, beta=0)", "tf.jvp"): 4,
        ("huber(pred, true, delta=1)", "jax.vjp"): 8, ("huber(pred, true, delta=1)", "jax.jvp"): 8,
        ("cummax(x)", "tf"): 4, ("cummax(x)", "tf.jvp"): 4,
        ("median(x)", "tf"): 6, ("median(x)", "tf.jvp"): 6,
        ("quantile(x, 0.5)", "tf"): 4, ("quantile(x, 0.5)", "tf.jvp"): 4,
        ("quantile(x, 1.0)", "tf"): 2, ("quantile(x, 1.0)", "tf.jvp"): 2,
        ("sort(x, stable=True)", "tf"): 2, ("sort(x, stable=True)", "tf.jvp"): 2,
    },
    "composite": {
        ("L1 / MAE loss(pred, true)", "jax.vjp"): 4, ("L1 / MAE loss(pred, true)", "jax.jvp"): 4,
        ("clip(x, min=0)  (clamp_min)", "tf"): 2, ("clip(x, min=0)  (clamp_min)", "tf.jvp"): 2,
    },
    "not provided": {
        ("median(x, dim=0).values", "torch"): 2, ("median(x, dim=0).values", "torch.func.jvp"): 2,
    },
    "nan leak": {
        ("where(x > 0, sqrt(x), 0)", "torch"): 4, ("where(x > 0, sqrt(x), 0)", "jax.vjp"): 4,
    },
    "forward zero-tangent NaN": {
        ("pow(x, p)  (both tensors)", "torch.func.jvp"): 2, ("pow(x, p)  (both tensors)", "jax.jvp"): 2,
        ("pow(x, p)  (both tensors)", "tf.jvp"): 2,
    },
}


def _key(r):
    return (r["framework"], r["op"], r["point"], r["dtype"], r["wrt"], r["cotangent"])


_BY_KEY = {_key(r): r for r in RECORDS}


def reverse_twin(r):
    """The same framework's reverse-mode record for a forward-mode record."""
    k = list(_key(r))
    k[0] = kc.REVERSE_OF_FORWARD[r["framework"]]
    return _BY_KEY[tuple(k)]


def _is_nan(value):
    v = kc.value_of({"value": value})
    return v is not None and bool(np.isnan(v).any())


def exclusion(r):
    """The documented reason a target record is not in the main parametrization, or None."""
    if kc.is_missing(r["value"]):
        return "no value"
    if r.get("impl") != "native":
        return "composite"
    if kc.OPS[r["op"]].fn is None:
        return "not provided"
    if r["op"].startswith("where(") and _is_nan(r["value"]):
        return "nan leak"
    if r["framework"] in kc.FORWARD and _is_nan(r["value"]) and r["point"] == "x=0, p=0.5":
        twin = reverse_twin(r)
        tv = kc.value_of(twin)
        if tv is not None and np.isfinite(tv).all():
            return "forward zero-tangent NaN"
    return None


TARGETS = [r for r in RECORDS if r["framework"] in TARGET_FRAMEWORKS]


def _short(op):
    return op.split("  ")[0]


def case_id(r):
    multi = len(kc.parse_point(r["point"])) > 1
    point = re.sub(r"\s+", " ", r["point"])
    rid = f"{r['framework']}-{_short(r['op'])}@{point}"
    if multi:
        rid += f"/d{r['wrt']}"
    if r["cotangent"] != "ones":
        rid += f"/{r['cotangent']}"
    return f"{rid}-{r['dtype']}"


def _params(kind):
    out = [pytest.param(r, id=case_id(r)) for r in TARGETS if exclusion(r) == kind]
    ids = [p.id for p in out]
    assert len(set(ids)) == len(ids), "pytest ids must be unique"
    return out


MAIN = _params(None)
LEAK = _params("nan leak")
FWD_NAN = _params("forward zero-tangent NaN")


# -- comparing ---------------------------------------------------------------------------------
def _small_rational(v):
    """True for values like 0, 1, -0.5, 5.5, 0.25: a binary fraction with a denominator <= 1024
    and a modest numerator, which every framework and kinkgrad compute exactly."""
    f = Fraction(float(v))
    return f.denominator <= 1024 and abs(f.numerator) <= 2 ** 20


# Tolerance for everything else: rtol = 8 * eps(dtype). These values are transcendental results
# (selu's scale * alpha, softplus' sigmoid(x) at 15 / 20 / 20.5 / 30, float32(0.01) for TF's
# leaky_relu) that each library rounds through its own kernel: each is within ~1-5 eps of the true
# value (measured worst case: JAX's float64 sigmoid(30) is ~5 eps64 from the correctly rounded
# value, JAX's float32 sigmoid(15) rounds to 1.0, 3 eps32 away), so two of them may differ by a few
# eps. 8 eps (1.8e-15 in float64, 9.5e-7 in float32) admits that and nothing more: any convention
# difference at a kink is O(1e-3) or larger (the smallest, 0.01 vs float32(0.01) = 2.2e-10 absolute,
# i.e. 2.2e-8 relative, is still 100x above 8 eps64 in float64 rows, which is where it appears).
ULPS = 8


# Ops whose derivative is a transcendental function evaluated away from any kink (softplus'(x) =
# sigmoid(x)): even a value that happens to be a small rational (JAX's float32 sigmoid(15) is 1.0)
# is a rounding result there, not a convention, so it gets the ulp tolerance.
TRANSCENDENTAL = {"softplus(x)"}


def assert_matches(got, expected, dtype, what="", exact_rationals=True):
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != oracle {expected.shape}"
    eps = float(np.finfo(dtype).eps)
    for i, (g, e) in enumerate(zip(got.ravel(), expected.ravel())):
        msg = f"{what}: element {i}: kinkgrad {g!r} != oracle {e!r} (full: {got.tolist()} vs {expected.tolist()})"
        if np.isnan(e):
            assert np.isnan(g), msg
        elif np.isinf(e):
            assert g == e, msg
        elif exact_rationals and _small_rational(e):
            assert g == e, msg
        else:
            assert np.isfinite(g) and abs(g - e) <= ULPS * eps * abs(e), msg


def kinkgrad_value(r, mode=None):
    fw = r["framework"]
    fn = kc.fn_for(r["op"], fw)
    inputs = kc.inputs_for(r)
    w = kc.weights_of(r)
    preset = kc.PRESET_OF[fw]
    mode = mode or ("reverse" if fw in kc.REVERSE else "forward")
    with warnings.catch_warnings():
        # cut gradients (float(x > 0), argmax...) warn by design, and forward values at
        # singular points (log 0, 0/0) raise NumPy's RuntimeWarnings; neither is under test here
        warnings.simplefilter("ignore", kg.NonDifferentiableWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        if mode == "reverse":
            return kc.reverse_value(fn, inputs, r["wrt"], w, preset)
        return kc.forward_value(fn, inputs, r["wrt"], w, preset)


# -- the tests -------------------------------------------------------------------------------------
@pytest.mark.parametrize("record", MAIN)
def test_preset_reproduces_oracle(record):
    got = kinkgrad_value(record)
    assert got.dtype == np.dtype(record["dtype"]), f"gradient dtype {got.dtype} for {record['dtype']} inputs"
    assert_matches(got, kc.value_of(record), record["dtype"], case_id(record),
                   exact_rationals=record["op"] not in TRANSCENDENTAL)


@pytest.mark.parametrize("record", LEAK)
def test_nan_leak_rows_give_zero(record):
    """Where the frameworks leak the unselected branch's NaN, kinkgrad's preset gives exactly 0."""
    got = kinkgrad_value(record)
    assert np.array_equal(got, np.zeros_like(got)), got


@pytest.mark.parametrize("record", FWD_NAN)
def test_forward_zero_tangent_rows_give_reverse_value(record):
    """A zero tangent times an infinite partial is 0 in kinkgrad, so forward mode gives the same
    finite value as the framework's own reverse mode."""
    twin = reverse_twin(record)
    expected = kc.value_of(twin)
    assert np.isfinite(expected).all()
    assert_matches(kinkgrad_value(record), expected, record["dtype"], case_id(record))


def test_excluded_set_is_exactly_the_documented_one():
    found = {}
    for r in TARGETS:
        kind = exclusion(r)
        if kind is not None:
            found.setdefault(kind, Counter())[(r["op"], r["framework"])] += 1
    assert {k: dict(v) for k, v in found.items()} == EXCLUDED
    counts = {k: sum(v.values()) for k, v in EXCLUDED.items()}
    assert counts == {"no value": 180, "composite": 12, "not provided": 4, "nan leak": 8,
                      "forward zero-tangent NaN": 6}
    # every excluded op is named in the module docstring
    for kind, pairs in EXCLUDED.items():
        assert f"``{kind}``" in __doc__
        for op, _ in pairs:
            assert op.split("(")[0] in __doc__, op


def test_every_target_record_is_accounted_for():
    n_main = len(MAIN)
    n_excluded = sum(sum(v.values()) for v in EXCLUDED.values())
    assert n_main + n_excluded == len(TARGETS)
    # both dtypes and all six framework columns are exercised
    assert {p.values[0]["dtype"] for p in MAIN} == set(DTYPES)
    assert {p.values[0]["framework"] for p in MAIN} == TARGET_FRAMEWORKS


def test_every_oracle_op_is_in_the_case_table():
    ops = {r["op"] for r in RECORDS}
    assert ops == set(kc.OPS), sorted(ops ^ set(kc.OPS))
    assert set(kc.NOT_PROVIDED) == {"median(x, dim=0).values"}
