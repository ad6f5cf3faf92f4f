"""What every optimizer shares: parameter groups with their own hyperparameters (PyTorch), both
spellings of the arguments (PyTorch's ``lr=``/``betas=``, Keras' ``learning_rate=``/``beta_1=``/
``beta_2=``/``epsilon=``), validated arguments, gradient clipping, and a state that saves and loads
exactly (``state_dict`` / ``load_state_dict``)."""
from __future__ import annotations

import difflib
import math
import numbers
from typing import ClassVar

import numpy as np

import kinkgrad as kg

from ..tensor import Tensor
from . import schedules
from .clip import clip_arrays

_CLIP = ("clipnorm", "clipvalue", "global_clipnorm")
_COMMON_ALIASES = {"learning_rate": "lr", "epsilon": "eps"}


def _assign(param, new_values):
    """Write ``new_values`` into ``param`` in place, as PyTorch's optimizers do: the parameter stays the
    same leaf, views of it see the update, and the write is stamped, so a graph that saved the old value
    refuses to backward through it. Every parameter update of every optimizer goes through here."""
    with kg.no_grad():
        param[...] = new_values


def _is_real(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _describe(v):
    return f"{v!r} ({type(v).__name__})"


def check_lr(owner, lr, name="lr"):
    """A positive finite number, or a schedule (a callable of the step count)."""
    if callable(lr):
        return lr
    if not _is_real(lr):
        raise TypeError(f"{owner}: {name} must be a positive number or a schedule (a function of the step count), "
                        f"got {_describe(lr)}")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"{owner}: {name} must be a positive finite number, got {lr!r}")
    return float(lr)


def _check_real(owner, name, v, low=0.0, high=None, high_open=False):
    if not _is_real(v):
        raise TypeError(f"{owner}: {name} must be a number, got {_describe(v)}")
    if not math.isfinite(v) or v < low or (high is not None and (v >= high if high_open else v > high)):
        bound = "" if high is None else (f" and < {high}" if high_open else f" and <= {high}")
        raise ValueError(f"{owner}: {name} must be >= {low}{bound}, got {v!r}")
    return float(v)


def _check_betas(owner, betas):
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise TypeError(f"{owner}: betas must be a pair (beta_1, beta_2), e.g. (0.9, 0.999), got {_describe(betas)}")
    return tuple(_check_real(owner, f"beta_{i + 1}", b, 0.0, 1.0, high_open=True) for i, b in enumerate(betas))


