"""Callbacks with Keras' protocol: ``self.model`` and ``self.params`` are set before training, and
``on_train_begin/end(logs)``, ``on_epoch_begin/end(epoch, logs)``, ``on_train_batch_begin/end(batch,
logs)`` (alias ``on_batch_begin/end``) are called by ``fit``. Epoch logs hold the loss, the metrics,
``val_*`` and ``lr``; batch logs hold ``batch``, ``size`` and the running ``loss``."""
from __future__ import annotations

import csv
import math
import os
import time

import numpy as np

from .. import plot as _plot
from ._checks import flag, nonnegative_int, real

_BATCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end")


class Callback:
    """Base class; override the hooks you need. ``self.model.stop_training = True`` ends ``fit``.
    ``main_process_only = True`` runs a callback on rank 0 only under ``fit(distributed=True)``."""

    main_process_only = False

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_batch_begin(self, batch, logs=None):
        pass

    def on_batch_end(self, batch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)


def _overrides(cb, names):
    return any(n in vars(cb) or getattr(type(cb), n, None) is not getattr(Callback, n) for n in names)


class CallbackList:
    """Calls every callback's hook in order; per-batch hooks only for callbacks that define them."""

    def __init__(self, callbacks, model, history, progress, params):
        callbacks = [] if callbacks is None else callbacks
        if not isinstance(callbacks, (list, tuple)):
            raise TypeError(f"fit: callbacks must be a list of Callback objects, got {type(callbacks).__name__}")
        for i, cb in enumerate(callbacks):
            if not isinstance(cb, Callback):
                raise TypeError(f"fit: callbacks[{i}] is {type(cb).__name__}, not a kinkgrad.nn.Callback (subclass "
                                "Callback, or use LambdaCallback(on_epoch_end=...))")
        self.callbacks = [history, *callbacks] + ([progress] if progress is not None else [])
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)
        self.batch_callbacks = [cb for cb in self.callbacks if _overrides(cb, _BATCH_HOOKS)]

    def on_train_begin(self, logs=None):
        for cb in self.callbacks:
            cb.on_train_begin(logs)

    def on_train_end(self, logs=None):
        for cb in self.callbacks:
            cb.on_train_end(logs)

    def on_epoch_begin(self, epoch, logs=None):
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs):
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        for cb in self.batch_callbacks:
            cb.on_train_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        for cb in self.batch_callbacks:
            cb.on_train_batch_end(batch, logs)


class History(Callback):
    """What ``fit`` returns: ``history.history["loss"]``, ``["val_loss"]``, metrics and ``["lr"]`` per
    epoch; ``history.kinks``: one dict per epoch of kink telemetry with ``fit(audit=True)``."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []
        self.kinks = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)

    def __repr__(self):
        return f"History({ {k: [round(x, 4) for x in v] for k, v in self.history.items()} })"

    def plot(self):
        """Loss, metrics and (after ``fit`` with the audit) kink counts per epoch: a matplotlib Figure
        (needs the ``[plot]`` extra)."""
        return _plot.history(self)


class _Monitor(Callback):
    """Shared by callbacks that watch one logged quantity for improvement."""

    def __init__(self, monitor, mode, min_delta):
        super().__init__()
        if not isinstance(monitor, str):
            raise TypeError(f"{type(self).__name__}: monitor must be a logged name such as 'val_loss', got {monitor!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{type(self).__name__}: mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor, self.min_delta = monitor, abs(real(type(self).__name__, "min_delta", min_delta))
        auto_max = any(s in monitor for s in ("acc", "auc", "precision", "recall", "r2"))
        self.mode = ("max" if auto_max else "min") if mode == "auto" else mode

    def _value(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise KeyError(f"{type(self).__name__}: '{self.monitor}' is not logged; available: {sorted(logs or {})}")
        return value

    def _improved(self, value, best):
        if best is None:
            return True
        return value < best - self.min_delta if self.mode == "min" else value > best + self.min_delta


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs; with
    ``restore_best_weights=True`` the model ends with the weights of its best epoch."""

    def __init__(self, monitor="val_loss", patience=3, min_delta=0.0, mode="auto", restore_best_weights=False,
                 baseline=None, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta)
        self.patience = nonnegative_int("EarlyStopping", "patience", patience)
        self.restore_best_weights = flag("EarlyStopping", "restore_best_weights", restore_best_weights)
        self.baseline, self.start_from_epoch = baseline, nonnegative_int("EarlyStopping", "start_from_epoch",
                                                                        start_from_epoch)

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.best_weights = self.baseline, 0, None
        self.stopped_epoch = self.best_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        value = self._value(logs)
        if epoch < self.start_from_epoch:
            return
        if self._improved(value, self.best):
            self.best, self.wait, self.best_epoch = value, 0, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.state_dict()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.model.stop_training = True
                self.stopped_epoch = epoch

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)


