"""Learning-rate schedules: functions of the optimizer's step count (from 0), written as small
classes so that an optimizer holding one can be pickled and saved in a checkpoint's config."""
from __future__ import annotations

import math

from ..configured import Configured


class Schedule(Configured):
    """Base class: ``schedule(step) -> lr``; ``get_config()`` holds the constructor arguments."""

    def __call__(self, step):
        raise NotImplementedError


class StepLR(Schedule):
    """lr * gamma ** (step // step_size) (PyTorch's StepLR)."""

    def __init__(self, lr, step_size, gamma=0.1):
        self.lr, self.step_size, self.gamma = lr, step_size, gamma

    def __call__(self, step):
        return self.lr * self.gamma ** (step // self.step_size)


class ExponentialLR(Schedule):
    """lr * gamma ** step (PyTorch's ExponentialLR)."""

    def __init__(self, lr, gamma):
        self.lr, self.gamma = lr, gamma

    def __call__(self, step):
        return self.lr * self.gamma ** step


class CosineLR(Schedule):
    """Cosine annealing from lr to eta_min over total_steps, then held (PyTorch's CosineAnnealingLR,
    one half period)."""

    def __init__(self, lr, total_steps, eta_min=0.0):
        self.lr, self.total_steps, self.eta_min = lr, total_steps, eta_min

    def __call__(self, step):
        t = min(step, self.total_steps) / self.total_steps
        return self.eta_min + (self.lr - self.eta_min) * (1 + math.cos(math.pi * t)) / 2


class Warmup(Schedule):
    """Linear warm-up over ``warmup_steps`` into ``schedule`` (a number or a schedule)."""

    def __init__(self, schedule, warmup_steps):
        self.schedule, self.warmup_steps = schedule, warmup_steps

    def _inner(self, step):
        return self.schedule(step) if callable(self.schedule) else self.schedule

    def __call__(self, step):
        if step < self.warmup_steps:
            return self._inner(0) * (step + 1) / self.warmup_steps
        return self._inner(step - self.warmup_steps)

    def get_config(self):
        inner = self.schedule
        return {"schedule": serialize(inner) if isinstance(inner, Schedule) else inner,
                "warmup_steps": self.warmup_steps}

    @classmethod
    def from_config(cls, config):
        inner = config["schedule"]
        return cls(deserialize(inner) if isinstance(inner, dict) else inner, config["warmup_steps"])


def step_lr(lr, step_size, gamma=0.1):
    """lr * gamma ** (step // step_size)."""
    return StepLR(lr, step_size, gamma)


def exponential_lr(lr, gamma):
    """lr * gamma ** step."""
    return ExponentialLR(lr, gamma)


def cosine_lr(lr, total_steps, eta_min=0.0):
    """Cosine annealing from lr to eta_min over total_steps (then held)."""
    return CosineLR(lr, total_steps, eta_min)


def warmup(schedule, warmup_steps):
    """Linear warm-up over ``warmup_steps`` into ``schedule`` (a number or a schedule)."""
    return Warmup(schedule, warmup_steps)


SCHEDULES = {cls.__name__: cls for cls in (StepLR, ExponentialLR, CosineLR, Warmup)}


def serialize(schedule):
    """``{"class_name": ..., "config": ...}`` for a built-in schedule (JSON-ready)."""
    if not isinstance(schedule, Schedule):
        raise TypeError(f"a learning-rate schedule must be a kinkgrad.optim schedule to be saved, got "
                        f"{type(schedule).__name__}; write it as a subclass of optim.Schedule with get_config()")
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config, custom_objects=None):
    name = config.get("class_name")
    cls = (custom_objects or {}).get(name) or SCHEDULES.get(name)
    if cls is None:
        raise ValueError(f"unknown learning-rate schedule {name!r}; pass it in custom_objects={{{name!r}: ...}}")
    return cls.from_config(config["config"])
