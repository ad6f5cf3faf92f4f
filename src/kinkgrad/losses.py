"""Losses, Keras argument order: ``loss(y_true, y_pred, reduction="mean")``.

Each loss is a composition of primitives, so its derivative at a kink follows the active policy:
MAE's derivative at y_pred == y_true is abs'(0) (0 by default, the ``jax`` preset gives 1).
"""
from __future__ import annotations

import numpy as np

from . import ops

REDUCTIONS = ("mean", "sum", "none")


def _reduce(values, reduction, name):
    if reduction == "mean":
        return ops.mean(values)
    if reduction == "sum":
        return ops.sum(values)
    if reduction == "none":
        return values
    raise ValueError(f"{name}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _residual(y_true, y_pred, name):
    from .ops._declare import shape_of

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
    """log(cosh(r)), computed as |r| + log1p(exp(-2|r|)) - log 2 so large residuals do not overflow.
    Smooth (the |r| inside cancels its own kink: the derivative is tanh(r))."""
    r = _residual(y_true, y_pred, "log_cosh")
    a = ops.abs(r)
    return _reduce(a + ops.log1p(ops.exp(-2 * a)) - float(np.log(2.0)), reduction, "log_cosh")


def quantile(y_true, y_pred, q=0.5, reduction="mean"):
    """Pinball loss: q r for r >= 0, (q - 1) r for r < 0, with r = y_true - y_pred. Kink at r = 0:
    one-sided slopes in y_pred of -q and 1 - q; written as |r| / 2 + (q - 1/2) r, so the derivative
    there follows abs'(0) (default: q - 1/2 in r, the mean of the two slopes)."""
    if not 0 <= q <= 1:
        raise ValueError(f"quantile: q must lie in [0, 1], got {q}")
    r = -_residual(y_true, y_pred, "quantile")
    return _reduce(0.5 * ops.abs(r) + (q - 0.5) * r, reduction, "quantile")


pinball = quantile
