"""Losses, Keras argument order: ``loss(y_true, y_pred, reduction="mean")``.

Each loss is a composition of primitives, so its derivative at a kink follows the active policy:
MAE's derivative at y_pred == y_true is abs'(0) (0 by default, the ``jax`` preset gives 1).
"""
from __future__ import annotations

import functools

import numpy as np

from . import ops
from .ops._declare import shape_of

REDUCTIONS = ("mean", "sum", "none")


def _reduce(values, reduction, name):
    if reduction == "mean":
        return ops.mean(values)
    if reduction == "sum":
        return ops.sum(values)
    if reduction == "none":
        return values
    raise ValueError(f"{name}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _labels(y_true, name):
    """The targets as an array of numbers (bool, int or float); anything else is refused by name."""
    t = np.asarray(getattr(y_true, "data", y_true))
    if t.dtype.kind not in "biuf":
        raise TypeError(f"{name}: y_true must hold numbers, got dtype {t.dtype}; convert the labels first "
                        "(e.g. with sklearn.preprocessing.LabelEncoder)")
    return t


def _probabilities(y_pred, name, hint):
    """Refuse predictions outside [0, 1] where probabilities are expected: clipping them would hide a
    missing sigmoid/softmax (or logits given without from_logits=True) behind a finite, wrong loss."""
    p = np.asarray(getattr(y_pred, "data", y_pred))
    if p.size and p.dtype.kind in "fiub":
        lo, hi = float(np.min(p)), float(np.max(p))
        if lo < 0 or hi > 1:
            raise ValueError(f"{name}: y_pred must be probabilities in [0, 1], got values in [{lo:.4g}, {hi:.4g}]; "
                             f"{hint}")


def _residual(y_true, y_pred, name):
    _labels(y_true, name)
    st, sp = tuple(shape_of(y_true)), tuple(shape_of(y_pred))
    if st != sp:
        raise ValueError(f"{name}: y_true has shape {st} but y_pred has shape {sp}; they must match "
                         "(reshape one, e.g. y_true.reshape(-1, 1))")
    return y_pred - y_true


def mse(y_true, y_pred, reduction="mean"):
    """Mean squared error, mean((y_pred - y_true)^2)."""
    r = _residual(y_true, y_pred, "mse")
    return _reduce(r * r, reduction, "mse")


def mae(y_true, y_pred, reduction="mean"):
    """Mean absolute error, mean(|y_pred - y_true|). Kink: y_pred == y_true, where the derivative is
    abs'(0) under the active policy (default 0; one-sided slopes -1/n and +1/n)."""
    return _reduce(ops.abs(_residual(y_true, y_pred, "mae")), reduction, "mae")


l1 = mae


def huber(y_true, y_pred, delta=1.0, reduction="mean"):
    """0.5 r^2 for |r| <= delta, delta (|r| - delta / 2) beyond: continuously differentiable."""
    if delta <= 0:
        raise ValueError(f"huber: delta must be > 0, got {delta}")
    r = _residual(y_true, y_pred, "huber")
    a = ops.abs(r)
    return _reduce(ops.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta)), reduction, "huber")


def smooth_l1(y_true, y_pred, beta=1.0, reduction="mean"):
    """huber / beta: 0.5 r^2 / beta for |r| < beta, |r| - beta / 2 beyond. ``beta=0`` is exactly L1
    (no division by zero), with L1's kink at r = 0."""
    if beta < 0:
        raise ValueError(f"smooth_l1: beta must be >= 0, got {beta}")
    r = _residual(y_true, y_pred, "smooth_l1")
    a = ops.abs(r)
    if beta == 0:
        return _reduce(a, reduction, "smooth_l1")
    return _reduce(ops.where(a < beta, 0.5 * r * r / beta, a - 0.5 * beta), reduction, "smooth_l1")


