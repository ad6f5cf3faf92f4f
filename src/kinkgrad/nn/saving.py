"""Weights and checkpoints in the safetensors format: arrays plus a JSON header, no pickle, so
loading a file never executes code.

``save_weights``: every parameter and buffer by name. ``model.save("run.kg")``: one file holding the
architecture (the model's config), the weights (``weights/<name>``), the optimizer's state
(``optimizer/<index>/<key>``, PyTorch's indexing), the compile settings, and the training position
(epoch, shuffle seed, random generator states), so ``load_model`` + ``fit(initial_epoch=...)``
continues exactly where the run stopped."""
from __future__ import annotations

import json
import os

import numpy as np

from .. import losses as _losses
from .. import metrics as _metrics
from .. import optim as _optim
from .. import random as _random
from .module import deserialize, serialize

FORMAT, VERSION = "kinkgrad-model", 1


def _path(path, what):
    try:
        return os.fspath(path)
    except TypeError:
        raise TypeError(f"{what}: path must be a str or os.PathLike, got {path!r} ({type(path).__name__})") from None


def read(path, what):
    """(tensors, metadata) of a safetensors file, or an error naming the file and what is wrong."""
    from safetensors import SafetensorError, safe_open

    p = _path(path, what)
    if os.path.isdir(p):
        raise IsADirectoryError(f"{what}: {p!r} is a directory, not a weights file; pass the file that "
                                f"save_weights()/save() wrote, e.g. {os.path.join(p, 'model.safetensors')!r}")
    if not os.path.exists(p):
        raise FileNotFoundError(f"{what}: no such file {p!r}")
    try:
        with safe_open(p, framework="numpy") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118  (a file handle, not a dict)
    except (SafetensorError, OSError, ValueError) as e:
        raise ValueError(f"{what}: {p!r} is not a readable safetensors file (truncated, corrupt, or another format; "
                         f"{os.path.getsize(p)} bytes): {e}") from None
    return tensors, meta


def _write(tensors, path, what, metadata):
    from safetensors.numpy import save_file

    p = _path(path, what)
    if os.path.isdir(p):
        raise IsADirectoryError(f"{what}: {p!r} is a directory; give a file name such as 'run.kg'")
    folder = os.path.dirname(os.path.abspath(p))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{what}: cannot write {p!r}: the folder {folder!r} does not exist; create it first")
    tmp = p + ".tmp"
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, tmp, metadata=metadata)
    os.replace(tmp, p)          # a crash mid-write never leaves a half-written checkpoint under the real name


def save_weights(model, path):
    model._require_built("save_weights")
    _write(model.state_dict(), path, "save_weights", {"format": "kinkgrad-weights"})


def load_weights(model, path, strict=True):
    tensors, meta = read(path, "load_weights")
    if "kinkgrad" in meta:                              # a full checkpoint: take its weights
        tensors = {k[len("weights/"):]: v for k, v in tensors.items() if k.startswith("weights/")}
    model._require_built("load_weights")
    try:
        model.load_state_dict(tensors, strict=strict)
    except ValueError as e:
        raise ValueError(f"load_weights({_path(path, 'load_weights')!r}): {e}") from None


# -- full checkpoints ------------------------------------------------------------------------------------
def _loss_config(model):
    spec, fn = getattr(model, "loss_spec", None), model.loss_fn
    if isinstance(spec, str):
        return {"name": spec}
    func, kwargs = getattr(fn, "func", fn), dict(getattr(fn, "keywords", None) or {})
    name = next((k for k, v in _losses.LOSSES.items() if v is func), None)
    return {"name": name, "kwargs": kwargs} if name else {"custom": getattr(func, "__name__", None), "kwargs": kwargs}


def _metric_config(m):
    if isinstance(m, _metrics.FunctionMetric):
        return {"custom": m.name}
    if type(m) in _metrics.METRICS.values():
        return {"class_name": type(m).__name__, "config": m.get_config()}
    return {"custom": type(m).__name__}


def _compile_config(model):
    if getattr(model, "loss_fn", None) is None:
        return None
    return {"optimizer": {"class_name": type(model.optimizer).__name__, "config": model.optimizer.get_config()},
            "loss": _loss_config(model), "metrics": [_metric_config(m) for m in model.compiled_metrics],
            "kinks": model.kinks}


def _json_hyper(group):
    out = {}
    for k, v in group.items():
        if k == "params":
            out[k] = v
        elif callable(v):
            out[k] = _optim.schedules.serialize(v)
        else:
            out[k] = list(v) if isinstance(v, tuple) else v
    return out


