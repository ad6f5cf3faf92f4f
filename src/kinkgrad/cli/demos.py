"""Small, fast, deterministic demonstrations used by the tour and the tests (no nn module needed)."""
from __future__ import annotations

import warnings

import numpy as np

import kinkgrad as kg


def step_network_training(activation, steps=150, lr=0.05, seed=0):
    """Seed 003's model, Dense(64, relu) -> activation -> Dense(1), trained with Adam on a small
    regression task. Returns (initial loss, final loss, warnings raised)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((128, 10))
    y = (np.sin(X[:, :3]).sum(axis=1, keepdims=True) > 0).astype(np.float64) + 0.1 * X[:, 3:4]
    params = [rng.standard_normal((10, 64)) * np.sqrt(2 / 10), np.zeros(64),
              rng.standard_normal((64, 1)) * np.sqrt(1 / 64), np.zeros(1)]

    def loss(w1, b1, w2, b2):
        h = activation(kg.relu(X @ w1 + b1) - 0.5)
        return kg.mean((h @ w2 + b2 - y) ** 2)

    grad = kg.value_and_grad(loss, argnums=(0, 1, 2, 3))
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    first = last = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", kg.NonDifferentiableWarning)
        for t in range(1, steps + 1):
            value, grads = grad(*params)
            first = value.item() if first is None else first
            last = value.item()
            for i, g in enumerate(grads):          # Adam, written out
                m[i] = 0.9 * m[i] + 0.1 * g.data
                v[i] = 0.999 * v[i] + 0.001 * g.data ** 2
                params[i] = params[i] - lr * (m[i] / (1 - 0.9 ** t)) / (np.sqrt(v[i] / (1 - 0.999 ** t)) + 1e-8)
    cut = [w for w in caught if issubclass(w.category, kg.NonDifferentiableWarning)]
    return first, last, cut