def pseudo_huber(y_true, y_pred, delta=1.0, reduction="mean"):
    """delta^2 (sqrt(1 + (r / delta)^2) - 1): smooth everywhere, quadratic near 0, slope -> delta."""
    if delta <= 0:
        raise ValueError(f"pseudo_huber: delta must be > 0, got {delta}")
    r = _residual(y_true, y_pred, "pseudo_huber") / delta
    return _reduce(delta * delta * (ops.sqrt(1 + r * r) - 1), reduction, "pseudo_huber")


def log_cosh(y_true, y_pred, reduction="mean"):
    """log(cosh(r)), computed as softplus(2 r) - r - log 2 so large residuals do not overflow. Smooth
    everywhere (derivative tanh(r)): no |r| inside whose kink at 0 a policy would have to cancel."""
    r = _residual(y_true, y_pred, "log_cosh")
    return _reduce(ops.softplus(2 * r) - r - float(np.log(2.0)), reduction, "log_cosh")


def quantile(y_true, y_pred, q=0.5, reduction="mean"):
    """Pinball loss: q r for r >= 0, (q - 1) r for r < 0, with r = y_true - y_pred. Kink at r = 0:
    one-sided slopes in y_pred of -q and 1 - q; written as |r| / 2 + (q - 1/2) r, so the derivative
    there follows abs'(0) (default: q - 1/2 in r, the mean of the two slopes)."""
    if not 0 <= q <= 1:
        raise ValueError(f"quantile: q must lie in [0, 1], got {q}")
    r = -_residual(y_true, y_pred, "quantile")
    return _reduce(0.5 * ops.abs(r) + (q - 0.5) * r, reduction, "quantile")


pinball = quantile


def hinge(y_true, y_pred, reduction="mean"):
    """max(0, 1 - y_true * y_pred) with labels in {-1, 1} (0/1 labels are mapped to -1/1, as Keras
    does). Kink at y_true * y_pred = 1: relu's rule decides it."""
    t = _labels_pm1(y_true)
    return _reduce(ops.relu(1 - t * y_pred), reduction, "hinge")


def _labels_pm1(y_true):
    t = _labels(y_true, "hinge")
    if np.all((t == 0) | (t == 1)):
        t = 2 * t - 1
    return t.astype(np.float32) if t.dtype.kind != "f" else t


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, reduction="mean"):
    """Binary cross-entropy. With ``from_logits=True`` it is computed stably from logits z:
    softplus(z) - z y, smooth everywhere (written as max(z, 0) - z y + log1p(exp(-|z|)) the kinks of
    max and |.| at z = 0 would not cancel under their conventions); otherwise y_pred are probabilities in
    [0, 1] (values outside raise; exactly 0 and 1 are clipped to [eps, 1-eps] so the logarithms stay
    finite). Targets lie in [0, 1]."""
    name = "binary_crossentropy"
    _residual(y_true, y_pred, name)
    y = _labels(y_true, name).astype(np.float64)
    if y.size and (y.min() < 0 or y.max() > 1):
        raise ValueError(f"{name}: y_true must lie in [0, 1] (0/1 labels or probabilities), got values in "
                         f"[{y.min():.4g}, {y.max():.4g}]; for -1/1 labels use hinge, or map them with (y + 1) / 2")
    if not from_logits:
        _probabilities(y_pred, name, "if the model outputs logits (no sigmoid), pass from_logits=True: "
                       "losses.get('binary_crossentropy', from_logits=True)")
    if label_smoothing:
        y = y * (1 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        z = y_pred
        loss = ops.softplus(z) - z * y
    else:
        eps = 1e-7
        p = ops.clip(y_pred, eps, 1 - eps)
        loss = -(y * ops.log(p) + (1 - y) * ops.log(1 - p))
    return _reduce(loss, reduction, "binary_crossentropy")


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1, reduction="mean"):
    """Cross-entropy with one-hot (or probability) targets along ``axis``."""
    name = "categorical_crossentropy"
    _residual(y_true, y_pred, name)
    y = _labels(y_true, name).astype(np.float64)
    if not from_logits:
        _probabilities(y_pred, name, "if the model outputs logits (no softmax), pass from_logits=True")
    if label_smoothing:
        y = y * (1 - label_smoothing) + label_smoothing / y.shape[axis]
    logp = ops.log_softmax(y_pred, axis=axis) if from_logits else ops.log(ops.clip(y_pred, 1e-7, 1.0))
    return _reduce(-ops.sum(logp * y, axis=axis), reduction, "categorical_crossentropy")


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, reduction="mean"):
    """Cross-entropy with integer class labels ``y_true`` (shape (N,) or (N, 1)) against (N, C) scores."""
    labels = _labels(y_true, "sparse_categorical_crossentropy")
    sp = tuple(shape_of(y_pred))
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.dtype.kind == "f" and np.all(labels == np.round(labels)):
        labels = labels.astype(np.int64)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"sparse_categorical_crossentropy: labels must be integers, got dtype {labels.dtype}; "
                        "for one-hot targets use categorical_crossentropy")
    if len(sp) != 2 or labels.shape != (sp[0],):
        raise ValueError(f"sparse_categorical_crossentropy: expects labels of shape (N,) and scores (N, C), got "
                         f"{labels.shape} and {sp}")
    if labels.size and (labels.min() < 0 or labels.max() >= sp[1]):
        raise ValueError(f"sparse_categorical_crossentropy: labels must lie in [0, {sp[1]}), got min "
                         f"{labels.min()}, max {labels.max()}")
    if not from_logits:
        _probabilities(y_pred, "sparse_categorical_crossentropy",
                       "if the model outputs logits (no softmax), pass from_logits=True")
    if from_logits and not label_smoothing:
        return _reduce(ops.softmax_cross_entropy(y_pred, labels), reduction, "sparse_categorical_crossentropy")
    logp = ops.log_softmax(y_pred, axis=-1) if from_logits else ops.log(ops.clip(y_pred, 1e-7, 1.0))
    picked = logp[np.arange(sp[0]), labels]
    loss = -picked
    if label_smoothing:
        loss = (1 - label_smoothing) * loss - label_smoothing * ops.mean(logp, axis=-1)
    return _reduce(loss, reduction, "sparse_categorical_crossentropy")


