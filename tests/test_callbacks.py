"""Keras' callback protocol in fit (epoch and batch hooks, self.model, self.params, logs), the learning
rate in logs and History, and the built-in callbacks: ReduceLROnPlateau, LearningRateScheduler, CSVLogger,
TerminateOnNaN, LambdaCallback, EarlyStopping's start and baseline."""
from __future__ import annotations

import csv

import numpy as np
import pytest

import kinkgrad as kg
from kinkgrad import nn, optim

rng = np.random.default_rng(2)
X = rng.standard_normal((40, 3)).astype(np.float32)
Y = (X @ np.array([[1.0], [-2.0], [0.5]], np.float32)).astype(np.float32)


def model(lr=0.01):
    m = nn.Sequential([nn.Dense(4, activation="relu", input_shape=(3,), seed=0), nn.Dense(1, seed=1)])
    return m.compile(optim.SGD(lr=lr), "mse", metrics=["mae"])


class Recorder(nn.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin",))
        self.seen_model, self.seen_params = self.model, dict(self.params)

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_batch_begin(self, batch, logs=None):          # the Keras alias of on_train_batch_begin
        self.calls.append(("batch_begin", batch))

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", batch, logs["size"], round(logs["loss"], 12)))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, tuple(sorted(logs))))

    def on_train_end(self, logs=None):
        self.calls.append(("train_end",))


def test_hooks_are_called_in_keras_order_with_model_params_and_logs():
    m, rec = model(), Recorder()
    h = m.fit(X, Y, epochs=2, batch_size=16, verbose=0, seed=0, callbacks=[rec], validation_data=(X[:8], Y[:8]))
    assert rec.seen_model is m and rec.seen_params == {"epochs": 2, "steps": 3, "verbose": 0}
    kinds = [c[0] for c in rec.calls]
    epoch = ["epoch_begin"] + ["batch_begin", "batch_end"] * 3 + ["epoch_end"]
    assert kinds == ["train_begin"] + epoch * 2 + ["train_end"]
    assert [c[2] for c in rec.calls if c[0] == "batch_end"] == [16, 16, 8] * 2
    last_running = [c[3] for c in rec.calls if c[0] == "batch_end"][2]
    assert last_running == round(h.history["loss"][0], 12)           # the batch logs' loss is the running mean
    assert rec.calls[-2] == ("epoch_end", 1, ("loss", "lr", "mae", "val_loss", "val_mae"))


def test_learning_rate_is_logged_per_epoch_including_schedules():
    m = model()
    m.compile(optim.SGD(lr=optim.step_lr(0.1, step_size=3, gamma=0.5)), "mse")
    h = m.fit(X, Y, epochs=3, batch_size=20, verbose=0, seed=0)      # 2 steps per epoch
    assert h.history["lr"] == pytest.approx([0.1, 0.05, 0.025])       # lr at steps 2, 4, 6 (after each epoch)


def test_reduce_lr_on_plateau_halves_after_patience_and_the_optimizer_uses_it():
    m = model(lr=0.01)
    plateau = nn.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, min_delta=1e9)   # nothing ever improves
    h = m.fit(X, Y, epochs=6, batch_size=40, verbose=0, seed=0, callbacks=[plateau])
    assert h.history["lr"] == pytest.approx([0.01, 0.01, 0.01, 0.005, 0.005, 0.0025])
    assert m.optimizer.param_groups[0]["lr"] == pytest.approx(0.0025)


def test_reduce_lr_scales_each_parameter_group():
    m = model()
    first, second = m.layers
    m.compile(optim.SGD([{"params": first.parameters(), "lr": 0.04}, {"params": second.parameters()}], lr=0.01), "mse")
    m.fit(X, Y, epochs=3, batch_size=40, verbose=0,
          callbacks=[nn.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=1e9)])
    assert [g["lr"] for g in m.optimizer.param_groups] == pytest.approx([0.01, 0.0025])


def test_reduce_lr_respects_min_lr_and_cooldown():
    m = model(lr=0.01)
    cb = nn.ReduceLROnPlateau(monitor="loss", factor=0.1, patience=1, min_delta=1e9, cooldown=2, min_lr=5e-4)
    h = m.fit(X, Y, epochs=6, batch_size=40, verbose=0, seed=0, callbacks=[cb])
    # reduced at the end of epoch 1; epochs 2-3 cool down (Keras counts the epoch that ends the cooldown
    # towards patience again); reduced at epoch 3 to min_lr, where it stays
    assert h.history["lr"] == pytest.approx([0.01, 0.01, 1e-3, 1e-3, 5e-4, 5e-4])


