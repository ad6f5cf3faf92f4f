"""Modules: parameters found by walking attributes (as in PyTorch and Equinox), state dicts,
train/eval mode, Keras' introspection (``get_weights``, ``count_params``, ``get_config``), and
models that are complete before training: a model whose layers do not all have their weights yet
refuses ``parameters()``, ``state_dict()`` and ``summary()`` with the ways to build it."""
from __future__ import annotations

import contextlib
import contextvars
import inspect
from collections import OrderedDict
from typing import ClassVar

import numpy as np

import kinkgrad as kg

from ..tensor import Tensor
from ._checks import sample_shape

_REGISTRY = {}      # class name -> classes defined with that name (for loading saved configs)
_DEPTH = contextvars.ContextVar("kinkgrad_module_depth", default=0)   # module calls in progress, during audits


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


class _Spy:
    """Functions called after every module call (``summary`` records output shapes with one)."""

    hooks: ClassVar[list] = []


def _auditing():
    return kg.get_kinks().audit is not None


class Module:
    """Base class: subclasses compute their output in ``forward`` (or Keras' ``call``) and need no
    gradient code. Parameters and sub-modules are found by walking attributes, lists and dicts.

    During a ``kg.audit()`` the calls of the layers inside a model run inside ``kg.name_scope(layer.name)``,
    so the audit counts kink hits per layer; outside an audit a call is just ``forward``."""

    _name = None
    _regularized = ()          # (regularizer attribute, parameter attribute) pairs, e.g. kernel_regularizer
    build_spec = None          # {"shape": [...], "dtype": ...} once built from an input shape

    def __init__(self):
        object.__setattr__(self, "training", True)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _REGISTRY.setdefault(cls.__name__, []).append(cls)

    # -- names -----------------------------------------------------------------------------------
    @property
    def name(self):
        """The layer's name (Keras'): given, set by the model that holds it, or the class name."""
        return self._name or type(self).__name__.lower()

    @name.setter
    def name(self, value):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{type(self).__name__}: name must be a str, got {value!r}")
        self._name = value

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

    def _name_children(self):
        """Children without a name take the attribute that holds them (``fc1``, ``blocks.0``): the names
        summaries and per-layer audits show."""
        for key, child in self.named_children():
            if child._name is None:
                child._name = key
            child._name_children()

    def named_modules(self, prefix=""):
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return [m for _, m in self.named_modules()]

    def _own_parameters(self):
        """(name, parameter) held by this module itself (attributes); a module that keeps its weights
        elsewhere (an imported graph) overrides this and ``_own_buffers``."""
        return [(k, v) for k, v in vars(self).items() if isinstance(v, Parameter)]

    def _own_buffers(self):
        """(name, array) of non-trained state: the attributes listed in ``_buffers``."""
        return [(name, getattr(self, name)) for name in getattr(self, "_buffers", ())]

    def _walk_state(self, prefix="", seen=None):
        """(name, parameter or buffer, is_parameter) in PyTorch's order: a module's own parameters,
        its buffers, then each child's; shared parameters once."""
        seen = set() if seen is None else seen
        for name, p in self._own_parameters():
            if id(p) not in seen:
                seen.add(id(p))
                yield prefix + name, p, True
        for name, value in self._own_buffers():
            yield prefix + name, value, False
        for name, child in self.named_children():
            yield from child._walk_state(prefix + name + ".", seen)

    # -- built or not ----------------------------------------------------------------------------
    def _has_weights(self):
        """False for a layer whose weights wait for the input size (a Dense without input_shape)."""
        return True

    @property
    def built(self):
        return all(m._has_weights() for m in self.modules())

    def _require_built(self, what):
        missing = [f"{path or type(self).__name__} ({type(m).__name__} '{m.name}')"
                   for path, m in self.named_modules() if not m._has_weights()]
        if missing:
            verb = "has" if len(missing) == 1 else "have"
            raise RuntimeError(
                f"{what}: {type(self).__name__} is not built yet: {', '.join(missing)} {verb} no weights because the "
                "input size is unknown, so they would be left out. Build the model first: give the first layer "
                "input_shape=(features,) (or put kg.nn.Input((features,)) first), call model.build(input_shape) "
                "with the shape of one sample, or call the model once on a batch")

    def build(self, input_shape, dtype=None):
        """Create every layer's weights by running one forward pass on zeros of ``(1, *input_shape)``
        (``input_shape``: one sample's shape, as Keras' ``input_shape=``; a leading None is dropped)."""
        owner = f"{type(self).__name__}.build"
        shape = sample_shape(owner, input_shape)
        dtype = np.dtype(dtype) if dtype is not None else self._input_dtype()
        was = self.training
        self.eval()
        try:
            with kg.no_grad():
                self(np.zeros((1,) + shape, dtype))
        finally:
            self.train(was)
        self.build_spec = {"shape": list(shape), "dtype": dtype.name}
        return self

    def _input_dtype(self):
        dt = getattr(self, "input_dtype", None) or getattr(self, "dtype", None)
        try:
            return np.dtype(dt) if dt is not None else np.dtype(np.float32)
        except TypeError:
            return np.dtype(np.float32)

    # -- parameters and state -----------------------------------------------------------------------
    def named_parameters(self, prefix=""):
        self._require_built("named_parameters()")
        return [(n, p) for n, p, is_param in self._walk_state(prefix) if is_param]

    def parameters(self):
        """Every parameter; refuses a model whose layers are not all built (an optimizer given a
        partial list would silently never train the rest)."""
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix=""):
        """Non-trained state (e.g. BatchNorm running statistics): attributes listed in ``_buffers``."""
        return [(n, b) for n, b, is_param in self._walk_state(prefix) if not is_param]

    def state_dict(self):
        """Name -> ndarray copy of every parameter and buffer (PyTorch's names and order)."""
        self._require_built("state_dict()")
        return OrderedDict((n, np.array(getattr(v, "data", v), copy=True)) for n, v, _ in self._walk_state())

    def load_state_dict(self, state, strict=True):
        """Copy arrays into parameters and buffers; shape or name mismatches raise, listing them all,
        and nothing is loaded then."""
        self._require_built("load_state_dict()")
        own = {n: (v, is_param) for n, v, is_param in self._walk_state()}
        problems = []
        for name, value in state.items():
            if name in own and tuple(np.shape(value)) != tuple(np.shape(getattr(own[name][0], "data", own[name][0]))):
                target = np.shape(getattr(own[name][0], "data", own[name][0]))
                problems.append(f"{name}: saved shape {tuple(np.shape(value))}, model shape {tuple(target)}")
        if strict:
            problems += [f"{k}: missing from the saved weights" for k in own if k not in state]
            problems += [f"{k}: not a parameter of this model" for k in state if k not in own]
        if problems:
            raise ValueError("load_state_dict: the weights do not fit this model:\n  " + "\n  ".join(problems))
        for name, value in state.items():
            if name not in own:
                continue
            target, is_param = own[name]
            if is_param:
                target.data = np.array(value, dtype=target.dtype)
            else:
                self._set_buffer(name, np.array(value, dtype=np.asarray(target).dtype))

    def _set_buffer(self, dotted, value):
        *path, last = dotted.split(".")
        obj = self
        for part in path:
            obj = obj[int(part)] if isinstance(obj, (list, tuple)) else obj[part] if isinstance(obj, dict) \
                else getattr(obj, part)
        setattr(obj, last, value)

    def get_weights(self):
        """Copies of every parameter and buffer, in ``state_dict`` order (Keras' get_weights)."""
        return list(self.state_dict().values())

    def set_weights(self, weights):
        """Load a list like ``get_weights()`` returns; lengths and shapes are checked first."""
        names = list(self.state_dict())
        weights = list(weights)
        if len(weights) != len(names):
            raise ValueError(f"set_weights: {type(self).__name__} has {len(names)} weight arrays ({', '.join(names)}), "
                             f"got {len(weights)}")
        self.load_state_dict(OrderedDict(zip(names, weights)))

    def count_params(self):
        """Number of weights, trained or not (Keras' count_params: BatchNorm statistics included)."""
        self._require_built("count_params()")
        return int(sum(np.size(getattr(v, "data", v)) for _, v, _ in self._walk_state()))

    def get_extra_state(self):
        """JSON-ready state beyond weights that a checkpoint must keep (a seeded generator), or None."""
        return

    def set_extra_state(self, state):
        pass

    # -- modes ------------------------------------------------------------------------------------
    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self):
        for _, p, is_param in self._walk_state():
            if is_param:
                p.grad = None

    # -- regularization ----------------------------------------------------------------------------
    @property
    def losses(self):
        """Regularization terms (Keras' ``layer.losses``): weight penalties now, and activity
        penalties of the latest forward pass."""
        return [t for m in self.modules() for t in m._own_losses()]

    def _own_losses(self):
        """This module's own regularization terms (not its children's)."""
        terms = []
        for reg_attr, param_attr in self._regularized:
            reg, p = getattr(self, reg_attr, None), getattr(self, param_attr, None)
            if reg is not None and p is not None:
                terms.append(reg(p))
        act = self.__dict__.get("_activity_loss")
        if act is not None:
            terms.append(act)
        return terms

    # -- calling ---------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        call = getattr(type(self), "call", None)
        if call is not None:
            return call(self, *args, **kwargs)
        raise NotImplementedError(f"{type(self).__name__}: define forward(self, x) (or Keras' call(self, x))")

    def __call__(self, *args, **kwargs):
        auditing = _auditing()
        if _Spy.hooks or auditing:
            return self._observed_call(args, kwargs, auditing)
        return self.forward(*args, **kwargs)

    def _observed_call(self, args, kwargs, auditing):
        if auditing:           # the outermost module is the caller's business; the layers inside it get scopes
            depth = _DEPTH.get()
            token = _DEPTH.set(depth + 1)
            try:
                with kg.name_scope(self.name) if depth else contextlib.nullcontext():
                    out = self.forward(*args, **kwargs)
            finally:
                _DEPTH.reset(token)
        else:
            out = self.forward(*args, **kwargs)
        for hook in list(_Spy.hooks):
            hook(self, args, out)
        return out

    # -- config and copies -------------------------------------------------------------------------
    def get_config(self):
        """The constructor arguments (Keras' get_config), read back from attributes of the same
        names; a layer whose arguments are stored otherwise defines its own."""
        cfg = {}
        params = list(inspect.signature(type(self).__init__).parameters.values())[1:]
        for prm in params:
            if prm.kind in (prm.VAR_POSITIONAL, prm.VAR_KEYWORD):
                continue
            if prm.name in vars(self) or hasattr(type(self), prm.name) and prm.name != "name":
                cfg[prm.name] = getattr(self, prm.name)
            elif prm.default is prm.empty:
                raise NotImplementedError(
                    f"{type(self).__name__}.get_config(): the constructor argument {prm.name!r} is not stored as "
                    f"self.{prm.name}; store it so, or define get_config() returning the constructor arguments")
        return cfg

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __getstate__(self):
        state = dict(vars(self))
        state.pop("_activity_loss", None)      # a graph from the latest forward pass, not model state
        return state

    def __setstate__(self, state):
        vars(self).update(state)

    def __repr__(self):
        try:
            cfg = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "layers")
        except NotImplementedError:
            cfg = ""
        kids = [f"  ({n}): " + repr(m).replace("\n", "\n  ") for n, m in self.named_children()]
        return f"{type(self).__name__}({cfg})" + ("\n" + "\n".join(kids) if kids else "")


