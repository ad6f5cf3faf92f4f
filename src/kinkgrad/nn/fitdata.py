"""Turning ``fit``/``evaluate``/``predict`` arguments into DataLoaders: arrays checked and cast to the
model's float dtype, Keras' validation split (the last samples), per-sample weights from ``sample_weight``
and ``class_weight``, and the finite-data check that names the offending samples."""
from __future__ import annotations

import inspect
import math

import numpy as np

from ..data import ArrayDataset, DataLoader
from ..tensor import Tensor
from ._checks import positive_int, real


def as_array(x, name, owner, float_dtype=None):
    """``x`` as an ndarray of numbers; floats cast to the model's dtype; empty data refused."""
    if isinstance(x, Tensor):
        x = x.data
    if x is None:
        raise TypeError(f"{owner}: {name} is None; pass an array (or a kg.data.DataLoader as x)")
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{owner}: {name} must hold numbers, got dtype {x.dtype} (shape {x.shape}); convert it first")
    if x.ndim == 0 or len(x) == 0:
        raise ValueError(f"{owner}: {name} is empty (shape {x.shape}); there is nothing to train on")
    if x.dtype.kind == "f" and float_dtype is not None and x.dtype != float_dtype:
        x = x.astype(float_dtype)
    return x


def unpack(batch, owner):
    """(x, y, sample_weight) from a loader's batch: (x, y) or (x, y, w)."""
    if isinstance(batch, (tuple, list)) and len(batch) in (2, 3):
        return (batch[0], batch[1], batch[2] if len(batch) == 3 else None)
    raise ValueError(f"{owner}: a DataLoader for training must give (x, y) or (x, y, sample_weight) batches, got "
                     f"{type(batch).__name__}{'' if not isinstance(batch, (tuple, list)) else f' of {len(batch)}'}")


def training_data(model, x, y, batch_size, validation_split, validation_data, shuffle, class_weight, sample_weight,
                  seed, initial_epoch):
    """The training loader and the validation loader (or None) for ``fit``'s arguments."""
    owner = "fit"
    if batch_size is not None:
        batch_size = positive_int(owner, "batch_size", batch_size)
    validation_split = real(owner, "validation_split", validation_split, 0.0, 1.0, high_open=True)
    if class_weight is not None and not isinstance(class_weight, dict):
        raise TypeError(f"fit: class_weight must be a dict {{class: weight}}, got {type(class_weight).__name__}")
    if (sample_weight is not None or class_weight is not None) and not takes_reduction(model.loss_fn):
        raise TypeError("fit: sample_weight/class_weight need a loss that accepts reduction='none' (every "
                        "kinkgrad loss does); add that argument to your loss function")
    if seed is None and initial_epoch > 0:
        seed = getattr(model, "_training_state", {}).get("shuffle_seed")     # resuming a saved run
    if isinstance(x, DataLoader):
        if y is not None or sample_weight is not None or validation_split:
            raise ValueError("fit: with a DataLoader as x, the labels and sample weights come from its batches; "
                             "leave y, sample_weight and validation_split unset")
        if batch_size is not None and batch_size != x.batch_size:
            raise ValueError(f"fit: batch_size={batch_size} but the DataLoader has batch_size={x.batch_size}")
        train = ClassWeighted(x, class_weight) if class_weight is not None else x
    else:
        dtype = model._float_dtype() if model.built else np.dtype(np.float32)
        X, Y = as_array(x, "x", owner, dtype), as_array(y, "y", owner, dtype)
        if len(X) != len(Y):
            raise ValueError(f"fit: x has {len(X)} samples but y has {len(Y)}")
        W = sample_weights(Y, sample_weight, class_weight)
        if validation_split and validation_data is None:
            n_val = math.ceil(len(X) * validation_split)     # Keras: the last samples, before shuffling
            if n_val >= len(X):
                raise ValueError("fit: validation_split leaves no training samples")
            validation_data = (X[-n_val:], Y[-n_val:]) + ((W[-n_val:],) if W is not None else ())
            X, Y, W = X[:-n_val], Y[:-n_val], (W[:-n_val] if W is not None else None)
        arrays = (X, Y) + ((W,) if W is not None else ())
        train = DataLoader(ArrayDataset(*arrays), batch_size or 32, shuffle=shuffle, seed=seed)
    val = None if validation_data is None else evaluation_loader(model, validation_data, "validation_data", batch_size)
    return train, val

