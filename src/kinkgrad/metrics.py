"""Metrics for ``fit``/``evaluate``, accumulated batch by batch during the epoch (Keras' streaming
metrics: ``update_state`` per batch, ``result`` at the end), so training metrics cost no second pass
over the data. Plain NumPy on predictions; no gradients.

By name: ``accuracy`` (argmax for several columns, threshold 0.5 for one), ``binary_accuracy``,
``categorical_accuracy``, ``sparse_categorical_accuracy``, ``precision``, ``recall``, ``auc`` (exact
ROC AUC, as scikit-learn's ``roc_auc_score``), ``mae``, ``mse``, ``rmse``, ``r2``. Any callable
``f(y_true, y_pred)`` (e.g. scikit-learn's ``r2_score``) is called once per epoch on all the labels
and predictions of that epoch.

>>> import numpy as np
>>> m = get("accuracy")
>>> m.update_state(np.array([0, 1]), np.array([[0.9, 0.1], [0.8, 0.2]])); m.result()
0.5
"""
from __future__ import annotations

import numpy as np


def _np(x):
    return np.asarray(getattr(x, "data", x))


def _class_labels(t, n_classes):
    """Integer labels from integer (N,)/(N, 1) or one-hot (N, C) targets."""
    if t.ndim == 2 and t.shape[1] == n_classes and n_classes > 1:
        return t.argmax(axis=1)
    return t.reshape(-1).astype(np.int64)


class Metric:
    """Base class: ``reset_state``, ``update_state(y_true, y_pred)``, ``result() -> float``; calling
    the metric on (y_true, y_pred) gives its value on that data alone."""

    name = "metric"

    def reset_state(self):
        raise NotImplementedError

    def update_state(self, y_true, y_pred):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def __call__(self, y_true, y_pred):
        self.reset_state()
        self.update_state(y_true, y_pred)
        value = self.result()
        self.reset_state()
        return value

    def get_config(self):
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def __repr__(self):
        return f"{type(self).__name__}({self.get_config()})"


class _Mean(Metric):
    """Mean of a per-sample value over every sample seen."""

    def __init__(self, name=None):
        self.name = name or self.name
        self.reset_state()

    def reset_state(self):
        self._sum, self._count = 0.0, 0

    def values(self, t, p):
        raise NotImplementedError

    def update_state(self, y_true, y_pred):
        v = self.values(_np(y_true), _np(y_pred))
        self._sum += float(np.sum(v, dtype=np.float64))
        self._count += int(np.size(v))

    def result(self):
        return self._sum / self._count if self._count else 0.0


class Accuracy(_Mean):
    """Fraction correct: argmax of (N, C) scores against integer or one-hot labels; for one output
    column, threshold 0.5 (probabilities) against 0/1 labels."""

    name = "accuracy"

    def values(self, t, p):
        if p.ndim == 2 and p.shape[1] > 1:
            return p.argmax(axis=1) == _class_labels(t, p.shape[1])
        return (p.reshape(-1) > 0.5) == (t.reshape(-1) > 0.5)


class BinaryAccuracy(_Mean):
    name = "binary_accuracy"

    def __init__(self, name=None, threshold=0.5):
        self.threshold = threshold
        super().__init__(name)

    def values(self, t, p):
        return (p > self.threshold) == (t.reshape(p.shape) > 0.5)


class CategoricalAccuracy(_Mean):
    """argmax of the scores against argmax of one-hot targets."""

    name = "categorical_accuracy"

    def values(self, t, p):
        return p.argmax(axis=-1) == t.argmax(axis=-1)


class SparseCategoricalAccuracy(_Mean):
    """argmax of the scores against integer labels."""

    name = "sparse_categorical_accuracy"

    def values(self, t, p):
        return p.argmax(axis=-1) == t.reshape(-1).astype(np.int64)


class MeanAbsoluteError(_Mean):
    name = "mae"

    def values(self, t, p):
        return np.abs(p - t.reshape(p.shape))


class MeanSquaredError(_Mean):
    name = "mse"

    def values(self, t, p):
        return np.square(p - t.reshape(p.shape))


class RootMeanSquaredError(MeanSquaredError):
    name = "rmse"

    def result(self):
        return float(np.sqrt(super().result()))


class _Confusion(Metric):
    """True/false positives and false negatives. One output column: thresholded probabilities
    against 0/1 labels; several columns: argmax, averaged over classes (scikit-learn's 'macro')."""

    def __init__(self, name=None, threshold=0.5):
        self.name = name or self.name
        self.threshold = threshold
        self.reset_state()

    def reset_state(self):
        self._tp = self._fp = self._fn = None

    def update_state(self, y_true, y_pred):
        t, p = _np(y_true), _np(y_pred)
        if p.ndim == 2 and p.shape[1] > 1:
            c = p.shape[1]
            pred, true = np.eye(c, dtype=bool)[p.argmax(axis=1)], np.eye(c, dtype=bool)[_class_labels(t, c)]
        else:
            pred, true = (p.reshape(-1, 1) > self.threshold), (t.reshape(-1, 1) > 0.5)
        tp, fp, fn = (pred & true).sum(0), (pred & ~true).sum(0), (~pred & true).sum(0)
        if self._tp is None or len(self._tp) != len(tp):
            self._tp, self._fp, self._fn = tp, fp, fn
        else:
            self._tp, self._fp, self._fn = self._tp + tp, self._fp + fp, self._fn + fn

    def _ratio(self, den):
        if self._tp is None:
            return 0.0
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.where(den > 0, self._tp / np.maximum(den, 1), 0.0)
        return float(np.mean(r))


