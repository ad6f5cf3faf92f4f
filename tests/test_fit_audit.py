"""Kink telemetry in fit: ``fit(audit=True)`` fills ``history.kinks`` (one dict per epoch: hits, dependent,
evaluated, rate, per-layer counts) and the progress line (``kinks=...%``); ``evaluate(audit=True)`` reports
without changing anything. Counts are checked against an exact construction and against kg.audit() run by
hand on the same batches."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import kinkgrad as kg
from kinkgrad import nn, optim

rng = np.random.default_rng(5)
N, ZERO_ROWS, HIDDEN = 40, 6, 8
X = rng.standard_normal((N, 5)).astype(np.float32)
X[rng.choice(N, ZERO_ROWS, replace=False)] = 0.0       # without a bias these rows reach relu exactly at 0
Y = rng.standard_normal((N, 1)).astype(np.float32)


def model():
    m = nn.Sequential([nn.Dense(HIDDEN, activation="relu", use_bias=False, input_shape=(5,), seed=0),
                       nn.Dense(1, seed=1)])
    return m.compile(optim.SGD(lr=0.05), "mse")


def test_history_kinks_counts_exact_hits_per_epoch_and_per_layer(capfd):
    h = model().fit(X, Y, epochs=3, batch_size=10, seed=0, verbose=2, audit=True)
    assert len(h.kinks) == 3
    batches = N // 10
    for e, k in enumerate(h.kinks):
        assert k["epoch"] == e
        assert k["hits"] == ZERO_ROWS * HIDDEN                    # every hidden unit of every zero row
        assert k["dependent"] == k["hits"]                        # the output layer passes a nonzero gradient back
        # relu's elements, plus the division of the loss's mean (a singular point at 0, one per batch)
        assert k["evaluated"] == N * HIDDEN + batches
        assert k["rate"] == k["hits"] / k["evaluated"]
        assert k["layers"] == {"dense": {"hits": ZERO_ROWS * HIDDEN, "dependent": ZERO_ROWS * HIDDEN,
                                         "evaluated": N * HIDDEN},
                               "loss": {"hits": 0, "dependent": 0, "evaluated": batches}}
    assert h.history["kink_rate"] == [pytest.approx(48 / 324)] * 3
    out = capfd.readouterr().out
    assert out.count("kinks=14.81%") == 3, out


def test_counts_equal_a_hand_run_audit_over_the_same_batches():
    m = nn.Sequential([nn.Dense(16, activation="relu", input_shape=(5,), seed=2), nn.Dense(8, activation="relu6",
                                                                                         seed=3), nn.Dense(1, seed=4)])
    m.compile(optim.Adam(lr=0.01), "mae")                 # MAE has its own kink, under the "loss" label
    twin = copy.deepcopy(m)
    h = m.fit(X, Y, epochs=1, batch_size=8, seed=3, verbose=0, audit=True)
    loader = kg.data.DataLoader((X, Y), batch_size=8, shuffle=True, seed=3)
    twin._prepare_training(X)
    with kg.audit() as report:
        for xb, yb in loader:
            twin.train_step(xb, yb)
    assert (h.kinks[0]["hits"], h.kinks[0]["dependent"]) == (report.hits, report.dependent)
    layers = h.kinks[0]["layers"]
    assert set(layers) <= {"dense", "dense_1", "dense_2", "loss"} and "dense" in layers and "dense_1" in layers
    for (name, a), b in zip(m.state_dict().items(), twin.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)        # auditing changed nothing in training


def test_without_audit_nothing_is_recorded():
    h = model().fit(X, Y, epochs=1, verbose=0)
    assert h.kinks == [] and "kink_rate" not in h.history


def test_evaluate_audit_reports_and_leaves_weights_and_grads_alone():
    m = model()
    m.fit(X, Y, epochs=1, verbose=0, seed=0)
    weights = m.get_weights()
    grads = [None if p.grad is None else p.grad.data.copy() for p in m.parameters()]
    result = m.evaluate(X, Y, audit=True)
    assert result["kinks"]["hits"] == ZERO_ROWS * HIDDEN and result["kinks"]["layers"]["dense"]["hits"] == 48
    assert result["loss"] == pytest.approx(m.evaluate(X, Y)["loss"], rel=1e-6)
    for a, b in zip(weights, m.get_weights()):
        np.testing.assert_array_equal(a, b)
    for g, p in zip(grads, m.parameters()):
        assert (g is None and p.grad is None) or np.array_equal(g, p.grad.data)


def test_layer_calls_are_scoped_only_while_an_audit_is_active():
    m = model()
    with kg.audit() as report:
        kg.losses.mse(Y, m(X)).backward()
    assert set(report.by_scope()) == {"dense", None}      # the loss was computed outside the model
    plain = kg.losses.mse(Y, m(X))
    assert plain.node is not None                                    # an ordinary graph, no audit needed


def test_float16_digits_mlp_hits_kinks_that_float64_does_not():
    """The digits MLP under fit(audit=True): activations land exactly on relu's kink far more often in
    float16 (11-bit significand) than in float64. The full three-dtype measurement is in
    ``python -m benchmarks.training``."""
    from sklearn.datasets import load_digits

    Xd, yd = load_digits(return_X_y=True)
    hits = {}
    for dtype in ("float16", "float64"):            # float16 matrix products have no BLAS: ~0.6 s per epoch
        m = nn.Sequential([nn.Dense(128, activation="relu", input_shape=(64,), seed=0, dtype=dtype),
                           nn.Dense(10, seed=1, dtype=dtype)])
        m.compile(optim.Adam(lr=3e-3), kg.losses.get("sparse_categorical_crossentropy", from_logits=True))
        h = m.fit(Xd / 16.0, yd, epochs=2, batch_size=32, seed=0, verbose=0, audit=True)
        hits[dtype] = sum(k["hits"] for k in h.kinks)
    assert hits["float16"] > 0 and hits["float64"] == 0, hits