def evaluation_loader(model, data, name, batch_size=None, sample_weight=None):
    """A DataLoader for evaluation: data is a loader, or (x, y) / (x, y, sample_weight)."""
    if isinstance(data, DataLoader):
        return data
    if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
        raise TypeError(f"{name} must be (x, y), (x, y, sample_weight) or a DataLoader, got "
                        f"{type(data).__name__}")
    dtype = model._float_dtype() if model.built else np.dtype(np.float32)
    X, Y = as_array(data[0], "x", name, dtype), as_array(data[1], "y", name, dtype)
    if len(X) != len(Y):
        raise ValueError(f"{name}: x has {len(X)} samples but y has {len(Y)}")
    W = data[2] if len(data) == 3 else sample_weight
    W = sample_weights(Y, W, None)
    return DataLoader(ArrayDataset(*((X, Y) + ((W,) if W is not None else ()))), batch_size or 256)


def peek(loader):
    """A one-batch view of a loader that does not advance its epoch."""
    epoch = loader.epoch
    try:
        yield next(iter(loader))
    finally:
        loader.set_epoch(epoch)


def takes_reduction(fn):
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return True
    return "reduction" in params or any(p.kind == p.VAR_KEYWORD for p in params.values())


def _class_labels(Y):
    if Y.ndim == 2 and Y.shape[1] > 1:
        return Y.argmax(axis=1)
    return np.asarray(Y).reshape(-1)


def sample_weights(Y, sample_weight, class_weight):
    """Per-sample weights from ``sample_weight`` (N,) times ``class_weight[label]``, or None."""
    w = None
    if sample_weight is not None:
        w = np.asarray(getattr(sample_weight, "data", sample_weight))
        if w.dtype.kind not in "biuf" or w.shape not in ((len(Y),), (len(Y), 1)):
            raise ValueError(f"fit: sample_weight must be {len(Y)} numbers (one per sample), got shape {w.shape} "
                             f"and dtype {w.dtype}")
        w = w.reshape(-1).astype(np.float64)
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError("fit: sample_weight must be finite and >= 0")
    if class_weight is not None:
        labels = _class_labels(Y)
        if labels.dtype.kind == "f" and not np.all(labels == np.round(labels)):
            raise ValueError("fit: class_weight needs class labels, but y holds non-integer values")
        labels = labels.astype(np.int64)
        missing = sorted(set(np.unique(labels).tolist()) - {int(k) for k in class_weight})
        if missing:
            raise ValueError(f"fit: class_weight has no weight for class(es) {missing[:10]}; give every class one")
        table = {int(k): float(v) for k, v in class_weight.items()}
        cw = np.array([table[int(c)] for c in labels])
        w = cw if w is None else w * cw
    return w


class ClassWeighted:
    """A DataLoader whose batches get class weights from their labels."""

    def __init__(self, loader, class_weight):
        self.loader, self.class_weight = loader, class_weight
        self.dataset, self.seed, self.batch_size = loader.dataset, loader.seed, loader.batch_size

    epoch = property(lambda self: self.loader.epoch)

    def set_epoch(self, epoch):
        self.loader.set_epoch(epoch)

    def order(self, epoch=None):
        return self.loader.order(epoch)

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        return map(self.weigh, self.loader)

    def weigh(self, batch):
        """(x, y, w) with ``w`` the class weights of the labels (times the batch's own sample weights)."""
        xb, yb, wb = unpack(batch, "fit")
        return xb, yb, sample_weights(np.asarray(yb), wb, self.class_weight)


def check_finite(xb, yb, loader, epoch, b):
    for name, arr in (("x", xb), ("y", yb)):
        arr = np.asarray(arr)
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            bad = np.flatnonzero(~np.isfinite(arr.reshape(len(arr), -1)).all(axis=1))
            order = loader.order(epoch) if hasattr(loader, "order") else None
            rows = order[b * loader.batch_size:][bad] if order is not None else bad
            raise FloatingPointError(f"fit: epoch {epoch + 1}, batch {b + 1}: {name} has NaN or inf in sample(s) "
                                     f"{rows[:10].tolist()}{' ...' if len(rows) > 10 else ''}; clean the data first")