class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved for ``patience``
    epochs, then wait ``cooldown`` epochs; never below ``min_lr``."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, mode="auto", min_delta=1e-4, cooldown=0,
                 min_lr=0.0, verbose=0):
        super().__init__(monitor, mode, min_delta)
        self.factor = real("ReduceLROnPlateau", "factor", factor, 0.0, 1.0, low_open=True, high_open=True)
        self.patience = nonnegative_int("ReduceLROnPlateau", "patience", patience)
        self.cooldown = nonnegative_int("ReduceLROnPlateau", "cooldown", cooldown)
        self.min_lr, self.verbose = real("ReduceLROnPlateau", "min_lr", min_lr, 0.0), verbose

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.cooldown_counter = None, 0, 0

    def on_epoch_end(self, epoch, logs=None):
        value = self._value(logs)
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(value, self.best):
            self.best, self.wait = value, 0
            return
        if self.cooldown_counter > 0:
            return
        self.wait += 1
        if self.wait >= self.patience:
            groups = self.model.optimizer.param_groups
            if any(callable(g["lr"]) for g in groups):
                raise TypeError("ReduceLROnPlateau: the optimizer's lr is a schedule; use a number to let the callback "
                                "change it")
            for g in groups:                 # each parameter group scaled, as PyTorch's ReduceLROnPlateau does
                new = max(g["lr"] * self.factor, self.min_lr)
                if new < g["lr"]:
                    g["lr"] = new
                    if self.verbose:
                        print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new:.4g}.")
            self.cooldown_counter, self.wait = self.cooldown, 0


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of every epoch to ``schedule(epoch, lr)`` (or ``schedule(epoch)``)."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: schedule must be a function of (epoch, lr), got {schedule!r}")
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        opt = self.model.optimizer
        if callable(opt.lr):
            raise TypeError("LearningRateScheduler: the optimizer's lr is already a schedule of the step count; "
                            "use one or the other")
        try:
            lr = self.schedule(epoch, opt.lr)
        except TypeError:
            lr = self.schedule(epoch)
        opt.lr = float(lr)
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr:.4g}.")


class TerminateOnNaN(Callback):
    """Stop training when a batch's loss is NaN or infinite."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: invalid loss, terminating training")
            self.model.stop_training = True


class CSVLogger(Callback):
    """Write each epoch's logs as a CSV row (``epoch`` first), flushed every epoch."""

    main_process_only = True       # under fit(distributed=True) only rank 0 writes

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.separator, self.append = os.fspath(filename), separator, flag("CSVLogger", "append", append)

    def on_train_begin(self, logs=None):
        exists = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self._file = open(self.filename, "a" if self.append else "w", newline="")  # noqa: SIM115  (open all run)
        self._writer, self._keys, self._header = None, None, not exists

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._writer is None:
            self._keys = sorted(logs)
            self._writer = csv.writer(self._file, delimiter=self.separator)
            if self._header:
                self._writer.writerow(["epoch", *self._keys])
        self._writer.writerow([epoch, *(_csv_value(logs.get(k, "")) for k in self._keys)])
        self._file.flush()

    def on_train_end(self, logs=None):
        self._file.close()


def _csv_value(v):
    return repr(float(v)) if isinstance(v, (float, np.floating)) else v


class ModelCheckpoint(_Monitor):
    """Save the model (``model.save``: config, weights, optimizer state) or only its weights at the end of
    every epoch, or only when ``monitor`` improved (``save_best_only``). ``filepath`` may hold
    ``{epoch}`` and logged names: ``"ckpt-{epoch:02d}-{val_loss:.3f}.kg"``."""

    main_process_only = True       # under fit(distributed=True) only rank 0 writes

    def __init__(self, filepath, monitor="val_loss", save_best_only=False, save_weights_only=False, mode="auto",
                 verbose=0):
        super().__init__(monitor, mode, 0.0)
        self.filepath = os.fspath(filepath)
        self.save_best_only = flag("ModelCheckpoint", "save_best_only", save_best_only)
        self.save_weights_only = flag("ModelCheckpoint", "save_weights_only", save_weights_only)
        self.verbose, self.best = verbose, None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            value = self._value(logs)
            if not self._improved(value, self.best):
                return
            self.best = value
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved {path}")


class EpochTimer(Callback):
    """Records the wall-clock seconds of every epoch (training plus the end-of-epoch metrics) in ``times``."""

    def on_train_begin(self, logs=None):
        self.times, self._t = [], None

    def on_epoch_begin(self, epoch, logs=None):
        self._t = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._t)


class LambdaCallback(Callback):
    """Callbacks from plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_batch_begin=None, on_batch_end=None):
        super().__init__()
        for name, fn in list(locals().items()):
            if name.startswith("on_") and fn is not None:
                if not callable(fn):
                    raise TypeError(f"LambdaCallback: {name} must be a function, got {fn!r}")
                setattr(self, name, fn)
