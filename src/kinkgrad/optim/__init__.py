"""Optimizers: a thin stateful wrapper (``step``, ``zero_grad``, ``state_dict``) around the pure
update rules in ``optim.rules``; learning-rate schedules; gradient clipping."""
from __future__ import annotations

import math

import numpy as np

from . import rules

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "get", "clip_grad_norm_",
           "clip_grad_value_", "step_lr", "exponential_lr", "cosine_lr", "warmup", "rules"]


class Optimizer:
    """Applies ``rule`` to every parameter with a gradient. ``lr`` is a number or a schedule
    (a function of the step count, from 0). ``clipnorm`` / ``clipvalue`` clip gradients first (Keras)."""

    rule = None

    def __init__(self, params, lr, clipnorm=None, clipvalue=None, **hyper):
        self.params = list(params) if params is not None else []
        if lr is None or (not callable(lr) and not lr > 0):
            raise ValueError(f"{type(self).__name__}: lr must be a positive number or a schedule, got {lr!r}")
        self.lr = lr
        self.hyper = hyper
        self.clipnorm, self.clipvalue = clipnorm, clipvalue
        self.state = {}
        self.steps = 0

    def bind(self, params):
        """Attach parameters later (``model.compile(optimizer=...)`` does this)."""
        self.params = list(params)
        return self

    def current_lr(self):
        return self.lr(self.steps) if callable(self.lr) else self.lr

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        if not self.params:
            raise RuntimeError(f"{type(self).__name__}.step(): no parameters; pass model.parameters()")
        live = [p for p in self.params if p.grad is not None]
        if self.clipvalue is not None:
            clip_grad_value_(live, self.clipvalue)
        if self.clipnorm is not None:
            clip_grad_norm_(live, self.clipnorm)
        lr = self.current_lr()
        self.steps += 1
        for p in live:
            g = np.asarray(p.grad.data, dtype=p.data.dtype)
            if not np.all(np.isfinite(g)):
                raise FloatingPointError(f"{type(self).__name__}.step(): a gradient of shape {p.shape} contains "
                                         "NaN or inf; check the data and the loss, or lower the learning rate")
            st = self.state.setdefault(id(p), {})
            update, st = type(self).rule(g, p.data, st, self.steps, lr, **self.hyper)
            p.data = (p.data + update).astype(p.data.dtype, copy=False)

    def state_dict(self):
        index = {id(p): i for i, p in enumerate(self.params)}
        return {"steps": self.steps, "state": {index[k]: dict(v) for k, v in self.state.items() if k in index}}

    def load_state_dict(self, sd):
        self.steps = sd["steps"]
        self.state = {id(self.params[i]): dict(v) for i, v in sd["state"].items()}

    def __repr__(self):
        return f"{type(self).__name__}(lr={self.lr!r}, {', '.join(f'{k}={v!r}' for k, v in self.hyper.items())})"


def _optimizer(name, rule, doc, **defaults):
    def __init__(self, params=None, lr=defaults.pop("lr"), clipnorm=None, clipvalue=None, **hyper):
        unknown = set(hyper) - set(defaults)
        if unknown:
            raise TypeError(f"{name}: unknown argument(s) {sorted(unknown)}; it takes {sorted(defaults)}")
        Optimizer.__init__(self, params, lr, clipnorm, clipvalue, **{**defaults, **hyper})

    return type(name, (Optimizer,), {"__init__": __init__, "rule": staticmethod(rule), "__doc__": doc})


SGD = _optimizer("SGD", rules.sgd, "Stochastic gradient descent with momentum, Nesterov and weight decay.",
                 lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0)
Adam = _optimizer("Adam", rules.adam, "Adam (Kingma & Ba); weight decay added to the gradient (L2).",
                  lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, decoupled=False)
AdamW = _optimizer("AdamW", rules.adam, "Adam with decoupled weight decay (Loshchilov & Hutter).",
                   lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01, decoupled=True)
RMSprop = _optimizer("RMSprop", rules.rmsprop, "RMSprop (PyTorch's defaults).",
                     lr=0.01, rho=0.99, eps=1e-8, momentum=0.0, weight_decay=0.0)
Adagrad = _optimizer("Adagrad", rules.adagrad, "Adagrad.", lr=0.01, eps=1e-10, initial_accumulator_value=0.0,
                     weight_decay=0.0)

_BY_NAME = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad}


def get(spec):
    """An optimizer from a name (``"adam"``), a class, or an instance (Keras' ``compile`` argument)."""
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, type) and issubclass(spec, Optimizer):
        return spec()
    if isinstance(spec, str) and spec.lower() in _BY_NAME:
        return _BY_NAME[spec.lower()]()
    raise ValueError(f"unknown optimizer {spec!r}; choose one of {', '.join(_BY_NAME)} or pass an instance")


# -- gradient clipping ----------------------------------------------------------------------------------
def clip_grad_norm_(params, max_norm):
    """Scale all gradients together so their global L2 norm is at most ``max_norm``; returns the norm."""
    grads = [p.grad for p in params if p.grad is not None]
    total = math.sqrt(sum(float(np.sum(np.asarray(g.data, dtype=np.float64) ** 2)) for g in grads))
    if total > max_norm > 0:
        scale = max_norm / (total + 1e-12)
        for p in params:
            if p.grad is not None:
                p.grad.data = (p.grad.data * scale).astype(p.grad.data.dtype)
    return total


def clip_grad_value_(params, clip_value):
    """Clip every gradient element to [-clip_value, clip_value]."""
    for p in params:
        if p.grad is not None:
            p.grad.data = np.clip(p.grad.data, -clip_value, clip_value)


# -- learning-rate schedules (functions of the step count) ------------------------------------------------
def step_lr(lr, step_size, gamma=0.1):
    """lr * gamma ** (step // step_size)."""
    return lambda step: lr * gamma ** (step // step_size)


def exponential_lr(lr, gamma):
    """lr * gamma ** step."""
    return lambda step: lr * gamma ** step


def cosine_lr(lr, total_steps, eta_min=0.0):
    """Cosine annealing from lr to eta_min over total_steps (then held)."""
    def schedule(step):
        t = min(step, total_steps) / total_steps
        return eta_min + (lr - eta_min) * (1 + math.cos(math.pi * t)) / 2
    return schedule


def warmup(schedule, warmup_steps):
    """Linear warm-up over ``warmup_steps`` into ``schedule`` (a number or a schedule)."""
    inner = schedule if callable(schedule) else (lambda step: schedule)

    def wrapped(step):
        if step < warmup_steps:
            return inner(0) * (step + 1) / warmup_steps
        return inner(step - warmup_steps)
    return wrapped