def find_class(class_name, module=None, custom_objects=None):
    """The Module subclass a saved config names: from ``custom_objects``, kinkgrad's layers, or a
    class of that name already defined in this process (nothing is imported or executed)."""
    if custom_objects and class_name in custom_objects:
        return custom_objects[class_name]
    candidates = _REGISTRY.get(class_name, [])
    if module is not None:
        exact = [c for c in candidates if c.__module__ == module]
        candidates = exact or candidates
    builtin = [c for c in candidates if c.__module__.startswith("kinkgrad.")]
    if builtin:
        return builtin[-1]
    distinct = {(c.__module__, c.__qualname__) for c in candidates}
    if len(distinct) == 1:
        return candidates[-1]
    where = "no class of that name is defined" if not candidates else \
        f"{len(distinct)} classes of that name are defined ({', '.join(sorted(m for m, _ in distinct))})"
    raise ValueError(f"cannot rebuild layer {class_name!r}: {where}; define or import it first, or pass "
                     f"custom_objects={{{class_name!r}: {class_name}}}")


def serialize(module):
    """``{"class_name", "module", "name", "config"}`` for a layer (JSON-ready when its config is)."""
    return {"class_name": type(module).__name__, "module": type(module).__module__, "name": module._name,
            "config": module.get_config()}


def deserialize(spec, custom_objects=None):
    cls = find_class(spec["class_name"], spec.get("module"), custom_objects)
    config = spec.get("config", {})
    try:
        params = inspect.signature(cls.from_config).parameters
    except (TypeError, ValueError):
        params = {}
    layer = cls.from_config(config, custom_objects) if "custom_objects" in params else cls.from_config(config)
    if spec.get("name"):
        layer._name = spec["name"]
    return layer
