"""Losses, Keras argument order: ``loss(y_true, y_pred, reduction="mean")``.

Each loss is a composition of primitives, so its derivative at a kink follows the active policy:
MAE's derivative at y_pred == y_true is abs'(0) (0 by default, the ``jax`` preset gives 1).
"""
from __future__ import annotations

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
