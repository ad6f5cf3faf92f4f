"""Update rules as small pure functions (optax style): ``rule(g, p, state, step, **hyper) -> (update, state)``.
The returned update is *added* to the parameter. Everything runs on NumPy arrays, in place where safe."""
from __future__ import annotations

import numpy as np


def sgd(g, p, state, step, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    if weight_decay:
        g = g + weight_decay * p
    if momentum:
        buf = state.get("momentum")
        buf = g.copy() if buf is None else buf * momentum + g
        state["momentum"] = buf
        g = g + momentum * buf if nesterov else buf
    return -lr * g, state


def adam(g, p, state, step, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, decoupled=False):
    if weight_decay and not decoupled:
        g = g + weight_decay * p
    m = state.get("m")
    v = state.get("v")
    m = (1 - beta1) * g if m is None else beta1 * m + (1 - beta1) * g
    v = (1 - beta2) * g * g if v is None else beta2 * v + (1 - beta2) * g * g
    state["m"], state["v"] = m, v
    mhat = m / (1 - beta1 ** step)
    vhat = v / (1 - beta2 ** step)
    update = -lr * mhat / (np.sqrt(vhat) + eps)
    if weight_decay and decoupled:
        update = update - lr * weight_decay * p
    return update, state


def rmsprop(g, p, state, step, lr, rho=0.99, eps=1e-8, momentum=0.0, weight_decay=0.0):
    if weight_decay:
        g = g + weight_decay * p
    sq = state.get("square_avg")
    sq = (1 - rho) * g * g if sq is None else rho * sq + (1 - rho) * g * g
    state["square_avg"] = sq
    step_dir = g / (np.sqrt(sq) + eps)
    if momentum:
        buf = state.get("momentum")
        buf = step_dir if buf is None else momentum * buf + step_dir
        state["momentum"] = buf
        step_dir = buf
    return -lr * step_dir, state


def adagrad(g, p, state, step, lr, eps=1e-10, initial_accumulator_value=0.0, weight_decay=0.0):
    if weight_decay:
        g = g + weight_decay * p
    acc = state.get("sum")
    acc = np.full_like(g, initial_accumulator_value) + g * g if acc is None else acc + g * g
    state["sum"] = acc
    return -lr * g / (np.sqrt(acc) + eps), state
