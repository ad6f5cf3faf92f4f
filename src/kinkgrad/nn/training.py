"""Keras-style training on top of Modules: ``compile``, ``fit`` (one ``train_step`` per batch inside a
per-epoch loop), ``evaluate``, ``predict``; checkpoints and summaries are delegated to ``saving`` and
``summary``."""
from __future__ import annotations

import contextlib
import copy
import math

import numpy as np

import kinkgrad as kg

from .. import distributed as _distributed
from .. import losses as _losses
from .. import metrics as _metrics
from .. import optim as _optim
from ..data import ArrayDataset, DataLoader
from ..tensor import Tensor
from . import fitdata, saving
from ._checks import flag, is_int, positive_int
from .callbacks import CallbackList, History
from .module import Module, _auditing
from .progress import ProgressLogger
from .summary import summary
from .telemetry import EpochAudit


class _Refs:
    """Modules a model keeps a note of without owning them (a list would make them children)."""

    __slots__ = ("items",)

    def __init__(self, items):
        self.items = items

    def __getstate__(self):
        return self.items

    def __setstate__(self, items):
        self.items = items


class Model(Module):
    """A Module that also trains itself the Keras way."""

    # -- compile ----------------------------------------------------------------------------------------
    def compile(self, optimizer="adam", loss="mse", metrics=(), kinks=None):
        """Choose the optimizer (name or instance), the loss (name or ``loss(y_true, y_pred)``), metrics
        (names, Metric objects or ``f(y_true, y_pred)``), and optionally the kink policy (a preset name)
        under which every gradient in ``fit`` is computed."""
        if isinstance(metrics, str) or not isinstance(metrics, (list, tuple)):
            raise TypeError(f"compile: metrics must be a list such as ['accuracy'], got {metrics!r}")
        if kinks is not None and not isinstance(kinks, str):
            raise TypeError(f"compile: kinks must be a preset name such as 'torch', got {kinks!r}")
        self.optimizer = _optim.get(optimizer)
        self.loss_fn = _losses.get(loss)
        self.loss_spec = loss
        self.compiled_metrics = [_metrics.get(m) for m in metrics]
        names = [m.name for m in self.compiled_metrics]
        if len(set(names)) != len(names):
            raise ValueError(f"compile: two metrics share a name in {names}")
        self.kinks = kinks
        self.stop_training = False
        if self.built and not self.optimizer.param_groups:
            self.optimizer.bind(self.parameters())
        return self

    def _check_compiled(self, what):
        if getattr(self, "loss_fn", None) is None:
            raise RuntimeError(f"{what}: call model.compile(optimizer=..., loss=...) first")

    def _float_dtype(self):
        for _, p, is_param in self._walk_state():
            if is_param and p.dtype.kind == "f":
                return p.dtype
        return np.dtype(np.float32)

    def _prepare_training(self, first_x):
        """Build from the data if needed, and make sure the optimizer holds every trainable parameter."""
        if not self.built:
            self.build(np.shape(first_x)[1:], np.asarray(first_x).dtype)
        params = [p for p in self.parameters() if p.requires_grad]
        if not self.optimizer.param_groups:
            self.optimizer.bind(params)
        held = {id(p) for p in self.optimizer.params}
        missing = [n for n, p in self.named_parameters() if p.requires_grad and id(p) not in held]
        if missing:
            raise ValueError(f"fit: the optimizer holds {len(self.optimizer.params)} of this model's {len(params)} "
                             f"parameters and would never train {', '.join(missing)}; create it from "
                             "model.parameters() after the model is built, or pass its name to compile")
        self._name_children()
        self._reg_modules = _Refs([m for m in self.modules() if getattr(m, "activity_regularizer", None) is not None
                                   or any(getattr(m, r, None) is not None for r, _ in m._regularized)])

    # -- one step -------------------------------------------------------------------------------------
    def compute_loss(self, y, y_pred, sample_weight=None):
        """The compiled loss (weighted per sample: Keras' sum(w * loss) / N) plus the layers'
        regularization terms."""
        auditing = _auditing()
        with kg.name_scope("loss") if auditing else contextlib.nullcontext():
            if sample_weight is None:
                loss = self.loss_fn(y, y_pred)
            else:
                values = self.loss_fn(y, y_pred, reduction="none")
                w = np.asarray(sample_weight, dtype=values.dtype).reshape((-1,) + (1,) * (values.ndim - 1))
                loss = kg.mean(values * w)
        refs = getattr(self, "_reg_modules", None)
        modules = refs.items if refs is not None else self.modules()
        if modules:
            with kg.name_scope("regularization") if auditing else contextlib.nullcontext():
                terms = [t for m in modules for t in m._own_losses()]
                if terms:
                    loss = loss + kg.sum(kg.stack([kg.reshape(t, ()) for t in terms]))
            for m in modules:
                m.__dict__.pop("_activity_loss", None)
        return loss

    def train_step(self, x, y, sample_weight=None):
        """One optimisation step on a batch: forward, loss, backward, update. Returns the loss value
        and the predictions (for the epoch's metrics)."""
        self.optimizer.zero_grad()
        y_pred = self(x)
        loss = self.compute_loss(y, y_pred, sample_weight)
        value = float(loss.item())
        if math.isfinite(value):              # a non-finite loss never updates the weights; fit decides what next
            loss.backward()
            self.optimizer.step()
        return value, y_pred.data

    # -- fit --------------------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose=1, callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0, seed=None,
            audit=False, distributed=None):
        """Train for ``epochs`` (Keras' arguments and order); returns the ``History``.

        ``x``: an array, or a ``kg.data.DataLoader`` giving (x, y) or (x, y, sample_weight) batches.
        ``verbose``: 1 a progress bar in a terminal or notebook (one line per epoch when the output is
        a file), 2 one line per epoch, 0 silent. ``seed`` fixes the shuffling (epoch e uses (seed, e), so
        ``initial_epoch`` resumes a run exactly). ``audit=True`` records kink telemetry per epoch into
        ``history.kinks`` and the progress line. ``distributed``: data-parallel over the MPI ranks of an
        ``mpiexec`` launch (None: automatically when there are several; see ``kinkgrad.distributed``)."""
        self._check_compiled("fit")
        epochs = positive_int("fit", "epochs", epochs)
        if not is_int(initial_epoch) or not 0 <= initial_epoch < epochs:
            raise ValueError(f"fit: initial_epoch must be an int in [0, epochs={epochs}), got {initial_epoch!r}")
        if verbose not in (0, 1, 2, "auto") or isinstance(verbose, bool):
            raise ValueError(f"fit: verbose must be 0 (silent), 1 (progress bar), 2 (one line per epoch) or 'auto', "
                             f"got {verbose!r}")
        flag("fit", "audit", audit)
        flag("fit", "shuffle", shuffle)
        train, val = fitdata.training_data(self, x, y, batch_size, validation_split, validation_data, shuffle,
                                           class_weight, sample_weight, seed, initial_epoch)
        self._prepare_training(train.dataset.arrays[0] if isinstance(train.dataset, ArrayDataset)
                               else fitdata.unpack(next(iter(fitdata.peek(train))), "fit")[0])
        plan = _distributed.fit_plan(self, train, distributed)
        self.history = History()
        self._training_state = {**getattr(self, "_training_state", {}), "shuffle_seed": train.seed}
        progress = ProgressLogger(1 if verbose == "auto" else verbose) if verbose else None
        if plan is not None:
            callbacks, progress = plan.callbacks(callbacks, progress)
        cbs = CallbackList(callbacks, model=self, history=self.history, progress=progress,
                           params={"epochs": epochs, "steps": len(train), "verbose": verbose})
        self.stop_training = False
        logs = {}
        with kg.kinks(self.kinks) if self.kinks else contextlib.nullcontext():
            self._resume_rng(initial_epoch)
            cbs.on_train_begin()
            for epoch in range(initial_epoch, epochs):
                cbs.on_epoch_begin(epoch)
                logs = self._fit_epoch(train, epoch, cbs, audit, plan)
                if val is not None:
                    logs.update(self._evaluate_loader(val, prefix="val_"))
                logs["lr"] = float(self.optimizer.current_lr())
                self._training_state["epoch"] = epoch + 1
                cbs.on_epoch_end(epoch, logs)
                if plan is not None:
                    self.stop_training = plan.should_stop(self.stop_training)
                if self.stop_training:
                    break
            cbs.on_train_end(logs)
        return self.history

    def _fit_epoch(self, loader, epoch, callbacks, audit, plan=None):
        """One pass over the training data; returns the epoch's logs (metrics accumulated on the way).
        With a distributed ``plan``, each rank steps on its share of every batch and the loss is global."""
        self.train()
        loader.set_epoch(epoch)
        batches = plan.batches(epoch) if plan is not None else ((batch, None) for batch in loader)
        local_seen = 0
        for m in self.compiled_metrics:
            m.reset_state()
        total, seen = 0.0, 0
        telemetry = EpochAudit(self.name) if audit else contextlib.nullcontext()
        with telemetry:
            for b, (batch, n_global) in enumerate(batches):
                xb, yb, wb = fitdata.unpack(batch, "fit") if batch is not None else (None, None, None)
                if batch is not None:
                    fitdata.check_finite(xb, yb, loader, epoch, b)
                callbacks.on_train_batch_begin(b)
                if plan is None:
                    value, pred = self.train_step(xb, yb, wb)
                    n_global = len(xb)
                else:
                    value, pred = plan.train_step(xb, yb, wb, n_global)
                if not math.isfinite(value):
                    callbacks.on_train_batch_end(b, {"batch": b, "size": n_global, "loss": value})
                    if self.stop_training:              # TerminateOnNaN asked to stop
                        total, seen = value, 1
                        break
                    raise FloatingPointError(f"fit: the loss became {value} at epoch {epoch + 1}, batch {b + 1}; "
                                             "lower the learning rate or check the loss (or add TerminateOnNaN() "
                                             "to stop quietly)")
                total += value * n_global
                seen += n_global
                if pred is not None:
                    local_seen += len(xb)
                    for m in self.compiled_metrics:
                        m.update_state(yb, pred)
                callbacks.on_train_batch_end(b, {"batch": b, "size": n_global, "loss": total / seen})
        logs = {"loss": total / seen, **{m.name: m.result() for m in self.compiled_metrics}}
        if plan is not None:
            logs = plan.end_epoch(logs, local_seen)
        if audit:
            summary = {"epoch": epoch, **telemetry.result}
            if plan is not None:
                summary = plan.merge_audit(summary)
            self.history.kinks.append(summary)
            logs["kink_rate"] = summary["rate"]
        return logs

    def _resume_rng(self, initial_epoch):
        """When resuming at the epoch a checkpoint was saved, restore the generators it saved."""
        pending = getattr(self, "_pending_rng", None)
        if pending is not None and pending.get("epoch") == initial_epoch:
            saving.restore_rng(self, pending)
        self._pending_rng = None

    # -- evaluate / predict -----------------------------------------------------------------------------
    def evaluate(self, x=None, y=None, batch_size=None, verbose=0, sample_weight=None, audit=False):
        """Loss and metrics on (x, y) in evaluation mode, as a dict (Keras' ``return_dict=True``).
        ``audit=True`` also computes the gradients (without applying them) to report kinks."""
        self._check_compiled("evaluate")
        if batch_size is not None:
            positive_int("evaluate", "batch_size", batch_size)
        loader = fitdata.evaluation_loader(self, x if isinstance(x, DataLoader) else (x, y), "evaluate", batch_size,
                                           sample_weight)
        with kg.kinks(self.kinks) if self.kinks else contextlib.nullcontext():
            if flag("evaluate", "audit", audit):
                self._name_children()
            return self._evaluate_loader(loader, audit=audit)

    def _evaluate_loader(self, loader, prefix="", audit=False):
        metrics = [copy.deepcopy(m) for m in self.compiled_metrics]
        for m in metrics:
            m.reset_state()
        was = self.training
        self.eval()
        total, seen = 0.0, 0
        telemetry = EpochAudit(self.name) if audit else contextlib.nullcontext()
        grads = {id(p): p.grad for p in self.parameters()} if audit else None
        try:
            with telemetry:
                for batch in loader:
                    xb, yb, wb = fitdata.unpack(batch, "evaluate")
                    with contextlib.nullcontext() if audit else kg.no_grad():
                        pred = self(xb)
                        loss = self.compute_loss(yb, pred, wb)
                    if audit:
                        loss.backward()
                    total += float(loss.item()) * len(xb)
                    seen += len(xb)
                    for m in metrics:
                        m.update_state(yb, pred.data)
        finally:
            self.train(was)
            if grads is not None:
                for p in self.parameters():
                    p.grad = grads[id(p)]
        logs = {prefix + "loss": total / seen, **{prefix + m.name: m.result() for m in metrics}}
        if audit:
            logs[prefix + "kinks"] = telemetry.result
        return logs

    def predict(self, x, batch_size=None, verbose=0):
        """Outputs for ``x`` (an array, or a DataLoader whose batches start with x) in evaluation mode,
        without recording gradients."""
        if isinstance(x, DataLoader):
            batches = (b[0] if isinstance(b, (tuple, list)) else b for b in x)
        else:
            size = positive_int("predict", "batch_size", batch_size) if batch_size is not None else 256
            dtype = self._float_dtype() if self.built else np.dtype(np.float32)
            X = fitdata.as_array(x, "x", "predict", dtype)
            batches = (X[i:i + size] for i in range(0, len(X), size))
        was = self.training
        self.eval()
        try:
            with kg.no_grad():
                outs = [self(b).data for b in batches]
        finally:
            self.train(was)
        return Tensor._wrap(np.concatenate(outs, axis=0))

    # -- saving and introspection ------------------------------------------------------------------------
    def save(self, path, include_optimizer=True):
        """Architecture (config JSON), weights, optimizer state and training position in one
        safetensors file (no pickle: loading executes no code); see ``nn.load_model``."""
        saving.save_model(self, path, include_optimizer=include_optimizer)

    def save_weights(self, path):
        """Every parameter and buffer, in the safetensors format (no pickle)."""
        saving.save_weights(self, path)

    def load_weights(self, path, strict=True):
        """Read weights saved by ``save_weights`` or ``save``; mismatches raise, listing every tensor."""
        saving.load_weights(self, path, strict=strict)

    def summary(self, print_fn=None):
        """Print each layer's name, output shape and parameter count, and the totals (Keras' summary)."""
        summary(self, print_fn=print_fn)