def save_model(model, path, include_optimizer=True):
    """Write ``path`` (see the module docstring)."""
    model._require_built("save")
    compiled = _compile_config(model)
    tensors = {"weights/" + k: v for k, v in model.state_dict().items()}
    opt_meta = None
    if include_optimizer and compiled is not None and model.optimizer.param_groups:
        sd = model.optimizer.state_dict()
        scalars = {}
        for i, st in sd["state"].items():
            for k, v in st.items():
                if isinstance(v, np.ndarray):
                    tensors[f"optimizer/{i}/{k}"] = v
                else:
                    scalars.setdefault(str(i), {})[k] = v
        opt_meta = {"steps": sd["steps"], "param_groups": [_json_hyper(g) for g in sd["param_groups"]],
                    "scalars": scalars}
    training = dict(getattr(model, "_training_state", {}))
    training["global_rng"] = _random.get_state()
    extra = {name: m.get_extra_state() for name, m in model.named_modules() if m.get_extra_state() is not None}
    meta = {"format": FORMAT, "version": VERSION, "model": {**serialize(model), "build": model.build_spec},
            "compile": compiled, "optimizer": opt_meta, "training": training, "extra": extra}
    try:
        header = json.dumps(meta)
    except TypeError as e:
        raise TypeError(f"save: the model's configuration cannot be written as JSON ({e}); a layer argument is a "
                        "Python object (e.g. activation=<function>): give it by name, or save_weights() only") from None
    _write(tensors, path, "save", {"kinkgrad": header})


def _resolve(spec, table, custom_objects, what):
    name = spec.get("custom")
    if name in (custom_objects or {}):
        return custom_objects[name]
    raise ValueError(f"load_model: the {what} {name!r} is not built in; pass custom_objects={{{name!r}: ...}} "
                     "(or compile=False and compile the model yourself)")


def load_model(path, custom_objects=None, compile=True):
    """Rebuild a model saved by ``model.save``: architecture, weights, and (``compile=True``) the
    optimizer with its state. Layer classes come from kinkgrad, ``custom_objects``, or classes of that
    name already defined in this process; nothing in the file is executed."""
    tensors, meta = read(path, "load_model")
    p = _path(path, "load_model")
    if "kinkgrad" not in meta:
        raise ValueError(f"load_model: {p!r} holds weights only (written by save_weights); build the model in code "
                         f"and call model.load_weights({p!r})")
    info = json.loads(meta["kinkgrad"])
    if info.get("format") != FORMAT or info.get("version", 0) > VERSION:
        raise ValueError(f"load_model: {p!r} is format {info.get('format')!r} version {info.get('version')}; this "
                         f"kinkgrad reads {FORMAT!r} up to version {VERSION}")
    model = deserialize(info["model"], custom_objects)
    if not model.built and info["model"].get("build"):
        spec = info["model"]["build"]
        model.build(tuple(spec["shape"]), spec["dtype"] or None)
    model.load_state_dict({k[len("weights/"):]: v for k, v in tensors.items() if k.startswith("weights/")})
    for name, m in model.named_modules():
        if name in info.get("extra", {}):
            m.set_extra_state(info["extra"][name])
    if compile and info.get("compile"):
        _compile(model, info, tensors, custom_objects)
    training = info.get("training", {})
    model._training_state = {k: v for k, v in training.items() if k != "global_rng"}
    model._pending_rng = {"epoch": training.get("epoch"), "global": training.get("global_rng")}
    return model


def _compile(model, info, tensors, custom_objects):
    cfg = info["compile"]
    optimizer = _optim.get(cfg["optimizer"], custom_objects)
    loss_cfg = cfg["loss"]
    if loss_cfg.get("name"):
        loss = _losses.get(loss_cfg["name"], **loss_cfg.get("kwargs", {}))
    else:
        loss = _losses.get(_resolve(loss_cfg, _losses.LOSSES, custom_objects, "loss"), **loss_cfg.get("kwargs", {}))
    metrics = []
    for m in cfg["metrics"]:
        if "class_name" in m:
            cls = next(c for c in _metrics.METRICS.values() if c.__name__ == m["class_name"])
            metrics.append(cls(**m["config"]))
        else:
            metrics.append(_resolve(m, _metrics.METRICS, custom_objects, "metric"))
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics, kinks=cfg.get("kinks"))
    if isinstance(loss_cfg.get("name"), str) and not loss_cfg.get("kwargs"):
        model.loss_spec = loss_cfg["name"]
    opt = info.get("optimizer")
    if opt:
        state = {}
        for key, v in tensors.items():
            if key.startswith("optimizer/"):
                _, i, k = key.split("/", 2)
                state.setdefault(int(i), {})[k] = v
        for i, sc in opt.get("scalars", {}).items():
            state.setdefault(int(i), {}).update(sc)
        groups = []
        for g in opt["param_groups"]:
            g = dict(g)
            if isinstance(g.get("lr"), dict):
                g["lr"] = _optim.schedules.deserialize(g["lr"], custom_objects)
            if isinstance(g.get("betas"), list):
                g["betas"] = tuple(g["betas"])
            groups.append(g)
        model.optimizer.load_state_dict({"steps": opt["steps"], "state": state, "param_groups": groups})


def restore_rng(model, pending):
    """Put back the global generator state saved with the checkpoint (called when fit resumes at its epoch)."""
    if pending.get("global") is not None:
        _random.set_state(pending["global"])
