"""Optimizers with PyTorch's and Keras' habits: ``Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999))``
or ``Adam(learning_rate=1e-3, beta_1=0.9)``; parameter groups; weight decay; clipping; schedules;
``state_dict()`` that resumes exactly. The update rules are pure functions in ``optim.rules``.

>>> import numpy as np, kinkgrad as kg
>>> p = kg.nn.Parameter(np.array([1.0, -2.0]))
>>> opt = kg.optim.SGD([p], lr=0.5)
>>> (p * p).sum().backward(); opt.step(); p.data.tolist()
[0.0, 0.0]
"""
from __future__ import annotations

from typing import ClassVar

from . import rules, schedules
from .clip import clip_grad_norm_, clip_grad_value_
from .optimizer import Optimizer, _assign, check_lr  # noqa: F401  (_assign: the one place parameters are written)
from .schedules import CosineLR, ExponentialLR, Schedule, StepLR, Warmup, cosine_lr, exponential_lr, step_lr, warmup

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "CosineLR",
    "ExponentialLR",
    "Optimizer",
    "RMSprop",
    "Schedule",
    "StepLR",
    "Warmup",
    "check_lr",
    "clip_grad_norm_",
    "clip_grad_value_",
    "cosine_lr",
    "exponential_lr",
    "get",
    "rules",
    "schedules",
    "step_lr",
    "warmup",
]


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, Nesterov and (L2) weight decay, as PyTorch's SGD.
    Arguments: ``lr`` (Keras: ``learning_rate``), ``momentum``, ``nesterov``, ``weight_decay``."""

    defaults: ClassVar[dict] = {"lr": 0.01, "momentum": 0.0, "nesterov": False, "weight_decay": 0.0}
    rule = staticmethod(rules.sgd)

    def rule_args(self, g):
        return {"momentum": g["momentum"], "nesterov": g["nesterov"], "weight_decay": g["weight_decay"]}


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015, Algorithm 1); ``weight_decay`` is added to the gradient (L2), as in
    PyTorch's Adam. Arguments: ``lr``/``learning_rate``, ``betas=(b1, b2)`` or ``beta_1=``/``beta_2=``,
    ``eps``/``epsilon``, ``weight_decay``."""

    defaults: ClassVar[dict] = {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0}
    decoupled = False
    rule = staticmethod(rules.adam)

    def rule_args(self, g):
        return {"beta1": g["betas"][0], "beta2": g["betas"][1], "eps": g["eps"], "weight_decay": g["weight_decay"],
                "decoupled": self.decoupled}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019), PyTorch's defaults."""

    defaults: ClassVar[dict] = {**Adam.defaults, "weight_decay": 0.01}
    decoupled = True


class RMSprop(Optimizer):
    """RMSprop with PyTorch's defaults; the smoothing constant is ``alpha`` (PyTorch) or ``rho`` (Keras)."""

    defaults: ClassVar[dict] = {"lr": 0.01, "alpha": 0.99, "eps": 1e-8, "momentum": 0.0, "weight_decay": 0.0}
    aliases: ClassVar[dict] = {"rho": "alpha"}
    rule = staticmethod(rules.rmsprop)

    def rule_args(self, g):
        return {"rho": g["alpha"], "eps": g["eps"], "momentum": g["momentum"], "weight_decay": g["weight_decay"]}


class Adagrad(Optimizer):
    """Adagrad (Duchi et al. 2011) with PyTorch's defaults."""

    defaults: ClassVar[dict] = {"lr": 0.01, "eps": 1e-10, "initial_accumulator_value": 0.0, "weight_decay": 0.0}
    rule = staticmethod(rules.adagrad)

    def rule_args(self, g):
        return {"eps": g["eps"], "initial_accumulator_value": g["initial_accumulator_value"],
                "weight_decay": g["weight_decay"]}


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad}


def get(spec, custom_objects=None):
    """An optimizer from a name (``"adam"``), a class, an instance (Keras' ``compile`` argument), or a
    saved ``{"class_name": ..., "config": ...}``."""
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, type) and issubclass(spec, Optimizer):
        return spec()
    if isinstance(spec, str) and spec.lower() in OPTIMIZERS:
        return OPTIMIZERS[spec.lower()]()
    if isinstance(spec, dict) and "class_name" in spec:
        name = spec["class_name"]
        cls = (custom_objects or {}).get(name) or OPTIMIZERS.get(name.lower())
        if cls is None:
            raise ValueError(f"unknown optimizer {name!r}; pass it in custom_objects={{{name!r}: ...}}")
        return cls.from_config(spec.get("config", {}), custom_objects)
    raise ValueError(f"unknown optimizer {spec!r}; choose one of {', '.join(OPTIMIZERS)} or pass an instance")