class Optimizer:
    """Applies ``rule`` to every parameter that has a gradient. Subclasses declare ``defaults``
    (PyTorch's names), ``aliases`` (other spellings) and the pure update ``rule`` of ``optim.rules``.

    ``params``: an iterable of parameters, or of dicts ``{"params": [...], "lr": ..., ...}`` (groups
    with their own settings), or None to bind later (``model.compile`` does). ``lr`` is a number or a
    schedule of the step count. ``clipnorm`` (per parameter), ``global_clipnorm`` (all together) and
    ``clipvalue`` (per element) clip the gradients first, as in Keras; ``.grad`` is left unchanged."""

    defaults: ClassVar[dict] = {}
    aliases: ClassVar[dict] = {}

    def __init__(self, params=None, **kwargs):
        owner = type(self).__name__
        clip = {k: kwargs.pop(k, None) for k in _CLIP}
        for k, v in clip.items():
            if v is not None:
                _check_real(owner, k, v)
                if v <= 0:
                    raise ValueError(f"{owner}: {k} must be > 0, got {v!r}")
        if clip["clipnorm"] is not None and clip["global_clipnorm"] is not None:
            raise ValueError(f"{owner}: pass clipnorm= (per parameter) or global_clipnorm= (all together), not both")
        self.clipnorm, self.clipvalue = clip["clipnorm"], clip["clipvalue"]
        self.global_clipnorm = clip["global_clipnorm"]
        self.defaults = self._validated({**type(self).defaults, **self._canonical(kwargs)})
        self.param_groups = []
        self.state = {}           # parameter -> its state (arrays and its own step count)
        self.steps = 0
        if params is not None:
            for group in self._groups(params):
                self.add_param_group(group)

    # -- arguments ---------------------------------------------------------------------------------------
    def _canonical(self, kwargs):
        """Map every spelling to PyTorch's name; reject unknown names and two spellings of one setting."""
        owner = type(self).__name__
        aliases = {**_COMMON_ALIASES, **type(self).aliases}
        out, given = {}, {}
        for key, value in kwargs.items():
            if key in ("beta_1", "beta_2") and "betas" in type(self).defaults:
                target = "betas"
            elif key in type(self).defaults:
                target = key
            elif key in aliases:
                target = aliases[key]
            else:
                known = sorted(set(type(self).defaults) | set(aliases) | set(_CLIP)
                               | ({"beta_1", "beta_2"} if "betas" in type(self).defaults else set()))
                close = difflib.get_close_matches(key, known, n=1)
                hint = f" (did you mean {close[0]}=?)" if close else ""
                raise TypeError(f"{owner}: unknown argument {key!r}{hint}; it takes {', '.join(known)}")
            if target == "betas" and key != "betas":
                if "betas" in given and given["betas"] == "betas":
                    raise TypeError(f"{owner}: got betas= and {key}=; pass one spelling")
                b = list(out.get("betas", type(self).defaults["betas"]))
                b[int(key[-1]) - 1] = value
                out["betas"], given["betas"] = tuple(b), key
                continue
            if target in given:
                raise TypeError(f"{owner}: got both {given[target]}= and {key}= (the same setting); pass one")
            out[target], given[target] = value, key
        return out

    def _validated(self, hyper):
        owner = type(self).__name__
        out = dict(hyper)
        for key, value in hyper.items():
            if key == "lr":
                out[key] = check_lr(owner, value)
            elif key == "betas":
                out[key] = _check_betas(owner, value)
            elif key == "nesterov":
                if not isinstance(value, (bool, np.bool_)):
                    raise TypeError(f"{owner}: nesterov must be True or False, got {_describe(value)}")
            elif key == "alpha":
                out[key] = _check_real(owner, "alpha (Keras: rho)", value, 0.0, 1.0)
            else:
                out[key] = _check_real(owner, key, value)
        if out.get("nesterov") and not out.get("momentum"):
            raise ValueError(f"{owner}: nesterov=True needs a momentum > 0")
        return out

    def _groups(self, params):
        owner = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{owner}: params must be an iterable of parameters or of dicts, got one tensor; "
                            "wrap it in a list: [p]")
        if hasattr(params, "named_parameters") and hasattr(params, "forward"):
            raise TypeError(f"{owner}: params must be an iterable of parameters, got a {type(params).__name__} "
                            "module; pass model.parameters()")
        if isinstance(params, (str, bytes, dict)) or not hasattr(params, "__iter__"):
            raise TypeError(f"{owner}: params must be an iterable of parameters or of dicts, got {_describe(params)}")
        items = list(params)
        if items and all(isinstance(g, dict) for g in items):
            return items
        return [{"params": items}]

    # -- parameter groups --------------------------------------------------------------------------------
    def add_param_group(self, group):
        """Add ``{"params": [...], **settings}``; unset settings take the optimizer's defaults."""
        owner = type(self).__name__
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{owner}: a parameter group is a dict with a 'params' entry, got {_describe(group)}")
        settings = self._validated(self._canonical({k: v for k, v in group.items() if k != "params"}))
        ps = group["params"]
        ps = [ps] if isinstance(ps, Tensor) else list(ps)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(ps):
            if not isinstance(p, Tensor):
                raise TypeError(f"{owner}: parameter {i} of a group is {type(p).__name__}, not a tensor")
            if not p.requires_grad or p.node is not None:
                raise ValueError(f"{owner}: parameter {i} (shape {p.shape}) is not a leaf tensor that requires grad; "
                                 "optimizers update parameters (nn.Parameter or kg.tensor(..., requires_grad=True))")
            if id(p) in seen:
                raise ValueError(f"{owner}: parameter {i} (shape {p.shape}) is given twice (in this group or another); "
                                 "each parameter may appear once")
            seen.add(id(p))
        self.param_groups.append({**self.defaults, **settings, "params": ps})

    @property
    def params(self):
        """Every parameter, in group order (the indices ``state_dict`` uses)."""
        return [p for g in self.param_groups for p in g["params"]]

    def bind(self, params):
        """Attach parameters later, in one group with the defaults (``model.compile`` does this)."""
        self.param_groups = []
        for group in self._groups(params):
            self.add_param_group(group)
        return self

    # -- the learning rate ---------------------------------------------------------------------------
    def current_lr(self):
        """The learning rate of the first group at the current step (a schedule evaluated)."""
        lr = self.param_groups[0]["lr"] if self.param_groups else self.defaults["lr"]
        return float(lr(self.steps)) if callable(lr) else lr

    @property
    def lr(self):
        return self.param_groups[0]["lr"] if self.param_groups else self.defaults["lr"]

    @lr.setter
    def lr(self, value):
        value = check_lr(type(self).__name__, value)
        self.defaults["lr"] = value
        for g in self.param_groups:
            g["lr"] = value

    learning_rate = lr

    # -- stepping -------------------------------------------------------------------------------------
    def zero_grad(self, set_to_none=True):
        for p in self.params:
            p.grad = None

    def rule_args(self, group):
        """The keyword arguments of ``rule`` for one group."""
        raise NotImplementedError

    def step(self):
        owner = type(self).__name__
        if not any(g["params"] for g in self.param_groups):
            raise RuntimeError(f"{owner}.step(): no parameters; pass model.parameters() (or compile a model with it)")
        work = []
        for group in self.param_groups:
            lr = group["lr"](self.steps) if callable(group["lr"]) else group["lr"]
            for p in group["params"]:
                if p.grad is not None:
                    work.append((group, lr, p, _work_array(p.grad.data, p.data.dtype)))
        self.steps += 1
        grads = clip_arrays([w[3] for w in work], self.clipvalue, self.clipnorm, self.global_clipnorm)
        rule = type(self).rule
        for (group, lr, p, _), g in zip(work, grads):
            if not np.all(np.isfinite(g)):
                raise FloatingPointError(f"{owner}.step(): a gradient of shape {p.shape} contains NaN or inf; "
                                         "check the data and the loss, or lower the learning rate")
            st = self.state.setdefault(p, {"step": 0})
            st["step"] += 1
            value = _work_array(p.data, p.data.dtype)
            update, _ = rule(g, value, st, st["step"], lr, **self.rule_args(group))
            _assign(p, value + update)

    # -- saving ---------------------------------------------------------------------------------------
    def state_dict(self):
        """PyTorch's layout: ``{"state": {index: {...}}, "param_groups": [{..., "params": [index...]}]}``
        (copies), plus ``steps`` (the count schedules see)."""
        index = {id(p): i for i, p in enumerate(self.params)}
        state = {index[id(p)]: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in st.items()}
                 for p, st in self.state.items() if id(p) in index}
        groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": [index[id(p)] for p in g["params"]]}
                  for g in self.param_groups]
        return {"steps": self.steps, "state": state, "param_groups": groups}

    def load_state_dict(self, sd):
        """Restore what ``state_dict`` gave, onto an optimizer holding parameters of the same shapes."""
        owner = type(self).__name__
        params = self.params
        groups = sd.get("param_groups")
        if groups is not None:
            sizes = [len(g["params"]) for g in groups]
            if sizes != [len(g["params"]) for g in self.param_groups]:
                raise ValueError(f"{owner}.load_state_dict: the saved state has parameter groups of sizes {sizes}, "
                                 f"this optimizer {[len(g['params']) for g in self.param_groups]}")
        new_state = {}
        for i, st in sd.get("state", {}).items():
            i = int(i)
            if not 0 <= i < len(params):
                raise ValueError(f"{owner}.load_state_dict: state for parameter {i}, but this optimizer holds "
                                 f"{len(params)}")
            p = params[i]
            for k, v in st.items():
                if isinstance(v, np.ndarray) and v.shape != p.shape:
                    raise ValueError(f"{owner}.load_state_dict: state {k!r} of parameter {i} has shape {v.shape}, "
                                     f"the parameter {p.shape}")
            new_state[p] = {k: (np.array(v) if isinstance(v, np.ndarray) else v) for k, v in st.items()}
        if groups is not None:
            for mine, saved in zip(self.param_groups, groups):
                mine.update({k: v for k, v in saved.items() if k != "params"})
        self.state = new_state
        self.steps = int(sd.get("steps", 0))

    def get_config(self):
        """Constructor arguments (JSON-ready; a schedule is saved as its class name and config)."""
        cfg = {}
        for k, v in self.defaults.items():
            cfg[k] = schedules.serialize(v) if callable(v) else (list(v) if isinstance(v, tuple) else v)
        cfg.update({k: getattr(self, k) for k in _CLIP if getattr(self, k) is not None})
        return cfg

    @classmethod
    def from_config(cls, config, custom_objects=None):
        cfg = dict(config)
        if isinstance(cfg.get("lr"), dict):
            cfg["lr"] = schedules.deserialize(cfg["lr"], custom_objects)
        if isinstance(cfg.get("betas"), list):
            cfg["betas"] = tuple(cfg["betas"])
        return cls(**cfg)

    def __repr__(self):
        hyper = ", ".join(f"{k}={v!r}" for k, v in self.defaults.items())
        return f"{type(self).__name__}({hyper})"


def _work_array(a, dtype):
    """Arrays the update is computed in: float16 parameters are updated in float32 (eps=1e-8 and
    squared gradients underflow in float16), then written back rounded."""
    a = np.asarray(a)
    if np.dtype(dtype).itemsize < 4:
        return a.astype(np.float32)
    return a if a.dtype == dtype else a.astype(dtype)
