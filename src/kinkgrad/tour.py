"""``python -m kinkgrad tour``: the questions users ask about kinks, answered with live numbers.

Every number printed here is computed when the tour runs; nothing is pasted in.
"""
from __future__ import annotations

import numpy as np

import kinkgrad as kg


def _section(title, out):
    out(f"\n{title}\n{'-' * len(title)}")


def abs_table(out=print):
    """Seed: "PyTorch sets the gradient of abs at 0 to 0" — the same loop, in kinkgrad."""
    _section("d|x|/dx at x = -5..5 (float64), as printed by a PyTorch loop", out)
    for i in range(11):
        x = kg.tensor([float(i - 5)], dtype="float64", requires_grad=True)
        y = kg.abs(x)
        y.backward()
        out(f"  x = {i - 5:+d}   grad = {x.grad}")
    out("  abs is not differentiable at 0; its one-sided slopes are -1 and +1. The default policy")
    out("  picks 0, the minimum-norm element of the Clarke interval [-1, 1].")


def relu_keras_table(out=print):
    """Seed: the Keras relu + MSE gradient table at x = -1, 0, 1, 2 with target 1."""
    _section("relu at -1, 0, 1, 2: gradient of the MSE to target 1 w.r.t. the input", out)
    x = np.array([[-1.0], [0.0], [1.0], [2.0]])
    target = np.ones((4, 1))

    def loss(inp):
        return kg.mean((kg.relu(inp) - target) ** 2)

    g = kg.grad(loss)(x)
    for xi, li, gi in zip(x.ravel(), ((target - x) ** 2).ravel(), g.data.ravel()):
        out(f"  x = {xi:+.2f}, loss = {li:+.2f}, (d loss)/(d x) = {gi:+.8f}")
    out(f"  relu'(x) itself at -1, 0, 1, 2: {kg.grad(lambda v: kg.relu(v).sum())(x.ravel()).data}")


def abs_vs_relu(out=print):
    """Seed: 'how about relu(x) + relu(-x)?' — and what each convention gives at 0."""
    _section("abs(x) vs relu(x) + relu(-x) at x = 0, under several policies", out)
    f_abs = kg.grad(kg.abs)
    f_sum = kg.grad(lambda v: kg.relu(v) + kg.relu(-v))
    f_id = kg.grad(lambda v: kg.relu(v) - kg.relu(-v))
    out(f"  {'policy':<9}{'abs':>8}{'relu(x)+relu(-x)':>20}{'relu(x)-relu(-x) [= x]':>26}")
    for preset in ("default", "left", "right", "mid"):
        with kg.kinks(preset):
            out(f"  {preset:<9}{f_abs(0.0).item():>8.3g}{f_sum(0.0).item():>20.3g}{f_id(0.0).item():>26.3g}")
    out("  relu(x) - relu(-x) is the identity, yet per-op conventions give 0 or 2 at x = 0; a per-op")
    out("  rule cannot see the composition. kinkgrad states the rule it used instead of hiding it.")


SECTIONS = [abs_table, relu_keras_table, abs_vs_relu]


def run(out=print):
    out("kinkgrad tour: what is the gradient where the function has no gradient?")
    for section in SECTIONS:
        section(out)
    out("")
