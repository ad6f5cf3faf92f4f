"""End-to-end training through the Keras-style API (``compile`` / ``fit`` / ``evaluate`` / ``predict``)
on scikit-learn's bundled datasets, callbacks, History, weights files, input validation and the
progress bar; plus the two seeds: 001's ReLU table through a model and 003's custom Swish layer.

Everything is seeded (layer seeds and ``fit(seed=...)``), so accuracies are deterministic up to BLAS
summation order; the thresholds leave a margin over what the seeds used reach (MLP 0.973, CNN 0.980; CNN with
seeds 0-4: 0.980-0.987).
The whole file runs in well under a minute on two cores.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.datasets import load_diabetes, load_digits
from sklearn.model_selection import train_test_split

import kinkgrad as kg
from kinkgrad import losses, nn, optim

SPARSE_CE = losses.get("sparse_categorical_crossentropy", from_logits=True)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0)
    mu, sd = Xtr.mean(0), Xtr.std(0)
    Xtr, Xte = ((Xtr - mu) / sd).astype(np.float32), ((Xte - mu) / sd).astype(np.float32)
    ym, ys = ytr.mean(), ytr.std()
    return Xtr, Xte, ((ytr - ym) / ys).astype(np.float32).reshape(-1, 1), yte.reshape(-1, 1), ym, ys


def mlp(seed=0, hidden=128):
    return nn.Sequential([nn.Dense(hidden, activation="relu", input_shape=(64,), seed=seed),
                          nn.Dense(10, input_dim=hidden, seed=seed + 1)])


# -- accuracy on the digits -----------------------------------------------------------------------------
def test_digits_mlp_reaches_96_percent(digits):
    Xtr, Xte, ytr, yte = digits
    model = mlp()
    model.compile(optimizer=optim.Adam(lr=3e-3), loss=SPARSE_CE, metrics=["accuracy"])
    history = model.fit(Xtr, ytr, epochs=20, batch_size=32, verbose=0, seed=0)
    assert len(history.history["loss"]) == 20
    assert history.history["loss"][-1] < 0.1 * history.history["loss"][0]
    result = model.evaluate(Xte, yte)
    assert result["accuracy"] >= 0.96, result
    pred = model.predict(Xte).data.argmax(axis=1)
    assert np.mean(pred == yte) == pytest.approx(result["accuracy"])


def test_digits_cnn_reaches_97_percent(digits):
    Xtr, Xte, ytr, yte = digits
    Xtr, Xte = Xtr.reshape(-1, 1, 8, 8), Xte.reshape(-1, 1, 8, 8)
    model = nn.Sequential([
        nn.Conv2d(1, 16, 3, padding=1, seed=0), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1, seed=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dense(10, input_dim=32 * 2 * 2, seed=2)])
    epochs, batch = 20, 32                     # layer/fit seeds 0-4 reach 0.980-0.987 with this setup
    schedule = optim.cosine_lr(5e-3, epochs * math.ceil(len(Xtr) / batch))
    model.compile(optimizer=optim.Adam(lr=schedule), loss=SPARSE_CE, metrics=["accuracy"])
    model.fit(Xtr, ytr, epochs=epochs, batch_size=batch, verbose=0, seed=0)
    acc = model.evaluate(Xte, yte)["accuracy"]
    assert acc >= 0.97, acc


# -- diabetes with MAE: kinkgrad vs PyTorch from the same initial weights ---------------------------------
def _torch_twin(model):
    """A PyTorch copy of a Dense-ReLU-Dense kinkgrad model, with the same weights."""
    d1, d2 = model.layers[0], model.layers[1]
    net = torch.nn.Sequential(torch.nn.Linear(d1.kernel.shape[0], d1.units), torch.nn.ReLU(),
                              torch.nn.Linear(d2.kernel.shape[0], d2.units))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor(d1.kernel.data.T))
        net[0].bias.copy_(torch.tensor(d1.bias.data))
        net[2].weight.copy_(torch.tensor(d2.kernel.data.T))
        net[2].bias.copy_(torch.tensor(d2.bias.data))
    return net


def _train_torch_like_fit(net, X, Y, epochs, batch_size, lr, seed):
    """PyTorch trained the way ``fit`` trains: the same batches in the same order (kinkgrad's
    DataLoader with the same seed gives them), Adam, L1 (MAE) loss."""
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    loader = kg.data.DataLoader((X, Y), batch_size=batch_size, shuffle=True, seed=seed)
    for _ in range(epochs):
        for xb, yb in loader:
            opt.zero_grad()
            loss = torch.nn.functional.l1_loss(net(torch.tensor(xb)), torch.tensor(yb))
            loss.backward()
            opt.step()
    return net


def test_diabetes_mae_matches_pytorch_within_5_percent(diabetes):
    Xtr, Xte, ytr, yte, ym, ys = diabetes
    model = nn.Sequential([nn.Dense(32, activation="relu", input_shape=(10,), seed=0),
                           nn.Dense(1, input_dim=32, seed=1)])
    net = _torch_twin(model)                                   # both start from the same weights
    epochs, batch, lr = 60, 32, 3e-3
    model.compile(optimizer=optim.Adam(lr=lr), loss="mae", metrics=["mae"])
    model.fit(Xtr, ytr, epochs=epochs, batch_size=batch, verbose=0, seed=0)
    _train_torch_like_fit(net, Xtr, ytr, epochs, batch, lr, seed=0)

    mae_kg = float(np.mean(np.abs(model.predict(Xte).data * ys + ym - yte)))
    with torch.no_grad():
        mae_torch = float(np.mean(np.abs(net(torch.tensor(Xte)).numpy() * ys + ym - yte)))
    assert mae_torch < 50, mae_torch                           # both actually learned (predicting the mean: 58.3)
    assert abs(mae_kg - mae_torch) <= 0.05 * mae_torch, (mae_kg, mae_torch)


# -- callbacks, validation, History ---------------------------------------------------------------------
def _noisy_regression(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, (n, 1)).astype(np.float32)
    return X, (np.sin(2 * X) + 0.5 * rng.standard_normal((n, 1))).astype(np.float32)


class Snapshots(nn.Callback):
    def on_train_begin(self, logs=None):
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.state_dict())


def test_early_stopping_restores_best_weights():
    X, Y = _noisy_regression(24, seed=0)                      # tiny and noisy: the model overfits
    Xv, Yv = _noisy_regression(200, seed=1)
    model = nn.Sequential([nn.Dense(128, activation="tanh", input_shape=(1,), seed=0),
                           nn.Dense(128, activation="tanh", input_dim=128, seed=1), nn.Dense(1, input_dim=128, seed=2)])
    model.compile(optimizer=optim.Adam(lr=0.01), loss="mse")
    stop, snaps = nn.EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True), Snapshots()
    history = model.fit(X, Y, epochs=500, batch_size=8, validation_data=(Xv, Yv), callbacks=[snaps, stop],
                        verbose=0, seed=0)
    val = history.history["val_loss"]
    best = int(np.argmin(val))
    assert len(val) < 500, "EarlyStopping never stopped"
    assert len(val) == best + 1 + 5                           # stopped `patience` epochs after the best
    assert stop.stopped_epoch == len(val) - 1
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, snaps.weights[best][k], err_msg=k)
    assert model.evaluate(Xv, Yv)["loss"] == pytest.approx(val[best], rel=1e-6)


def test_early_stopping_without_restore_keeps_last_weights_and_unknown_monitor_raises():
    X, Y = _noisy_regression(16, seed=2)
    model = nn.Sequential([nn.Dense(1, input_shape=(1,), seed=0)]).compile("sgd", "mse")
    snaps = Snapshots()
    model.fit(X, Y, epochs=6, callbacks=[snaps, nn.EarlyStopping(monitor="loss", patience=2, min_delta=1e9)],
              verbose=0, seed=0)
    assert len(snaps.weights) == 3                            # epoch 0 sets `best`, two more without a 1e9 gain
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, snaps.weights[-1][k])
    with pytest.raises(KeyError, match="val_loss"):
        model.fit(X, Y, epochs=1, callbacks=[nn.EarlyStopping()], verbose=0)


def test_validation_split_and_validation_data_logs(digits):
    Xtr, Xte, ytr, yte = digits
    model = mlp(seed=3, hidden=32)
    model.compile(optimizer="adam", loss=SPARSE_CE, metrics=["accuracy"])
    h = model.fit(Xtr, ytr, epochs=3, batch_size=64, validation_split=0.2, verbose=0, seed=0)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert h.epoch == [0, 1, 2] and all(len(v) == 3 for v in h.history.values())
    assert all(isinstance(x, float) for v in h.history.values() for x in v)
    n_val = math.ceil(len(Xtr) * 0.2)                         # Keras: the last 20% of the samples
    last = model.evaluate(Xtr[-n_val:], ytr[-n_val:])
    assert h.history["val_loss"][-1] == pytest.approx(last["loss"], rel=1e-6)
    assert h.history["val_accuracy"][-1] == pytest.approx(last["accuracy"])
    assert h.history["lr"] == [pytest.approx(1e-3)] * 3                # Adam's default, logged per epoch
    assert model.history is h and "loss" in repr(h)

    h2 = model.fit(Xtr, ytr, epochs=2, batch_size=64, validation_data=(Xte, yte), verbose=0, seed=1)
    assert h2.history["val_accuracy"][-1] == pytest.approx(model.evaluate(Xte, yte)["accuracy"])
    assert h2.history["val_loss"][-1] == pytest.approx(model.evaluate(Xte, yte)["loss"], rel=1e-6)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(Xtr, ytr, validation_split=1.5, verbose=0)


def test_history_loss_decreases_and_fit_is_reproducible(digits):
    Xtr, _, ytr, _ = digits

    def train():
        m = mlp(seed=5, hidden=16)
        m.compile(optimizer=optim.SGD(lr=0.1, momentum=0.9), loss=SPARSE_CE)
        return m, m.fit(Xtr[:400], ytr[:400], epochs=4, batch_size=50, verbose=0, seed=7)

    (m1, h1), (m2, h2) = train(), train()
    assert h1.history == h2.history
    for (k, a), (_, b) in zip(m1.state_dict().items(), m2.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=k)
    loss = h1.history["loss"]
    assert all(b < a for a, b in zip(loss, loss[1:])), loss


def test_fit_trains_every_parameter_including_lazily_built_layers():
    """A Dense layer without an input shape is built on the first batch; the optimizer must then
    update it too, not only the layers that already existed when fit started (seed 003's model)."""
    X, Y = _noisy_regression(64, seed=3)
    model = nn.Sequential([nn.Dense(8, activation="relu", input_shape=(1,), seed=0), nn.Dense(1, seed=1)])
    model.compile(optimizer="adam", loss="mse")
    first = model.layers[0].kernel.data.copy()
    initial_lazy_kernel = nn.Dense(1, input_dim=8, seed=1).kernel.data   # same seed: the lazy layer's start
    model.fit(X, Y, epochs=2, verbose=0, seed=0)
    assert not np.array_equal(model.layers[0].kernel.data, first)
    assert not np.array_equal(model.layers[1].kernel.data, initial_lazy_kernel), \
        "the lazily built Dense layer was never updated by fit"


def test_fit_builds_a_fully_lazy_model():
    X, Y = _noisy_regression(64, seed=4)
    model = nn.Sequential([nn.Dense(8, activation="relu", seed=0), nn.Dense(1, seed=1)])
    model.compile(optimizer="adam", loss="mse")
    h = model.fit(X, Y, epochs=3, verbose=0, seed=0)
    assert len(model.parameters()) == 4
    assert h.history["loss"][-1] < h.history["loss"][0]


# -- weights files --------------------------------------------------------------------------------------
def _bn_model(hidden=16, seed=0):
    return nn.Sequential([nn.Dense(hidden, input_shape=(64,), seed=seed), nn.BatchNorm1d(hidden), nn.ReLU(),
                          nn.Dense(10, input_dim=hidden, seed=seed + 1)])


def test_save_and_load_weights_round_trip(tmp_path, digits):
    Xtr, Xte, ytr, _ = digits
    model = _bn_model()
    model.compile("adam", SPARSE_CE)
    model.fit(Xtr[:300], ytr[:300], epochs=2, verbose=0, seed=0)
    path = tmp_path / "w.safetensors"
    model.save_weights(path)
    assert path.read_bytes()[:8] != b"\x80\x04\x95"           # not a pickle
    other = _bn_model(seed=42)
    other.load_weights(path)
    for (k, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=k)
    assert "layers.1.running_mean" in other.state_dict()       # buffers travel too
    np.testing.assert_array_equal(model.predict(Xte).data, other.predict(Xte).data)


def test_load_weights_into_mismatching_model_lists_offending_tensors(tmp_path):
    path = tmp_path / "w.safetensors"
    _bn_model(hidden=16).save_weights(path)
    wrong = _bn_model(hidden=20)
    before = wrong.state_dict()
    with pytest.raises(ValueError) as info:
        wrong.load_weights(path)
    msg = str(info.value)
    for needle in ["layers.0.kernel", "(64, 16)", "(64, 20)", "layers.0.bias", "layers.1.weight",
                   "layers.1.running_mean", "layers.3.kernel", "(16, 10)", "(20, 10)"]:
        assert needle in msg, f"{needle!r} missing from: {msg}"
    for k, v in wrong.state_dict().items():                      # nothing half-loaded
        np.testing.assert_array_equal(v, before[k])
    with pytest.raises(RuntimeError, match="not built"):
        nn.Sequential([nn.Dense(4), nn.Dense(2)]).load_weights(path)


# -- bad input ------------------------------------------------------------------------------------------
def test_wrong_feature_count_names_layer_and_shapes(digits):
    Xtr, _, ytr, _ = digits
    model = mlp().compile("adam", SPARSE_CE)
    with pytest.raises(ValueError) as info:
        model.fit(Xtr[:, :60], ytr, epochs=1, verbose=0)
    msg = str(info.value)
    assert "Dense" in msg and "60" in msg and "64" in msg, msg
    with pytest.raises(ValueError, match="Dense"):
        model.predict(np.zeros((3, 63), np.float32))


def test_sparse_ce_bad_labels_raise(digits):
    Xtr, _, ytr, _ = digits
    model = mlp(hidden=8).compile("adam", SPARSE_CE)
    with pytest.raises(TypeError, match="integers"):
        model.fit(Xtr[:64], ytr[:64] + 0.5, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"\(N,\).*\(64, 10\)|\(64, 10\)"):
        model.fit(Xtr[:64], np.eye(10)[ytr[:64]], epochs=1, batch_size=64, verbose=0)
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        model.fit(Xtr[:64], ytr[:64] + 5, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="64 samples"):
        model.fit(Xtr[:64], ytr[:63], epochs=1, verbose=0)


def test_nan_in_data_raises_floating_point_error_naming_epoch_and_batch():
    X = np.ones((40, 3), np.float32)
    X[25, 1] = np.nan                                         # the 2nd batch of 16 when not shuffled
    model = nn.Sequential([nn.Dense(4, input_shape=(3,), seed=0), nn.Dense(1, input_dim=4, seed=1)])
    model.compile("sgd", "mse")
    with pytest.raises(FloatingPointError) as info:
        model.fit(X, np.ones((40, 1)), epochs=2, batch_size=16, shuffle=False, verbose=0)
    msg = str(info.value)
    assert "epoch 1" in msg and "batch 2" in msg, msg
    assert "25" in msg, msg                                   # and points at the bad row


def test_empty_dataset_raises_value_error():
    model = nn.Sequential([nn.Dense(1, input_shape=(3,))]).compile("sgd", "mse")
    with pytest.raises(ValueError, match="empty"):
        model.fit(np.zeros((0, 3), np.float32), np.zeros((0, 1), np.float32), verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(np.zeros((4, 3), np.float32), np.zeros((4, 1), np.float32), batch_size=0, verbose=0)
    with pytest.raises(RuntimeError, match="compile"):
        nn.Sequential([nn.Dense(1)]).fit(np.zeros((4, 3)), np.zeros((4, 1)))


# -- progress output ------------------------------------------------------------------------------------
def _small_fit(verbose):
    X, Y = _noisy_regression(40, seed=5)
    model = nn.Sequential([nn.Dense(4, activation="relu", input_shape=(1,), seed=0), nn.Dense(1, input_dim=4)])
    model.compile("adam", "mse")
    model.fit(X, Y, epochs=2, batch_size=8, verbose=verbose, seed=0)


def test_verbose_0_prints_nothing(capfd):
    _small_fit(0)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_verbose_1_into_a_file_prints_one_line_per_epoch(capfd):
    """Captured output is not a terminal (as with ``python train.py > out.log``): no bar, one whole line
    per epoch on stdout, nothing on stderr."""
    _small_fit(1)
    out, err = capfd.readouterr()
    assert err == "", err
    lines = out.splitlines()
    assert [line.split()[:2] for line in lines] == [["Epoch", "1/2"], ["Epoch", "2/2"]], out
    assert all("loss=" in line and "lr=0.001" in line for line in lines), out


# -- seeds ----------------------------------------------------------------------------------------------
def test_seed_001_relu_table_through_a_keras_style_model():
    """Seed 001: Activation('relu') model, mse against target 1, inputs [-1, 0, 1, 2]: Keras prints
    d loss / dx = [0, 0, 0, 0.5] (relu'(0) = 0)."""
    model = nn.Sequential([nn.Activation("relu")])
    model.compile(loss="mse", optimizer="sgd")
    x = np.array([[-1.0, 0.0, 1.0, 2.0]]).T
    target = np.ones((4, 1))
    xt = kg.tensor(x, requires_grad=True)
    loss = model.loss_fn(target, model(xt))
    loss.backward()
    assert xt.grad.data.ravel().tolist() == [0.0, 0.0, 0.0, 0.5]
    np.testing.assert_array_equal((target - x).ravel() ** 2, [4.0, 1.0, 0.0, 1.0])   # the table's loss column
    for preset in ("torch", "tensorflow", "jax"):                       # what every framework reports
        with kg.kinks(preset):
            g = kg.grad(lambda v: model.loss_fn(target, model(v)))(kg.tensor(x))
        assert g.data.ravel().tolist() == [0.0, 0.0, 0.0, 0.5], preset


class Swish(nn.Layer):
    """Seed 003's custom activation layer: only ``call``, no gradient code."""

    def __init__(self):
        super().__init__()

    def call(self, x):
        return x * kg.sigmoid(x)


def test_seed_003_custom_swish_model_compiles_and_loss_decreases():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((256, 10)).astype(np.float32)
    Y = (X[:, :1] * 2 - X[:, 1:2] ** 2 + 0.5 * np.sin(3 * X[:, 2:3])).astype(np.float32)
    kg.random.manual_seed(0)                                   # the seed's code passes no layer seeds
    model = nn.Sequential([
        nn.Dense(64, activation="relu", input_shape=(10,)),
        Swish(),
        nn.Dense(1),
    ])
    model.compile(optimizer="adam", loss="mse")
    h = model.fit(X, Y, epochs=40, batch_size=32, verbose=0, seed=0)
    loss = h.history["loss"]
    assert all(b < a for a, b in zip(loss, loss[1:])), loss
    # Every layer trains: the optimizer holds all 4 parameters (the last Dense is built lazily).
    held = {id(p) for p in model.optimizer.params}
    missed = [n for n, p in model.named_parameters() if id(p) not in held]
    assert missed == [], f"fit never updates {missed}"
    # With all layers training the loss falls to ~0.1 of its start in 40 epochs (seeds 0-2: 0.09-0.10);
    # with the output layer frozen at its initial weights it only reaches ~0.3.
    assert loss[-1] < 0.2 * loss[0], loss