@pytest.mark.parametrize("schedule", [lambda epoch, lr: lr * 0.5 if epoch else lr, lambda epoch: 0.1 * 0.5 ** epoch],
                         ids=["schedule(epoch, lr)", "schedule(epoch)"])
def test_learning_rate_scheduler_sets_lr_each_epoch(schedule):
    m = model(lr=0.1)
    h = m.fit(X, Y, epochs=3, batch_size=40, verbose=0, seed=0, callbacks=[nn.LearningRateScheduler(schedule)])
    assert h.history["lr"] == pytest.approx([0.1, 0.05, 0.025])


def test_lr_schedule_and_lr_callback_conflict_is_refused():
    m = model()
    m.compile(optim.SGD(lr=optim.exponential_lr(0.1, 0.9)), "mse")
    with pytest.raises(TypeError, match="already a schedule"):
        m.fit(X, Y, epochs=1, verbose=0, callbacks=[nn.LearningRateScheduler(lambda e: 0.1)])


def test_csv_logger_writes_one_row_per_epoch_with_exact_values(tmp_path):
    path = tmp_path / "log.csv"
    m = model()
    h = m.fit(X, Y, epochs=3, batch_size=16, verbose=0, seed=0, callbacks=[nn.CSVLogger(path)])
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["epoch", "loss", "lr", "mae"]
    assert [int(r[0]) for r in rows[1:]] == [0, 1, 2]
    assert [float(r[1]) for r in rows[1:]] == h.history["loss"]       # repr round-trips floats exactly
    m.fit(X, Y, epochs=2, batch_size=16, verbose=0, seed=0, callbacks=[nn.CSVLogger(path, append=True)])
    rows = list(csv.reader(path.open()))
    assert len(rows) == 1 + 3 + 2 and rows[4][0] == "0"               # appended, no second header


def _nan_after(n):
    calls = {"n": 0}

    def loss(y_true, y_pred, reduction="mean"):
        calls["n"] += 1
        value = kg.losses.mse(y_true, y_pred, reduction=reduction)
        return value * float("nan") if calls["n"] > n else value
    return loss


def test_terminate_on_nan_stops_quietly_and_the_nan_batch_does_not_update(capsys):
    m = model()
    m.compile(optim.SGD(lr=0.01), _nan_after(3))
    snap = []
    keep = nn.LambdaCallback(on_batch_end=lambda b, logs: snap.append(m.get_weights()))
    h = m.fit(X, Y, epochs=4, batch_size=10, verbose=0, seed=0, callbacks=[keep, nn.TerminateOnNaN()])
    assert h.epoch == [0] and np.isnan(h.history["loss"][0])
    assert "invalid loss" in capsys.readouterr().out
    for a, b in zip(snap[2], m.get_weights()):                        # weights as after the 3rd (finite) batch
        np.testing.assert_array_equal(a, b)


def test_nan_loss_without_terminate_on_nan_raises_naming_epoch_and_batch():
    m = model()
    m.compile(optim.SGD(lr=0.01), _nan_after(5))
    with pytest.raises(FloatingPointError, match=r"epoch 2, batch 2.*TerminateOnNaN"):
        m.fit(X, Y, epochs=3, batch_size=10, verbose=0, seed=0)


def test_lambda_callback_hooks():
    seen = []
    cb = nn.LambdaCallback(on_train_begin=lambda logs: seen.append("begin"),
                           on_epoch_end=lambda epoch, logs: seen.append(("epoch", epoch, "loss" in logs)),
                           on_batch_end=lambda batch, logs: seen.append(("batch", batch)))
    model().fit(X, Y, epochs=1, batch_size=20, verbose=0, callbacks=[cb])
    assert seen == ["begin", ("batch", 0), ("batch", 1), ("epoch", 0, True)]


def test_early_stopping_baseline_and_start_from_epoch():
    m = model()
    stop = nn.EarlyStopping(monitor="loss", patience=1, baseline=-1.0)        # nothing can beat a negative mse
    h = m.fit(X, Y, epochs=5, verbose=0, callbacks=[stop])
    assert h.epoch == [0]
    late = nn.EarlyStopping(monitor="loss", patience=1, baseline=-1.0, start_from_epoch=3)
    assert model().fit(X, Y, epochs=6, verbose=0, callbacks=[late]).epoch == [0, 1, 2, 3]


def test_callbacks_must_be_callback_objects():
    with pytest.raises(TypeError, match=r"callbacks\[0\] is function"):
        model().fit(X, Y, verbose=0, callbacks=[lambda epoch, logs: None])
    with pytest.raises(TypeError, match="list of Callback"):
        model().fit(X, Y, verbose=0, callbacks=nn.History())
