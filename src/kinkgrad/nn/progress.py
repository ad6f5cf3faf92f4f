"""What ``fit`` prints. ``verbose=1``: a tqdm bar per epoch in a terminal or a notebook (``tqdm.auto``),
replaced at the end of the epoch by one line with every logged value; when the output is a file or a
pipe (``python train.py > out.log``) only that line. ``verbose=2``: the line only. Lines go to
stdout, whole (never cut to the terminal width), once per epoch."""
from __future__ import annotations

import sys
import time

from .callbacks import Callback


def _in_notebook():
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _isatty(stream):
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def format_value(key, value):
    if key == "kink_rate":
        pct = 100.0 * value
        return f"kinks={pct:.2f}%" if pct == 0 or pct >= 0.01 else f"kinks={pct:.2g}%"
    if key == "lr":
        return f"lr={value:.4g}"
    if isinstance(value, float):
        return f"{key}={value:.4f}" if value == 0 or 1e-3 <= abs(value) < 1e5 else f"{key}={value:.4g}"
    return f"{key}={value}"


def epoch_line(epoch, epochs, logs, seconds):
    """``Epoch 3/10  41ms  loss=0.1234  accuracy=0.9512  val_loss=...  lr=0.001  kinks=0.02%``."""
    first = [k for k in logs if not k.startswith("val_") and k not in ("lr", "kink_rate")]
    order = first + [k for k in logs if k.startswith("val_")] + [k for k in ("lr", "kink_rate") if k in logs]
    took = f"{seconds * 1e3:.0f}ms" if seconds < 1 else f"{seconds:.1f}s"
    parts = [f"Epoch {epoch + 1}/{epochs}", took] + [format_value(k, logs[k]) for k in order]
    return "  ".join(parts)


class ProgressLogger(Callback):
    """The output of ``fit(verbose=1|2)``; ``file`` defaults to ``sys.stdout`` at the start of training."""

    def __init__(self, verbose=1, file=None):
        super().__init__()
        self.verbose, self.file = verbose, file
        self._bar = None

    def on_train_begin(self, logs=None):
        self._out = self.file if self.file is not None else sys.stdout
        self._bars = self.verbose == 1 and (_isatty(self._out) or _in_notebook())

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()
        if self._bars:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.params.get("steps"), desc=f"Epoch {epoch + 1}/{self.params['epochs']}",
                             leave=False, file=self._out, dynamic_ncols=True, unit="batch")

    def on_train_batch_end(self, batch, logs=None):
        if self._bar is not None:
            self._bar.set_postfix_str(f"loss={logs['loss']:.4f}", refresh=False)
            self._bar.update(1)

    def on_epoch_end(self, epoch, logs=None):
        self._close()
        line = epoch_line(epoch, self.params["epochs"], logs or {}, time.perf_counter() - self._t0)
        print(line, file=self._out, flush=True)

    def on_train_end(self, logs=None):
        self._close()

    def _close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