class Precision(_Confusion):
    """tp / (tp + fp) (0 when nothing was predicted positive)."""

    name = "precision"

    def result(self):
        return self._ratio(self._tp + self._fp) if self._tp is not None else 0.0


class Recall(_Confusion):
    """tp / (tp + fn) (0 when there were no positives)."""

    name = "recall"

    def result(self):
        return self._ratio(self._tp + self._fn) if self._tp is not None else 0.0


class _Collect(Metric):
    """Keeps the epoch's labels and predictions (for metrics that need them all at once)."""

    def reset_state(self):
        self._t, self._p = [], []

    def update_state(self, y_true, y_pred):
        self._t.append(np.array(_np(y_true)))
        self._p.append(np.array(_np(y_pred)))

    def collected(self):
        return np.concatenate(self._t, axis=0), np.concatenate(self._p, axis=0)


class AUC(_Collect):
    """Exact area under the ROC curve (ties count one half, the Mann-Whitney statistic; equal to
    scikit-learn's ``roc_auc_score``; Keras approximates it with 200 thresholds). Several columns:
    one-vs-rest, averaged over classes."""

    name = "auc"

    def __init__(self, name=None):
        self.name = name or self.name
        self.reset_state()

    def result(self):
        if not self._t:
            return 0.0
        t, p = self.collected()
        if p.ndim == 2 and p.shape[1] > 1:
            labels = _class_labels(t, p.shape[1])
            return float(np.mean([_binary_auc(labels == k, p[:, k]) for k in range(p.shape[1])]))
        return _binary_auc(t.reshape(-1) > 0.5, p.reshape(-1))


def _binary_auc(positive, score):
    """Mann-Whitney U / (n_pos n_neg) with average ranks for ties (Hanley & McNeil 1982)."""
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(score, kind="mergesort")
    s = score[order]
    ranks = np.empty(len(s), dtype=np.float64)
    starts = np.r_[0, np.flatnonzero(np.diff(s)) + 1]
    ends = np.r_[starts[1:], len(s)]
    for a, b in zip(starts, ends):
        ranks[a:b] = (a + b + 1) / 2.0               # the average of ranks a+1 .. b
    rank_of = np.empty_like(ranks)
    rank_of[order] = ranks
    return float((rank_of[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


class R2Score(Metric):
    """Coefficient of determination 1 - SS_res / SS_tot per output column, averaged over columns
    (scikit-learn's and Keras' 'uniform_average'); accumulated from running sums."""

    name = "r2"

    def __init__(self, name=None):
        self.name = name or self.name
        self.reset_state()

    def reset_state(self):
        self._n, self._sum, self._sq, self._res = 0, 0.0, 0.0, 0.0

    def update_state(self, y_true, y_pred):
        p = _np(y_pred).astype(np.float64)
        p = p.reshape(len(p), -1)
        t = _np(y_true).astype(np.float64).reshape(p.shape)
        self._n += len(t)
        self._sum = self._sum + t.sum(0)
        self._sq = self._sq + (t * t).sum(0)
        self._res = self._res + ((t - p) ** 2).sum(0)

    def result(self):
        if not self._n:
            return 0.0
        ss_tot = self._sq - self._sum ** 2 / self._n
        with np.errstate(invalid="ignore", divide="ignore"):
            r2 = np.where(ss_tot > 0, 1 - self._res / np.where(ss_tot > 0, ss_tot, 1), 0.0)
        return float(np.mean(r2))


class FunctionMetric(_Collect):
    """Any ``f(y_true, y_pred) -> number``, called once per epoch on everything the epoch saw
    (exact for non-decomposable metrics such as F1). A returned array is averaged."""

    def __init__(self, fn, name=None):
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "metric")
        self.reset_state()

    def result(self):
        if not self._t:
            return 0.0
        t, p = self.collected()
        return float(np.mean(_np(self.fn(t, p))))

    def get_config(self):
        return {"name": self.name}


METRICS = {"accuracy": Accuracy, "acc": Accuracy, "binary_accuracy": BinaryAccuracy,
           "categorical_accuracy": CategoricalAccuracy, "sparse_categorical_accuracy": SparseCategoricalAccuracy,
           "precision": Precision, "recall": Recall, "auc": AUC, "mae": MeanAbsoluteError,
           "mean_absolute_error": MeanAbsoluteError, "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
           "rmse": RootMeanSquaredError, "r2": R2Score, "r2_score": R2Score}


def get(spec):
    """A fresh Metric from a name, a Metric instance (used as is) or a function ``f(y_true, y_pred)``."""
    if isinstance(spec, Metric):
        return spec
    if isinstance(spec, type) and issubclass(spec, Metric):
        return spec()
    if isinstance(spec, str):
        if spec not in METRICS:
            raise ValueError(f"unknown metric {spec!r}; choose one of {', '.join(METRICS)} or pass a function "
                             "f(y_true, y_pred)")
        return METRICS[spec](name=spec)
    if callable(spec):
        return FunctionMetric(spec)
    raise TypeError(f"a metric is a name, a kinkgrad.metrics.Metric or a function f(y_true, y_pred), got "
                    f"{spec!r} ({type(spec).__name__})")


def accuracy(y_true, y_pred):
    """Fraction correct (see ``Accuracy``), on this data alone."""
    return Accuracy()(y_true, y_pred)


def mae(y_true, y_pred):
    return MeanAbsoluteError()(y_true, y_pred)


def mse(y_true, y_pred):
    return MeanSquaredError()(y_true, y_pred)


def r2_score(y_true, y_pred):
    return R2Score()(y_true, y_pred)
