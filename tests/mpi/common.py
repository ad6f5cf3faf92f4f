"""Shared by the scripts that tests/test_distributed.py runs under ``mpiexec -n 2``."""
from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits

from kinkgrad import nn


def digits(shape="flat"):
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return (X.reshape(-1, 1, 8, 8) if shape == "image" else X), y.astype(np.int64)


def mlp(seed=0):
    return nn.Sequential([nn.Dense(32, activation="relu", input_shape=(64,), seed=seed),
                          nn.Dense(10, seed=seed + 1)])


def cnn(seed=0):
    return nn.Sequential([nn.Conv2d(1, 8, 3, padding=1, seed=seed), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Dense(10, input_dim=8 * 4 * 4, seed=seed + 1)])
