"""``python -m kinkgrad tour``: the questions users ask about kinks, answered with live numbers.

Every number printed here is computed when the tour runs; nothing is pasted in.
"""
from __future__ import annotations

import numpy as np

import kinkgrad as kg
from kinkgrad import nn

from .demos import step_network_training


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
    out("  relu(x) - relu(-x) is the identity (slope 1), yet the per-op rules give 0, 2 or 1 at x = 0:")
    out("  a rule applied op by op cannot see the composition. kinkgrad states the rule it used.")


def presets_table(out=print):
    """abs'(0) and the identity relu(x) - relu(-x) under every preset, side by side."""
    _section("abs'(0) and d/dx [relu(x) - relu(-x)] at 0 under each preset", out)
    f_abs = kg.grad(kg.abs)
    f_id = kg.grad(lambda v: kg.relu(v) - kg.relu(-v))
    out(f"  {'preset':<12}{'abs(0)':>8}{'relu(x)-relu(-x)':>18}   meaning")
    for preset in ("default", "torch", "jax", "tensorflow", "left", "right", "mid", "zero", "nan"):
        with kg.kinks(preset):
            a, r = f_abs(np.float64(0)).item(), f_id(np.float64(0)).item()
        out(f"  {preset:<12}{a:>8.3g}{r:>18.3g}   {kg.PRESETS[preset].split(':')[0].split(' (')[0][:56]}")
    out("  relu(x) - relu(-x) = x, so the true answer is 1: all three frameworks report 0; 'mid'")
    out("  gets 1 here only because this composition happens to be symmetric.")


def mae_at_equality(out=print):
    """Seed: d MAE / d y_pred when y_pred == y_true."""
    _section("d MAE / d y_pred at y_pred == y_true = [1, 2]", out)
    y_true = np.array([1.0, 2.0])
    for preset in ("default", "torch", "jax", "tensorflow", "left", "right"):
        g = kg.grad(lambda p: kg.losses.mae(y_true, p), kinks=preset)(y_true.copy())
        out(f"  {preset:<12}{np.array2string(g.data, precision=3):>14}")
    out("  Away from equality it is sign(y_pred - y_true) / n; at equality the one-sided slopes are")
    out("  -1/n and +1/n and each framework picks a different point of [-1/n, 1/n] (0 by default).")


def audit_float16(out=print):
    """An audit shows where precision creates kinks: float16 rounds 1.0001 - 1.0 to exactly 0."""
    _section("audit: relu(x - 1) at x = 1.0001, float16 vs float32", out)
    for dtype in ("float16", "float32"):
        x = kg.tensor(np.full(8, 1.0001, dtype=dtype), requires_grad=True)
        with kg.audit() as report:
            kg.relu(x - 1.0).sum().backward()
        row = next(iter(report.rows.values()))
        out(f"  {dtype}: {row['at_kink']} of {row['evaluated']} elements exactly at the kink, "
            f"{row['dependent']} with nonzero upstream gradient -> {report.semantics}; grad = {x.grad.data[0]}")
    out("  In float16 the difference rounds to 0, so the gradient is the convention, not the slope.")


def identity_network(out=print):
    """Directional mode: a certified generalized gradient where every per-op rule fails."""
    _section("the identity network W2 @ relu(W1 @ x), W1 = [1, -1], W2 = [1, -1], at x = 0", out)
    w1, w2 = np.array([[1.0], [-1.0]]), np.array([[1.0, -1.0]])

    def net(x):
        return (w2 @ kg.relu(w1 @ x)).sum()

    x0 = np.zeros(1)
    out("  it computes relu(x) - relu(-x) = x, so its derivative is 1 everywhere")
    for preset in ("default", "torch", "jax", "tensorflow"):
        out(f"  {preset:<12}{kg.grad(net, kinks=preset)(x0).item():>6.3g}")
    with kg.audit() as report:
        g = kg.grad(net, kinks="directional", seed=0)(x0)
    out(f"  {'directional':<12}{g.item():>6.3g}   <- the gradient of the piece active along a random direction")
    line = next(iter(report.directional.values()))
    out(f"  audit: {report.semantics}; {line['kinks']} kink(s) decided, {line['first_order']} by the first "
        f"direction, {line['higher_order']} by later ones")
    left, right = kg.one_sided(net, x0, np.ones(1))
    out(f"  exact one-sided derivatives along +1: left {float(left):g}, right {float(right):g}")


