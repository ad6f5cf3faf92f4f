"""``python -m kinkgrad table``: the derivative at each declared kink under each preset, computed live."""
from __future__ import annotations

import csv
import io
import json

import numpy as np

import kinkgrad as kg
from .kinks.policy import PRESETS

# (label, function of one float64 scalar, kink point)
CASES = [
    ("abs(x) @ 0", kg.abs, 0.0),
    ("relu(x) @ 0", kg.relu, 0.0),
    ("leaky_relu(x, 0.01) @ 0", lambda x: kg.leaky_relu(x, negative_slope=0.01), 0.0),
    ("relu6(x) @ 0", kg.relu6, 0.0),
    ("relu6(x) @ 6", kg.relu6, 6.0),
    ("hardtanh(x) @ -1", kg.hardtanh, -1.0),
    ("hardtanh(x) @ 1", kg.hardtanh, 1.0),
    ("clip(x, -1, 1) @ 1", lambda x: kg.clip(x, -1.0, 1.0), 1.0),
    ("selu(x) @ 0", kg.selu, 0.0),
    ("elu(x, 0.5) @ 0", lambda x: kg.elu(x, alpha=0.5), 0.0),
    ("maximum(x, 0) @ 0", lambda x: kg.maximum(x, 0.0), 0.0),
    ("maximum(x, x') @ tie, d/dx", lambda x: kg.maximum(x, kg.stop_gradient(x)), 0.0),
    ("sign(x) @ 0", kg.sign, 0.0),
    ("floor(x) @ 1", kg.floor, 1.0),
    ("round(x) @ 0.5", kg.round, 0.5),
]


def rows():
    out = []
    for label, f, x0 in CASES:
        row = {"op @ point": label}
        for preset in PRESETS:
            with kg.kinks(preset):
                row[preset] = float(kg.grad(f)(np.float64(x0)).item())
        out.append(row)
    return out


def render(fmt="markdown"):
    data = rows()
    cols = ["op @ point", *PRESETS]
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols)
        w.writeheader()
        w.writerows(data)
        return buf.getvalue()
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in data:
        lines.append("| " + " | ".join([r[cols[0]]] + [f"{r[c]:.6g}" for c in cols[1:]]) + " |")
    return "\n".join(lines) + "\n"