def kl_div(y_true, y_pred, reduction="mean", log_target=False):
    """KL(y_true || y_pred) = sum y_true (log y_true - log y_pred) over the last axis, y_pred given as
    probabilities (Keras' KLDivergence); 0 log 0 is 0."""
    _residual(y_true, y_pred, "kl_div")
    _probabilities(y_pred, "kl_div", "kl_div takes y_pred as probabilities (apply softmax first)")
    t = _labels(y_true, "kl_div").astype(np.float64)
    logt = np.where(t > 0, np.log(np.where(t > 0, t, 1.0)), 0.0)
    return _reduce(ops.sum(t * (logt - ops.log(ops.clip(y_pred, 1e-7, 1.0))), axis=-1), reduction, "kl_div")


LOSSES = {
    "mse": mse, "mean_squared_error": mse, "mae": mae, "mean_absolute_error": mae, "l1": mae,
    "huber": huber, "smooth_l1": smooth_l1, "pseudo_huber": pseudo_huber, "log_cosh": log_cosh, "logcosh": log_cosh,
    "quantile": quantile, "pinball": quantile, "hinge": hinge, "binary_crossentropy": binary_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy, "kl_div": kl_div,
    "kl_divergence": kl_div,
}


_BY_NAME = LOSSES


def get(spec, **kwargs):
    """A loss function from a name (``"mae"``), or a callable ``loss(y_true, y_pred)``; keyword
    arguments are bound with ``functools.partial`` (picklable, and saved by name in checkpoints)."""
    if callable(spec):
        fn = spec
    elif isinstance(spec, str):
        if spec not in LOSSES:
            raise ValueError(f"unknown loss {spec!r}; choose one of {', '.join(sorted(LOSSES))} or pass a function")
        fn = LOSSES[spec]
    else:
        raise TypeError(f"a loss is a name such as 'mse' or a function loss(y_true, y_pred), got {spec!r} "
                        f"({type(spec).__name__})")
    return functools.partial(fn, **kwargs) if kwargs else fn