def custom_gradients(out=print):
    """Seeds 000 and 002: a custom gradient for abs, and PyTorch's custom ReLU Function."""
    _section("custom gradients: TensorFlow's abs_with_grad and PyTorch's MyReLU", out)

    @kg.custom_gradient
    def abs_with_grad(x):
        return kg.abs(x), lambda dy: dy * 1.0     # "use 1 to make the chain rule just skip abs"

    out(f"  abs_with_grad'(0) = {kg.grad(abs_with_grad)(0.0).item():g}   (straight through: gradient 1)")
    out(f"  relu(x) + relu(-x) at 0: {kg.grad(lambda v: kg.relu(v) + kg.relu(-v))(0.0).item():g}   "
        "(the commenter's suggestion: abs' = 0 there)")

    class MyReLU(kg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return kg.clip(x, 0.0, None)

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return kg.where(x < 0, 0.0, grad_output)   # the tutorial zeroes only x < 0

    x = kg.tensor(np.arange(-2.0, 3.0), requires_grad=True)
    MyReLU.apply(x).sum().backward()
    out(f"  MyReLU at x = {x.data}: grad = {x.grad.data}   (1 at 0: the tutorial's own convention)")

    @kg.custom_gradient
    def piecewise_linear_with_gradient(x):           # seed 003's PiecewiseLinear, as written there
        def grad(dy):
            return kg.where(x > 0, dy, 0.1 * dy)
        return kg.where(x > 0, x, 0.1 * x), grad

    pts = np.array([-1.0, 0.0, 2.0])
    custom = kg.grad(lambda v: piecewise_linear_with_gradient(v).sum())(pts).data
    builtin = kg.grad(lambda v: kg.leaky_relu(v, 0.1).sum())(pts).data
    out(f"  seed 003's PiecewiseLinear at {pts}: custom gradient {custom}, built-in leaky_relu(0.1) {builtin}")
    out("  (the same slopes; at 0 both give 0.1: the custom rule's `x > 0` test and leaky_relu's default agree)")


def step_activation(out=print):
    """Seed 003: a step activation does not train; a surrogate gradient makes it train."""

    _section("seed 003: Dense(64, relu) -> step -> Dense(1), 150 Adam steps", out)
    hard = step_network_training(lambda h: kg.heaviside(h, 0.0))
    soft = step_network_training(lambda h: kg.surrogate.heaviside(h, grad="fast_sigmoid"))
    out(f"  true step:            loss {hard[0]:.4f} -> {hard[1]:.4f}; warnings: {len(hard[2])} "
        f"(the first layer gets no gradient: {str(hard[2][0].message)[:60]}...)" if hard[2] else
        f"  true step:            loss {hard[0]:.4f} -> {hard[1]:.4f}")
    out(f"  surrogate.heaviside:  loss {soft[0]:.4f} -> {soft[1]:.4f}   (same forward, fast-sigmoid backward)")
    out("  With the true step only the last layer learns; the surrogate trains the whole network.")


def keras_models(out=print):
    """Seed 001's table through a model (Activation('relu'), MSE to 1) and seed 003's model trained."""


    _section("seed 001 with a model: Sequential([Activation('relu')]), MSE to target 1", out)
    model = nn.Sequential([nn.Activation("relu")])
    model.compile(optimizer="sgd", loss="mse")
    x = np.array([[-1.0], [0.0], [1.0], [2.0]])
    g = kg.grad(lambda inp: model.loss_fn(np.ones((4, 1)), model(inp)))(x)
    for xi, gi in zip(x.ravel(), g.data.ravel()):
        out(f"  x = {xi:+.2f}, (d loss)/(d x) = {gi:+.8f}")

    class Swish(nn.Layer):
        def call(self, x):
            return x * kg.sigmoid(x)

    _section("seed 003's model: Dense(64, relu, input_shape=(10,)) -> Swish() -> Dense(1), 3 epochs", out)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((512, 10)).astype(np.float32)
    y = np.tanh(X[:, :4]).sum(axis=1, keepdims=True).astype(np.float32)
    model = nn.Sequential([nn.Dense(64, activation="relu", input_shape=(10,), seed=0), Swish(), nn.Dense(1, seed=1)])
    model.compile(optimizer="adam", loss="mse")
    before = model.evaluate(X, y)["loss"]
    history = model.fit(X, y, epochs=3, batch_size=32, verbose=1, seed=0)
    out(f"  mse {before:.4f} before, {history.history['loss'][-1]:.4f} after 3 epochs; no gradient code in Swish")


SECTIONS = [abs_table, relu_keras_table, abs_vs_relu, presets_table, mae_at_equality, audit_float16,
            identity_network, custom_gradients, step_activation, keras_models]


def run(out=print):
    out("kinkgrad tour: what is the gradient where the function has no gradient?")
    for section in SECTIONS:
        section(out)
    out("")


def main(args):
    run()
