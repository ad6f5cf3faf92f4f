"""Metrics for ``fit``/``evaluate``: plain NumPy on predictions (no gradients needed)."""
from __future__ import annotations

import numpy as np


def _np(x):
    return np.asarray(getattr(x, "data", x))


def accuracy(y_true, y_pred):
    """Fraction correct: argmax of (N, C) scores against integer or one-hot labels; for one output
    column, threshold at 0.5 (probabilities) against 0/1 labels."""
    t, p = _np(y_true), _np(y_pred)
    if p.ndim == 2 and p.shape[1] > 1:
        labels = t.argmax(axis=1) if t.ndim == 2 and t.shape[1] == p.shape[1] else t.reshape(-1)
        return float(np.mean(p.argmax(axis=1) == labels))
    return float(np.mean((p.reshape(-1) > 0.5) == (t.reshape(-1) > 0.5)))


def mae(y_true, y_pred):
    return float(np.mean(np.abs(_np(y_pred) - _np(y_true))))


def mse(y_true, y_pred):
    return float(np.mean((_np(y_pred) - _np(y_true)) ** 2))


_BY_NAME = {"accuracy": accuracy, "acc": accuracy, "mae": mae, "mean_absolute_error": mae, "mse": mse,
            "mean_squared_error": mse}


def get(spec):
    if callable(spec):
        return getattr(spec, "__name__", "metric"), spec
    if spec not in _BY_NAME:
        raise ValueError(f"unknown metric {spec!r}; choose one of {', '.join(_BY_NAME)} or pass a function")
    return spec, _BY_NAME[spec]
