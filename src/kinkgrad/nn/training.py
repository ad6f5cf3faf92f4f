"""Keras-style training on top of Modules: ``compile``, ``fit`` (with a tqdm bar per epoch),
``evaluate``, ``predict``, callbacks, and weights in the safetensors format."""
from __future__ import annotations

import contextlib
import math

import numpy as np

from .. import losses as _losses
from .. import metrics as _metrics
from .. import optim as _optim
from .. import plot as _plot
from ..context import no_grad
from ..kinks.policy import kinks as kink_scope
from ..tensor import Tensor
from .module import Module


class History:
    """What ``fit`` returns: ``history.history["loss"]``, ``["val_loss"]``, metrics, per epoch."""

    def __init__(self):
        self.history = {}
        self.epoch = []

    def record(self, epoch, logs):
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(v)

    def __repr__(self):
        return f"History({ {k: [round(x, 4) for x in v] for k, v in self.history.items()} })"

    def plot(self):
        """Loss, metrics and (after ``fit`` with the audit) kink counts per epoch: a matplotlib Figure
        (needs the ``[plot]`` extra)."""
        return _plot.history(self)


class Callback:
    """Hooks called by ``fit``: ``on_epoch_end(epoch, logs)`` may set ``model.stop_training = True``."""

    def on_train_begin(self, model):
        pass

    def on_epoch_end(self, epoch, logs, model):
        pass

    def on_train_end(self, model):
        pass


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs; optionally
    restore the best weights."""

    def __init__(self, monitor="val_loss", patience=3, min_delta=0.0, mode="auto", restore_best_weights=False):
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.mode = ("max" if "acc" in monitor else "min") if mode == "auto" else mode
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self, model):
        self.best, self.wait, self.best_weights, self.stopped_epoch = None, 0, None, None

    def on_epoch_end(self, epoch, logs, model):
        value = logs.get(self.monitor)
        if value is None:
            raise KeyError(f"EarlyStopping: '{self.monitor}' is not logged; available: {sorted(logs)}")
        better = self.best is None or (value < self.best - self.min_delta if self.mode == "min"
                                       else value > self.best + self.min_delta)
        if better:
            self.best, self.wait = value, 0
            if self.restore_best_weights:
                self.best_weights = model.state_dict()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                model.stop_training = True
                self.stopped_epoch = epoch

    def on_train_end(self, model):
        if self.restore_best_weights and self.best_weights is not None:
            model.load_state_dict(self.best_weights)


class EpochTimer(Callback):
    """Records the wall-clock seconds of every epoch (training plus the end-of-epoch metrics) in ``times``."""

    def on_train_begin(self, model):
        import time

        self._clock = time.perf_counter
        self.times, self._t = [], self._clock()

    def on_epoch_end(self, epoch, logs, model):
        now = self._clock()
        self.times.append(now - self._t)
        self._t = now


class LambdaCallback(Callback):
    def __init__(self, on_epoch_end=None):
        self._fn = on_epoch_end

    def on_epoch_end(self, epoch, logs, model):
        if self._fn:
            self._fn(epoch, logs)


def _array(x, name):
    if isinstance(x, Tensor):
        x = x.data
    x = np.asarray(x)
    if x.dtype == np.float64:
        x = x.astype(np.float32)      # Keras and PyTorch train in float32
    if x.ndim == 0 or len(x) == 0:
        raise ValueError(f"fit: {name} is empty (shape {x.shape}); there is nothing to train on")
    return x


class Model(Module):
    """A Module that also trains itself the Keras way."""

    def compile(self, optimizer="adam", loss="mse", metrics=(), kinks=None):
        """Choose the optimizer (name or instance), the loss (name or ``loss(y_true, y_pred)``),
        metrics, and optionally the kink policy used for every gradient in ``fit``."""
        self.optimizer = _optim.get(optimizer)
        self.loss_fn = _losses.get(loss)
        self.loss_name = loss if isinstance(loss, str) else getattr(loss, "__name__", "loss")
        self.metric_fns = [_metrics.get(m) for m in metrics]
        self.kinks = kinks
        self.stop_training = False
        return self

    def _check_compiled(self, what):
        if not hasattr(self, "loss_fn"):
            raise RuntimeError(f"{what}: call model.compile(optimizer=..., loss=...) first")

    def train_step(self, xb, yb):
        """One optimisation step on a batch; returns the loss value."""
        self.zero_grad()
        loss = self.loss_fn(yb, self(xb))       # the forward pass also builds lazy layers
        params = self.parameters()
        if len(params) != len(self.optimizer.params) or any(a is not b for a, b in zip(params, self.optimizer.params)):
            self.optimizer.bind(params)         # optimizer state is kept per parameter, so rebinding is safe
        loss.backward()
        self.optimizer.step()
        return float(loss.item())

    def fit(self, x, y, epochs=1, batch_size=32, validation_data=None, validation_split=0.0, shuffle=True,
            callbacks=(), verbose=1, seed=None):
        """Train for ``epochs`` over mini-batches; returns a ``History``. ``verbose=1`` shows a tqdm bar
        per epoch with the running loss and metrics; ``verbose=0`` is silent."""
        self._check_compiled("fit")
        X, Y = _array(x, "x"), _array(y, "y")
        if len(X) != len(Y):
            raise ValueError(f"fit: x has {len(X)} samples but y has {len(Y)}")
        if validation_split and validation_data is None:
            if not 0 < validation_split < 1:
                raise ValueError(f"fit: validation_split must be in (0, 1), got {validation_split}")
            n_val = int(math.ceil(len(X) * validation_split))
            X, Y, validation_data = X[:-n_val], Y[:-n_val], (X[-n_val:], Y[-n_val:])
            if len(X) == 0:
                raise ValueError("fit: validation_split leaves no training samples")
        if batch_size is None or batch_size <= 0:
            raise ValueError(f"fit: batch_size must be a positive int, got {batch_size}")
        rng = np.random.default_rng(seed)
        history = History()
        self.stop_training = False
        for cb in callbacks:
            cb.on_train_begin(self)
        scope = kink_scope(self.kinks) if self.kinks else contextlib.nullcontext()
        n_batches = int(math.ceil(len(X) / batch_size))
        with scope:
            for epoch in range(epochs):
                self.train()
                order = rng.permutation(len(X)) if shuffle else np.arange(len(X))
                bar = _progress(n_batches, f"Epoch {epoch + 1}/{epochs}", verbose)
                total, seen = 0.0, 0
                for b in range(n_batches):
                    idx = order[b * batch_size:(b + 1) * batch_size]
                    xb, yb = X[idx], Y[idx]
                    _check_finite(xb, yb, idx, epoch, b)
                    value = self.train_step(xb, yb)
                    if not math.isfinite(value):
                        bad = np.flatnonzero(~np.isfinite(xb.reshape(len(xb), -1)).all(axis=1))
                        hint = (f"; the batch has non-finite inputs in rows {idx[bad][:10].tolist()}" if len(bad)
                                else "; lower the learning rate or check the loss")
                        raise FloatingPointError(f"fit: the loss became {value} at epoch {epoch + 1}, batch {b + 1}"
                                                 + hint)
                    total += value * len(idx)
                    seen += len(idx)
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(loss=f"{total / seen:.4f}")
                logs = {"loss": total / seen}
                if self.metric_fns:
                    logs.update(self._metrics(X, Y, ""))
                if validation_data is not None:
                    logs.update(self._evaluate_logs(*validation_data, prefix="val_"))
                if bar is not None:
                    bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()})
                    bar.close()
                history.record(epoch, logs)
                for cb in callbacks:
                    cb.on_epoch_end(epoch, logs, self)
                if self.stop_training:
                    break
        for cb in callbacks:
            cb.on_train_end(self)
        self.history = history
        return history

    def _metrics(self, X, Y, prefix):
        pred = self.predict(X)
        return {prefix + name: fn(Y, pred) for name, fn in self.metric_fns}

    def _evaluate_logs(self, X, Y, prefix=""):
        X, Y = _array(X, "x"), _array(Y, "y")
        pred = self.predict(X)
        with no_grad():
            logs = {prefix + "loss": float(self.loss_fn(Y, pred).item())}
        logs.update({prefix + name: fn(Y, pred) for name, fn in self.metric_fns})
        return logs

    def evaluate(self, x, y, verbose=0):
        """Loss and metrics on (x, y), in evaluation mode; a dict like Keras' ``return_dict=True``."""
        self._check_compiled("evaluate")
        return self._evaluate_logs(x, y)

    def predict(self, x, batch_size=256):
        """Outputs for ``x`` in evaluation mode, without recording gradients."""
        X = _array(x, "x")
        was = self.training
        self.eval()
        try:
            with no_grad():
                outs = [self(X[i:i + batch_size]).data for i in range(0, len(X), batch_size)]
        finally:
            self.train(was)
        return Tensor._wrap(np.concatenate(outs, axis=0))

    # -- weights ---------------------------------------------------------------------------------------
    def save_weights(self, path):
        """Write every parameter and buffer to ``path`` in the safetensors format (no pickle)."""
        from safetensors.numpy import save_file

        save_file({k: np.ascontiguousarray(v) for k, v in self.state_dict().items()}, str(path))

    def load_weights(self, path, strict=True):
        """Read weights saved by ``save_weights``; loading never executes code. A shape or name
        mismatch raises, listing every offending tensor."""
        from safetensors.numpy import load_file

        state = load_file(str(path))
        if not self.parameters() and state:
            raise RuntimeError("load_weights: this model has not built its layers yet; call it once on an input "
                               "(or give Dense an input_shape) before loading")
        self.load_state_dict(state, strict=strict)


def _check_finite(xb, yb, idx, epoch, b):
    for name, arr in (("x", xb), ("y", yb)):
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            rows = idx[np.flatnonzero(~np.isfinite(arr.reshape(len(arr), -1)).all(axis=1))]
            raise FloatingPointError(f"fit: epoch {epoch + 1}, batch {b + 1}: {name} has NaN or inf in sample(s) "
                                     f"{rows[:10].tolist()}{' ...' if len(rows) > 10 else ''}; clean the data first")


def _progress(total, desc, verbose):
    if not verbose:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=True, dynamic_ncols=True)


class Sequential(Model):
    """Layers applied in order: ``Sequential([Dense(64, activation="relu"), Dense(1)])`` or
    ``Sequential(layer1, layer2, ...)``."""

    def __init__(self, layers=None, *more):
        super().__init__()
        if layers is None:
            layers = []
        elif isinstance(layers, Module):
            layers = [layers, *more]
        self.layers = list(layers)
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Module) and not callable(layer):
                raise TypeError(f"Sequential: item {i} is {type(layer).__name__}, not a layer")

    def add(self, layer):
        self.layers.append(layer)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self):
        return len(self.layers)
