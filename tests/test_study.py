"""``python -m kinkgrad study relu0``: the ReLU'(0) paper reproduced on digits (quick mode here)."""
import json
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection

import kinkgrad as kg
from kinkgrad.cli import relu0


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    res = subprocess.run([sys.executable, "-m", "kinkgrad", "study", "relu0", "--quick", "--json",
                          str(out / "r.json"), "--png", str(out / "r.png")],
                         check=False, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    return res.stdout, json.loads((out / "r.json").read_text()), out / "r.png"


def test_quick_run_prints_and_saves_the_bifurcation_fractions(quick):
    stdout, result, png = quick
    bif = result["bifurcation"]
    assert set(bif) == {"float16", "float32", "float64"}
    # the paper's ordering: systematic at 16 bits, rarer at 32, absent at 64
    assert bif["float16"] > bif["float32"] >= bif["float64"]
    assert bif["float64"] == 0.0
    for dt in ("float16", "float32", "float64"):
        assert f"{dt:<10} {bif[dt]:>13.2%}" in stdout             # the printed table is the JSON's numbers
        assert 0.0 <= bif[dt] <= 1.0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Compared with the paper:" in stdout
    assert len(result["findings"]) == 5 and all(line in stdout for line in result["findings"])


def test_quick_run_trains_every_configuration_under_both_conventions(quick):
    _, result, _ = quick
    seeds = result["settings"]["acc_seeds"]
    assert set(result["accuracy"]) == {"sgd", "adam", "sgd+batchnorm"}
    for config, r in result["accuracy"].items():
        for name in ("relu'(0)=0", "relu'(0)=1"):
            assert len(r[name]) == seeds
            assert all(0.5 < a <= 1.0 for a in r[name]), (config, name, r[name])   # chance is 0.1
        assert 0 <= r["identical_runs"] <= seeds
        if r["identical_runs"] == seeds:       # identical weights must give identical accuracies
            assert r["relu'(0)=0"] == r["relu'(0)=1"]


def test_two_gradients_sees_an_exact_zero_only_where_the_upstream_gradient_is_nonzero():
    model = relu0.mlp(4, 1, "float32", seed=0)
    first, last = model[0], model[-1]
    x = np.ones((1, 64), np.float32)
    first.weight.data[:] = 0.0
    first.bias.data[:] = np.array([0.0, 1.0, -1.0, 2.0], np.float32)   # unit 0 sits exactly at relu's kink
    differ, hits = relu0._two_gradients(model, x, np.array([3]))
    assert differ and hits == 1
    first.bias.data[0] = 0.5                                             # no kink: both conventions agree
    differ, hits = relu0._two_gradients(model, x, np.array([3]))
    assert not differ and hits == 0
    first.bias.data[0] = 0.0
    last.weight.data[:, 0] = 0.0                                         # kink, but no gradient flows through it
    differ, hits = relu0._two_gradients(model, x, np.array([3]))
    assert not differ and hits == 1


def test_the_conventions_are_kink_policies():
    with kg.kinks(relu=1.0):
        assert kg.grad(kg.relu)(0.0).item() == 1.0
    assert relu0.CONVENTIONS == {"relu'(0)=0": 0.0, "relu'(0)=1": 1.0}


def test_figure_draws_the_per_epoch_fractions_and_the_accuracies(quick):
    _, result, _ = quick
    fig = relu0.figure(result)
    FigureCanvasAgg(fig).draw()
    ax_b, ax_a = fig.axes
    for line, dt in zip(ax_b.lines, relu0.DTYPES):
        np.testing.assert_allclose(line.get_ydata(), np.asarray(result["bifurcation_per_epoch"][dt]) * 100)
    accs = sorted(np.round(c.get_offsets()[:, 1], 6).tolist() for c in ax_a.collections
                  if isinstance(c, PathCollection))
    expected = sorted(np.round(np.asarray(r[n]) * 100, 6).tolist() for r in result["accuracy"].values()
                      for n in relu0.CONVENTIONS)
    assert accs == expected


def test_findings_follow_the_numbers():
    base = {"settings": {"batch": 128, "width": 256, "depth": 3, "bif_seeds": 3, "bif_epochs": 20, "train": 1347},
            "zeros_per_batch": {"float32": 0.0}, "bifurcation_batches": 660,
            "accuracy": {c: {"relu'(0)=0": [0.9, 0.91], "relu'(0)=1": [0.9, 0.91], "identical_runs": 2, "seeds": 2}
                         for c in relu0.CONFIGS}}
    good = {**base, "bifurcation": {"float16": 1.0, "float32": 0.01, "float64": 0.0},
            "networks_first_epoch": {"float16": 1.0, "float32": 0.5, "float64": 0.0}}
    lines = relu0.findings(good)
    assert lines[0].startswith("agrees") and lines[1].startswith("agrees") and lines[2].startswith("agrees")
    assert lines[3].startswith("differs: plain SGD in float32 gave bit-identical")
    # no zero in 6.2e7 relu inputs, where the paper's rate expects 1.2: consistent with it, met less often
    rare = {**base, "bifurcation": {"float16": 0.5, "float32": 0.0, "float64": 0.01},
            "networks_first_epoch": {"float16": 0.5, "float32": 0.0, "float64": 0.3}}
    lines = relu0.findings(rare)
    assert lines[0].startswith("differs") and lines[2].startswith("differs")
    assert lines[1].startswith("consistent per relu input") and "expect 1.2" in lines[1]
    # no zero where the paper's rate expects about 59: that differs
    many = {**rare, "settings": {**base["settings"], "bif_epochs": 1000}, "bifurcation_batches": 33000}
    assert relu0.findings(many)[1].startswith("differs: float32")
    gap = {**good, "accuracy": {**base["accuracy"], "sgd": {"relu'(0)=0": [0.95, 0.96, 0.95], "relu'(0)=1": [0.80,
           0.82, 0.81], "identical_runs": 0, "seeds": 3}}}
    lines = relu0.findings(gap)
    assert lines[3].startswith("agrees: plain SGD: relu'(0) = 0 ahead") and lines[4].startswith("agrees")
