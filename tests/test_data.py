"""Data in fit: kg.data.DataLoader, sample_weight / class_weight, kernel and activity regularizers, metrics
by name (checked against scikit-learn) and as callables, accumulated during the epoch without a second pass."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

import kinkgrad as kg
from kinkgrad import nn, optim
from kinkgrad.data import DataLoader, Dataset

rng = np.random.default_rng(3)
X = rng.standard_normal((50, 4)).astype(np.float32)
Y = (X[:, :1] * 1.5 - X[:, 1:2]).astype(np.float32)
LABELS = (X[:, 0] + 0.3 * X[:, 1] > 0).astype(np.int64)


# -- DataLoader ------------------------------------------------------------------------------------------------
def test_loader_batches_cover_every_sample_once_per_epoch_and_reshuffle():
    loader = DataLoader((X, np.arange(50)), batch_size=16, shuffle=True, seed=0)
    assert len(loader) == 4
    epochs = [np.concatenate([ib for _, ib in loader]) for _ in range(2)]
    assert [sorted(e.tolist()) for e in epochs] == [list(range(50))] * 2
    assert not np.array_equal(epochs[0], epochs[1])
    loader.set_epoch(1)
    np.testing.assert_array_equal(np.concatenate([ib for _, ib in loader]), epochs[1])    # set_epoch replays
    again = DataLoader((X, np.arange(50)), batch_size=16, shuffle=True, seed=0)
    np.testing.assert_array_equal(np.concatenate([ib for _, ib in again]), epochs[0])


def test_loader_without_shuffle_drop_last_and_single_array():
    loader = DataLoader(np.arange(10), batch_size=4, drop_last=True)
    assert [b.tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]] and len(loader) == 2


def test_loader_seed_comes_from_kg_random_when_not_given():
    kg.random.manual_seed(5)
    a = DataLoader(np.arange(20), batch_size=5, shuffle=True)
    kg.random.manual_seed(5)
    b = DataLoader(np.arange(20), batch_size=5, shuffle=True)
    assert a.seed == b.seed
    np.testing.assert_array_equal(np.concatenate(list(a)), np.concatenate(list(b)))


class Squares(Dataset):
    """A map-style dataset built on the fly: (x, x**2) pairs."""

    def __len__(self):
        return 30

    def __getitem__(self, i):
        x = np.array([i / 30.0], np.float32)
        return x, x ** 2


def test_loader_over_a_dataset_collates_tuples_and_fit_trains_on_it():
    loader = DataLoader(Squares(), batch_size=8, shuffle=True, seed=1)
    xb, yb = next(iter(loader))
    assert xb.shape == (8, 1) and yb.shape == (8, 1) and np.allclose(yb, xb ** 2)
    model = nn.Sequential([nn.Dense(8, activation="tanh", input_shape=(1,), seed=0), nn.Dense(1, seed=1)])
    model.compile(optim.Adam(lr=0.02), "mse")
    h = model.fit(loader, epochs=30, verbose=0)
    assert h.history["loss"][-1] < 0.2 * h.history["loss"][0]


def _mlp():
    m = nn.Sequential([nn.Dense(8, activation="relu", input_shape=(4,), seed=0), nn.Dense(1, seed=1)])
    return m.compile(optim.Adam(lr=0.01), "mse", metrics=["mae"])


def test_fit_on_a_loader_equals_fit_on_arrays():
    a, b = _mlp(), _mlp()
    ha = a.fit(X, Y, batch_size=8, epochs=3, seed=4, verbose=0)
    hb = b.fit(DataLoader((X, Y), batch_size=8, shuffle=True, seed=4), epochs=3, verbose=0)
    assert ha.history == hb.history
    for p, q in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(p, q)


# -- sample and class weights ---------------------------------------------------------------------------
def test_sample_weight_weights_the_loss_like_keras():
    w = rng.uniform(0, 2, 50)
    m = _mlp()
    expected = float(np.mean((m.predict(X).data - Y)[:, 0] ** 2 * w))        # sum(w * loss) / N
    loss = m.compute_loss(Y, m(X), sample_weight=w)
    assert float(loss.item()) == pytest.approx(expected, rel=1e-6)
    assert m.evaluate(X, Y, sample_weight=w)["loss"] == pytest.approx(expected, rel=1e-6)


def test_class_weight_equals_the_matching_sample_weights():
    def clf():
        m = nn.Sequential([nn.Dense(6, activation="relu", input_shape=(4,), seed=0), nn.Dense(2, seed=1)])
        return m.compile(optim.Adam(lr=0.01), kg.losses.get("sparse_categorical_crossentropy", from_logits=True))

    a, b = clf(), clf()
    ha = a.fit(X, LABELS, batch_size=10, epochs=2, seed=0, verbose=0, class_weight={0: 1.0, 1: 3.0})
    hb = b.fit(X, LABELS, batch_size=10, epochs=2, seed=0, verbose=0, sample_weight=np.where(LABELS == 1, 3.0, 1.0))
    assert ha.history == hb.history
    zero = clf()
    before = zero.get_weights()
    zero.fit(X, LABELS, epochs=1, verbose=0, sample_weight=np.zeros(50))    # zero weights: zero gradients
    for p, q in zip(before, zero.get_weights()):
        np.testing.assert_array_equal(p, q)


# -- regularizers ------------------------------------------------------------------------------------------
def test_kernel_regularizers_add_keras_penalties_to_the_loss():
    m = nn.Sequential([nn.Dense(3, input_shape=(4,), seed=0, kernel_regularizer=nn.regularizers.l2(0.1),
                                bias_regularizer=nn.regularizers.l1(0.05), bias_initializer="ones")])
    m.compile("sgd", "mse")
    k = m.layers[0].kernel.data
    data = float(kg.losses.mse(Y.repeat(3, 1), m(X)).item())
    expected = data + 0.1 * float(np.sum(k.astype(np.float64) ** 2)) + 0.05 * 3
    assert float(m.compute_loss(Y.repeat(3, 1), m(X)).item()) == pytest.approx(expected, rel=1e-6)
    assert len(m.losses) == 2


def test_activity_regularizer_is_divided_by_the_batch_size():
    m = nn.Sequential([nn.Dense(3, input_shape=(4,), seed=0, activity_regularizer=nn.regularizers.l1(0.01))])
    m.compile("sgd", "mse")
    out = m(X)
    expected = float(kg.losses.mse(Y.repeat(3, 1), out).item()) + 0.01 * float(np.abs(out.data).sum()) / len(X)
    assert float(m.compute_loss(Y.repeat(3, 1), out).item()) == pytest.approx(expected, rel=1e-6)


def test_l1_regularization_shrinks_weights_and_its_kinks_are_audited():
    def fit(reg):
        m = nn.Sequential([nn.Dense(16, input_shape=(4,), seed=0, kernel_regularizer=reg), nn.Dense(1, seed=1)])
        m.compile(optim.Adam(lr=0.02), "mse")
        return m, m.fit(X, Y, epochs=40, batch_size=25, seed=0, verbose=0)

    (plain, _), (sparse, _) = fit(None), fit(nn.regularizers.l1(0.05))
    assert np.abs(sparse.layers[0].kernel.data).sum() < 0.5 * np.abs(plain.layers[0].kernel.data).sum()
    zeroed = nn.Sequential([nn.Dense(2, input_shape=(4,), kernel_initializer="zeros", kernel_regularizer="l1")])
    zeroed.compile("sgd", "mse")
    h = zeroed.fit(X, Y.repeat(2, 1), epochs=1, batch_size=50, verbose=0, audit=True)
    assert h.kinks[0]["layers"]["regularization"]["hits"] == 8        # |w| at w == 0 for all 4 x 2 weights


# -- metrics ---------------------------------------------------------------------------------------------
def _scores(n=200, c=1, seed=0):
    r = np.random.default_rng(seed)
    y = r.integers(0, max(c, 2), n)
    if c > 1:
        p = r.uniform(0, 1, (n, c))
        return y, p / p.sum(axis=1, keepdims=True)
    return y, np.clip(0.3 * y[:, None] + r.uniform(0, 0.7, (n, 1)), 0, 1)


@pytest.mark.parametrize("name, reference", [
    ("precision", lambda y, p: skm.precision_score(y, p[:, 0] > 0.5)),
    ("recall", lambda y, p: skm.recall_score(y, p[:, 0] > 0.5)),
    ("auc", lambda y, p: skm.roc_auc_score(y, p[:, 0])),
    ("binary_accuracy", lambda y, p: skm.accuracy_score(y, p[:, 0] > 0.5)),
])
def test_binary_metrics_match_sklearn_streamed_over_batches(name, reference):
    y, p = _scores()
    p = np.round(p, 2)                                   # ties in the scores: AUC must count them one half
    metric = kg.metrics.get(name)
    for i in range(0, 200, 30):
        metric.update_state(y[i:i + 30, None], p[i:i + 30])
    assert metric.result() == pytest.approx(reference(y, p), rel=1e-12)


def test_multiclass_metrics_match_sklearn():
    y, p = _scores(c=4)
    onehot = np.eye(4)[y]
    assert kg.metrics.get("precision")(y, p) == pytest.approx(skm.precision_score(y, p.argmax(1), average="macro"))
    assert kg.metrics.get("recall")(onehot, p) == pytest.approx(skm.recall_score(y, p.argmax(1), average="macro"))
    assert kg.metrics.get("auc")(y, p) == pytest.approx(skm.roc_auc_score(y, p, multi_class="ovr"))
    for name in ("accuracy", "sparse_categorical_accuracy"):
        assert kg.metrics.get(name)(y, p) == pytest.approx(skm.accuracy_score(y, p.argmax(1)))
    assert kg.metrics.get("categorical_accuracy")(onehot, p) == pytest.approx(skm.accuracy_score(y, p.argmax(1)))


def test_regression_metrics_match_sklearn_streamed():
    r = np.random.default_rng(1)
    t, q = r.standard_normal((90, 2)), r.standard_normal((90, 2))
    for name, ref in (("r2", skm.r2_score), ("mae", skm.mean_absolute_error), ("mse", skm.mean_squared_error),
                      ("rmse", lambda a, b: np.sqrt(skm.mean_squared_error(a, b)))):
        m = kg.metrics.get(name)
        for i in range(0, 90, 25):
            m.update_state(t[i:i + 25], q[i:i + 25])
        assert m.result() == pytest.approx(ref(t, q), rel=1e-10), name


def test_callable_metric_sees_the_whole_epoch_once():
    calls = []

    def f1(y_true, y_pred):
        calls.append(len(y_true))
        return skm.f1_score(y_true, y_pred.argmax(axis=1))

    m = nn.Sequential([nn.Dense(2, input_shape=(4,), seed=0)])
    m.compile(optim.Adam(lr=0.01), kg.losses.get("sparse_categorical_crossentropy", from_logits=True),
              metrics=[f1, "auc"])
    h = m.fit(X, LABELS, batch_size=10, epochs=2, seed=0, verbose=0)
    assert calls == [50, 50] and set(h.history) == {"loss", "f1", "auc", "lr"}


class Frozen(nn.Sequential):
    """A model whose train_step computes predictions but never updates, so the training metrics of an
    epoch must equal evaluate() on the same data."""

    forwards = 0

    def forward(self, x):
        Frozen.forwards += 1
        return super().forward(x)

    def train_step(self, x, y, sample_weight=None):
        y_pred = self(x)
        return float(self.compute_loss(y, y_pred).item()), y_pred.data


def test_training_metrics_are_accumulated_during_the_epoch_without_a_second_pass():
    m = Frozen([nn.Dense(2, input_shape=(4,), seed=0)])
    m.compile("sgd", kg.losses.get("sparse_categorical_crossentropy", from_logits=True),
              metrics=["accuracy", "auc", "precision"])
    Frozen.forwards = 0
    h = m.fit(X, LABELS, batch_size=8, epochs=2, seed=0, verbose=0)
    assert Frozen.forwards == 2 * 7                       # one forward per batch, nothing more
    whole = m.evaluate(X, LABELS)
    for k in ("loss", "accuracy", "auc", "precision"):
        assert h.history[k][-1] == pytest.approx(whole[k], rel=1e-6), k


def test_unknown_metric_lists_the_names():
    with pytest.raises(ValueError, match="unknown metric 'f2'.*precision.*r2"):
        _mlp().compile("adam", "mse", metrics=["f2"])
