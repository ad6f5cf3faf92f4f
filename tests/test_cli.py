"""The command line: the tour answers the seed questions with live numbers; the table prints."""
import json
import subprocess
import sys

import numpy as np

import kinkgrad as kg
from kinkgrad.cli import table, tour


def _collect(fn):
    lines = []
    fn(lines.append)
    return "\n".join(lines)


def test_tour_abs_table_matches_the_computation():
    text = _collect(tour.abs_table)
    for i in range(-5, 6):
        expected = np.sign(i)
        assert f"x = {i:+d}   grad = tensor([{float(expected):.0f}.]" in text.replace("-0.", "0.")


def test_tour_reproduces_the_keras_relu_table():
    text = _collect(tour.relu_keras_table)
    # the numbers the user printed from Keras: -0, -0, 0, 0.5
    assert "x = -1.00, loss = +4.00, (d loss)/(d x) = -0.00000000" in text
    assert "x = +0.00, loss = +1.00, (d loss)/(d x) = -0.00000000" in text
    assert "x = +1.00, loss = +0.00, (d loss)/(d x) = +0.00000000" in text
    assert "x = +2.00, loss = +1.00, (d loss)/(d x) = +0.50000000" in text


def test_tour_runs_from_the_command_line():
    res = subprocess.run([sys.executable, "-m", "kinkgrad", "tour"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "relu(x) + relu(-x)" in res.stdout


def test_table_values_follow_the_presets():
    data = {r["op @ point"]: r for r in table.rows()}
    assert (data["abs(x) @ 0"]["default"], data["abs(x) @ 0"]["left"], data["abs(x) @ 0"]["right"]) == ("0", "-1", "1")
    assert data["abs(x) @ 0"]["jax"] == "1" and data["abs(x) @ 0"]["torch"] == "0"
    assert data["relu(x) @ 0"]["mid"] == "0.5" and data["relu(x) @ 0"]["nan"] == "nan"
    assert data["selu(x) @ 0"]["default"] == data["selu(x) @ 0"]["right"]   # the smaller one-sided slope
    assert data["celu(x) @ 0"]["tensorflow"] == "2"
    assert data["max(x) @ [1, 3, 3, 2]"]["default"] == "[0, 0.5, 0.5, 0]"
    assert all(r["raise"] == "KinkError" for label, r in data.items() if "@ [4, 1, 3, 2]" not in label)
    assert json.loads(table.render("json"))[0]["op @ point"] == "abs(x) @ 0"
    assert table.render("csv").splitlines()[0].startswith("op @ point,default")


def test_table_runs_from_the_command_line():
    res = subprocess.run([sys.executable, "-m", "kinkgrad", "table"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("| op @ point |")
    assert kg.grad(kg.abs)(0.0).item() == 0.0
