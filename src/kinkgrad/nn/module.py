"""Modules: parameters found by walking attributes (as in PyTorch and Equinox), state dicts,
train/eval mode, and configs that round-trip (as in Keras)."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ..tensor import Tensor


class Parameter(Tensor):
    """A tensor that a Module owns and trains: requires grad, float32 unless given another float dtype."""

    __slots__ = ()

    def __init__(self, data, dtype=None):
        arr = np.array(getattr(data, "data", data), dtype=dtype if dtype is not None else None)
        if arr.dtype.kind != "f":
            arr = arr.astype(np.float32)
        super().__init__(arr, requires_grad=True)

    def __repr__(self):
        return "Parameter(" + super().__repr__()[len("tensor("):]


class Module:
    """Base class: subclasses compute their output in ``forward`` (or ``call``) and need no
    gradient code. Parameters and sub-modules are found by walking attributes, lists and dicts."""

    def __init__(self):
        object.__setattr__(self, "training", True)

    # -- structure -------------------------------------------------------------------------------
    def named_children(self):
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, v in enumerate(value):
                    if isinstance(v, Module):
                        yield f"{name}.{i}", v
            elif isinstance(value, dict):
                for k, v in value.items():
                    if isinstance(v, Module):
                        yield f"{name}.{k}", v

    def children(self):
        return [m for _, m in self.named_children()]

    def modules(self):
        yield self
        for child in self.children():
            yield from child.modules()

    def named_parameters(self, prefix=""):
        seen = set()
        for name, value in vars(self).items():
            if isinstance(value, Parameter) and id(value) not in seen:
                seen.add(id(value))
                yield prefix + name, value
        for name, child in self.named_children():
            for n, p in child.named_parameters(prefix + name + "."):
                if id(p) not in seen:
                    seen.add(id(p))
                    yield n, p

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix=""):
        """Non-trained state (e.g. BatchNorm running statistics): attributes listed in ``_buffers``."""
        for name in getattr(self, "_buffers", ()):
            yield prefix + name, getattr(self, name)
        for name, child in self.named_children():
            yield from child.named_buffers(prefix + name + ".")

    # -- state -----------------------------------------------------------------------------------
    def state_dict(self):
        """Name -> ndarray copy of every parameter and buffer."""
        state = OrderedDict((n, p.data.copy()) for n, p in self.named_parameters())
        state.update((n, np.array(b, copy=True)) for n, b in self.named_buffers())
        return state

    def load_state_dict(self, state, strict=True):
        """Copy arrays into parameters and buffers; shape or name mismatches raise, listing them all."""
        own = dict(self.named_parameters())
        buffers = dict(self.named_buffers())
        problems = []
        missing = [k for k in list(own) + list(buffers) if k not in state]
        unexpected = [k for k in state if k not in own and k not in buffers]
        for name, value in state.items():
            target = own.get(name)
            if target is not None and tuple(np.shape(value)) != target.shape:
                problems.append(f"{name}: saved shape {tuple(np.shape(value))}, model shape {target.shape}")
            buf = buffers.get(name)
            if buf is not None and np.shape(value) != np.shape(buf):
                problems.append(f"{name}: saved shape {tuple(np.shape(value))}, model shape {np.shape(buf)}")
        if strict and (missing or unexpected):
            problems += [f"{k}: missing from the saved weights" for k in missing]
            problems += [f"{k}: not a parameter of this model" for k in unexpected]
        if problems:
            raise ValueError("load_state_dict: the weights do not fit this model:\n  " + "\n  ".join(problems))
        for name, value in state.items():
            if name in own:
                own[name].data = np.array(value, dtype=own[name].dtype)
            elif name in buffers:
                self._set_buffer(name, np.array(value, dtype=np.asarray(buffers[name]).dtype))

    def _set_buffer(self, dotted, value):
        obj = self
        *path, last = dotted.split(".")
        for part in path:
            if isinstance(obj, (list, tuple)):
                obj = obj[int(part)]
            elif isinstance(obj, dict):
                obj = obj[part]
            else:
                obj = getattr(obj, part)
        setattr(obj, last, value)

    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    # -- calling ---------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        call = type(self).__dict__.get("call")
        if call is not None:
            return call(self, *args, **kwargs)
        raise NotImplementedError(f"{type(self).__name__}: define forward(self, x) (or Keras' call(self, x))")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # -- config ----------------------------------------------------------------------------------
    def get_config(self):
        """The constructor arguments (Keras' get_config); subclasses with arguments extend it."""
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        cfg = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        kids = [f"  ({n}): " + repr(m).replace("\n", "\n  ") for n, m in self.named_children()]
        return f"{type(self).__name__}({cfg})" + ("\n" + "\n".join(kids) if kids else "")
