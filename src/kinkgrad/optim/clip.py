"""Gradient clipping, PyTorch's in-place functions on ``.grad`` and the array versions the
optimizers apply (Keras' clipnorm / clipvalue / global_clipnorm)."""
from __future__ import annotations

import math

import numpy as np


def global_norm(arrays):
    """L2 norm of all arrays together, accumulated in float64."""
    return math.sqrt(sum(float(np.sum(np.square(a, dtype=np.float64))) for a in arrays))


def clip_grad_norm_(params, max_norm):
    """Scale all gradients together so their global L2 norm is at most ``max_norm``; returns the norm."""
    grads = [p.grad for p in params if p.grad is not None]
    total = global_norm([g.data for g in grads])
    if total > max_norm > 0:
        scale = max_norm / (total + 1e-12)
        for g in grads:
            g.data = (g.data * scale).astype(g.data.dtype)
    return total


def clip_grad_value_(params, clip_value):
    """Clip every gradient element to [-clip_value, clip_value]."""
    for p in params:
        if p.grad is not None:
            p.grad.data = np.clip(p.grad.data, -clip_value, clip_value)


def clip_arrays(grads, clipvalue=None, clipnorm=None, global_clipnorm=None):
    """The optimizers' clipping on gradient arrays (new arrays; ``.grad`` is left as it was):
    ``clipvalue`` per element, ``clipnorm`` per parameter, ``global_clipnorm`` over all of them."""
    if clipvalue is not None:
        grads = [np.clip(g, -clipvalue, clipvalue) for g in grads]
    if clipnorm is not None:
        out = []
        for g in grads:
            n = global_norm([g])
            out.append(g * (clipnorm / n) if n > clipnorm else g)
        grads = out
    if global_clipnorm is not None:
        total = global_norm(grads)
        if total > global_clipnorm:
            grads = [g * (global_clipnorm / total) for g in grads]
    return grads
