"""What fit prints: verbose=0 silent, verbose=2 one line per epoch, verbose=1 a tqdm bar in a terminal
(replaced by the epoch's line, so nothing is printed twice) and one line per epoch when the output is a file;
metric values never cut off."""
from __future__ import annotations

import io
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import kinkgrad
from kinkgrad import nn
from kinkgrad.nn import progress

rng = np.random.default_rng(4)
X = rng.standard_normal((48, 3)).astype(np.float32)
Y = X[:, :1].astype(np.float32)


def fit(verbose, epochs=2, **kw):
    model = nn.Sequential([nn.Dense(4, activation="relu", input_shape=(3,), seed=0), nn.Dense(1, seed=1)])
    model.compile("adam", "mse", metrics=["mae", "mse", "r2"])
    return model.fit(X, Y, epochs=epochs, batch_size=8, verbose=verbose, seed=0, validation_split=0.25, **kw)


def test_verbose_0_is_silent(capfd):
    fit(0)
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize("verbose", [1, 2])
def test_lines_when_not_a_terminal(capfd, verbose):
    fit(verbose, epochs=3)
    out, err = capfd.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert [line.split("  ")[0] for line in lines] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    for line in lines:                               # every value, whole, in one line
        for key in ("loss=", "mae=", "mse=", "r2=", "val_loss=", "val_mae=", "val_mse=", "val_r2=", "lr=0.001"):
            assert key in line, (key, line)


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_verbose_1_in_a_terminal_draws_a_bar_then_one_whole_line_per_epoch(monkeypatch):
    term = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", term)
    monkeypatch.setenv("COLUMNS", "60")                     # narrower than the epoch line
    fit(1, epochs=2)
    text = term.getvalue()
    assert "0/5 [" in text and "batch/s" in text          # the tqdm bar ran: 36 training samples in batches of 8
    finals = [seg for seg in text.replace("\r", "\n").split("\n") if seg.startswith("Epoch ") and "val_r2=" in seg]
    assert [f.split("  ")[0] for f in finals] == ["Epoch 1/2", "Epoch 2/2"]     # each epoch's line exactly once
    assert all(len(f) > 60 for f in finals)               # not cut to the terminal width


def test_verbose_2_is_lines_even_in_a_terminal(monkeypatch):
    term = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", term)
    fit(2, epochs=2)
    assert [line.split("  ")[0] for line in term.getvalue().splitlines()] == ["Epoch 1/2", "Epoch 2/2"]


def test_notebook_detection(monkeypatch):
    class ZMQInteractiveShell:
        pass

    fake = type(sys)("IPython")
    fake.get_ipython = lambda: ZMQInteractiveShell()
    monkeypatch.setitem(sys.modules, "IPython", fake)
    assert progress._in_notebook()
    fake.get_ipython = lambda: None
    assert not progress._in_notebook()


def test_value_formatting():
    assert progress.format_value("loss", 0.123456) == "loss=0.1235"
    assert progress.format_value("loss", 1.5e-5) == "loss=1.5e-05"
    assert progress.format_value("lr", 0.001) == "lr=0.001"
    assert progress.format_value("kink_rate", 0.0002) == "kinks=0.02%"
    assert progress.format_value("kink_rate", 3e-7) == "kinks=3e-05%"
    assert progress.format_value("kink_rate", 0.0) == "kinks=0.00%"


SCRIPT = textwrap.dedent("""
    import numpy as np
    from kinkgrad import nn
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 10)).astype("float32")
    model = nn.Sequential([nn.Dense(16, activation="relu", input_shape=(10,), seed=0), nn.Dense(1, seed=1)])
    model.compile("adam", "mse", metrics=["mae"])
    model.fit(X, X[:, :1], epochs=4, batch_size=16, validation_split=0.25, verbose=1, seed=0, audit=True)
""")


def test_python_train_py_redirected_to_a_log_gives_one_readable_line_per_epoch(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    src = str(pathlib.Path(kinkgrad.__file__).parents[1])       # this checkout's sources first
    env = {**os.environ, "PYTHONPATH": src, "COLUMNS": "100"}
    with open(tmp_path / "out.log", "w") as log:
        subprocess.run([sys.executable, str(script)], stdout=log, stderr=subprocess.PIPE, env=env, check=True,
                       timeout=120)
    lines = (tmp_path / "out.log").read_text().splitlines()
    assert [line.split("  ")[0] for line in lines] == [f"Epoch {e}/4" for e in range(1, 5)]
    assert all("\r" not in line and "val_mae=" in line and "kinks=" in line for line in lines)
    assert all(len(line) < 200 for line in lines)


def test_readme_training_example_prints_what_the_readme_shows(tmp_path, monkeypatch):
    """The README's training example, run as written: summary, epoch lines with the kinks column (epoch
    times differ), and the checkpoint it loads."""
    readme = (pathlib.Path(__file__).parents[1] / "README.md").read_text()
    section = readme[readme.index("## Training a model"):]
    code = section.split("```python\n")[1].split("```")[0]
    shown = section.split("```\n")[2].split("```")[0].splitlines()
    monkeypatch.chdir(tmp_path)
    printed = io.StringIO()
    monkeypatch.setattr(sys, "stdout", printed)
    exec(compile(code, "README.md", "exec"), {})   # noqa: S102  (the README's own example)
    lines = printed.getvalue().splitlines()

    def timeless(line):
        return line.split("  ", 2)[::2] if line.startswith("Epoch") else line
    assert lines[:14] == shown[:14]                                    # the summary
    for line in shown[14:]:
        if line != "...":
            assert timeless(line) in [timeless(got) for got in lines], line
    assert (tmp_path / "best.kg").exists() and lines[-1].startswith("{'loss': ")
