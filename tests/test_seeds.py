"""The user questions the project answers (docs/questions/), answered with kinkgrad: each example runs, ported as
literally as kinkgrad's API allows, and gives the answer the user wanted.

* 000: tf.abs has no gradient at 0 in the user's TF, tf.nn.relu does; the answers are a custom
  gradient (abs_with_grad, gradient 1) and relu(x) + relu(-x).
* 001: Keras' relu table, x = [-1, 0, 1, 2], loss mean((relu(x) - 1)^2): gradients [0, 0, 0, 0.5].
* 002: PyTorch's abs loop over i - 5 in float64 (-1, ..., -1, 0, 1, ..., 1) and the tutorial's
  custom ReLU Function.
* 003: a piecewise-linear activation with a custom gradient, and a network trained through the
  step function: the true step stops training (warning), a surrogate gradient trains.
* 004: d MAE / d y_pred: sign(y_pred - y_true) / n, and the convention at y_pred == y_true.

Gradients here are exact small rationals (0, +-1, 1/n, 0.5), so they are compared exactly.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import kinkgrad as kg
from kinkgrad.cli.demos import step_network_training


def arr(t):
    return t.data if isinstance(t, kg.Tensor) else np.asarray(t)


# -- seed 000 ---------------------------------------------------------------------------------------
@kg.custom_gradient
def abs_with_grad(x):
    """The answer's code, ported line by line."""
    y = kg.abs(x)

    def grad(div):      # Derivation intermediate value
        g = 1           # Use 1 to make the chain rule just skip abs
        return div * g

    return y, grad


def test_seed000_abs_with_grad():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    np.testing.assert_array_equal(arr(abs_with_grad(kg.tensor(x))), np.abs(x))
    # the gradient at 0 exists and is 1; the rule is literally "1 everywhere", so it is 1 away from 0 too
    assert float(kg.grad(abs_with_grad)(0.0)) == 1.0
    np.testing.assert_array_equal(arr(kg.grad(lambda v: kg.sum(abs_with_grad(v)))(x)), np.ones(5))
    xt = kg.tensor(x, requires_grad=True)
    kg.sum(abs_with_grad(xt)).backward()
    np.testing.assert_array_equal(arr(xt.grad), np.ones(5))


def test_seed000_abs_with_grad_keeping_the_sign_away_from_0():
    """What the user wanted from abs: a gradient at 0 (here 1) and the true slopes -1 / 1 elsewhere."""
    @kg.custom_gradient
    def abs_with_grad_at_0(x):
        return kg.abs(x), lambda dy: dy * kg.where(x == 0, 1.0, kg.sign(x))

    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    np.testing.assert_array_equal(arr(kg.grad(lambda v: kg.sum(abs_with_grad_at_0(v)))(x)),
                                  [-1, -1, 1, 1, 1])
    # and kinkgrad's own abs already has a gradient at 0: 0 by default, 1 if asked for
    np.testing.assert_array_equal(arr(kg.grad(lambda v: kg.sum(kg.abs(v)))(x)), [-1, -1, 0, 1, 1])
    with kg.kinks(abs="right"):
        np.testing.assert_array_equal(arr(kg.grad(lambda v: kg.sum(kg.abs(v)))(x)), [-1, -1, 1, 1, 1])


def test_seed000_relu_plus_relu_of_minus_x_is_abs_with_gradient_0_at_0():
    x = np.concatenate([[0.0, -0.0], np.random.default_rng(0).standard_normal(50)])
    y = kg.relu(kg.tensor(x)) + kg.relu(-kg.tensor(x))
    np.testing.assert_array_equal(arr(y), np.abs(x))
    np.testing.assert_array_equal(arr(y), arr(kg.abs(kg.tensor(x))))
    g = arr(kg.grad(lambda v: kg.sum(kg.relu(v) + kg.relu(-v)))(x))
    np.testing.assert_array_equal(g, np.sign(x))          # 0 at 0, -1 / 1 elsewhere
    assert g[0] == 0.0 and g[1] == 0.0
    assert float(kg.grad(lambda v: kg.relu(v) + kg.relu(-v))(0.0)) == 0.0


# -- seed 001 ---------------------------------------------------------------------------------------
def test_seed001_keras_relu_table():
    data_input = np.array([[-1.0, 0.0, 1.0, 2.0]]).T
    target = np.ones([4, 1])
    g = kg.grad(lambda x: kg.mean((kg.relu(x) - target) ** 2))(data_input)
    np.testing.assert_array_equal(arr(g).ravel(), [0.0, 0.0, 0.0, 0.5])
    g2 = kg.grad(lambda x: kg.losses.mse(target, kg.relu(x)))(data_input)
    np.testing.assert_array_equal(arr(g2).ravel(), [0.0, 0.0, 0.0, 0.5])
    with kg.kinks("tensorflow"):
        g3 = kg.grad(lambda x: kg.losses.mse(target, kg.relu(x)))(data_input)
    np.testing.assert_array_equal(arr(g3).ravel(), [0.0, 0.0, 0.0, 0.5])
    # the tape API, as Keras' get_gradients does it
    x = kg.tensor(data_input, requires_grad=True)
    kg.mean((kg.relu(x) - 1.0) ** 2).backward()
    np.testing.assert_array_equal(arr(x.grad).ravel(), [0.0, 0.0, 0.0, 0.5])


# -- seed 002 ---------------------------------------------------------------------------------------
WANT_002 = [-1.0] * 5 + [0.0] + [1.0] * 5


def test_seed002_abs_loop_float64():
    grads = []
    for i in range(11):
        x = kg.tensor([i - 5], dtype=float, requires_grad=True)
        y = kg.abs(x)
        y.backward()
        assert x.grad.dtype == np.float64 and x.grad.shape == (1,)
        grads.append(x.grad.item())
    assert grads == WANT_002
    torch_grads = []
    for i in range(11):
        x = torch.tensor([i - 5], dtype=float, requires_grad=True)
        torch.abs(x).backward()
        torch_grads.append(x.grad.item())
    assert grads == torch_grads == WANT_002


class MyReLU(kg.Function):
    """The PyTorch tutorial's custom ReLU (two_layer_net_custom_function): clamp forward, and the
    gradient zeroed where the input is < 0 (``grad_input[input < 0] = 0``, written functionally)."""

    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return input.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors
        return kg.where(input < 0, 0.0, grad_output)


class TorchMyReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return input.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors
        grad_input = grad_output.clone()
        grad_input[input < 0] = 0
        return grad_input


def test_seed002_custom_relu_function_grad_1_at_0():
    x = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    np.testing.assert_array_equal(arr(MyReLU.apply(kg.tensor(x))), np.maximum(x, 0))
    g = arr(kg.grad(lambda v: kg.sum(MyReLU.apply(v)))(x))
    np.testing.assert_array_equal(g, [0, 0, 1, 1, 1])
    assert float(kg.grad(MyReLU.apply)(0.0)) == 1.0
    xt = torch.tensor(x, requires_grad=True)
    TorchMyReLU.apply(xt).sum().backward()
    np.testing.assert_array_equal(g, xt.grad.numpy())
    # the built-in relu keeps its own convention (0 at 0) unless asked
    assert float(kg.grad(kg.relu)(0.0)) == 0.0
    assert float(kg.grad(kg.relu, kinks="right")(0.0)) == 1.0


# -- seed 003 ---------------------------------------------------------------------------------------
@kg.custom_gradient
def piecewise_linear_with_gradient(x):
    def grad(dy):
        return kg.where(x > 0, dy, 0.1 * dy)
    return kg.where(x > 0, x, 0.1 * x), grad


def test_seed003_piecewise_linear_matches_leaky_relu():
    x = np.random.default_rng(3).standard_normal(100) * 3
    x = x[x != 0]
    np.testing.assert_array_equal(arr(piecewise_linear_with_gradient(kg.tensor(x))),
                                  arr(kg.leaky_relu(kg.tensor(x), 0.1)))
    w = np.random.default_rng(4).standard_normal(x.shape)
    g = arr(kg.grad(lambda v: kg.sum(w * piecewise_linear_with_gradient(v)))(x))
    np.testing.assert_array_equal(g, arr(kg.grad(lambda v: kg.sum(w * kg.leaky_relu(v, 0.1)))(x)))
    np.testing.assert_array_equal(g, np.where(x > 0, w, 0.1 * w))
    # the same layer without the custom gradient: plain autodiff through where gives the same
    np.testing.assert_array_equal(g, arr(kg.grad(lambda v: kg.sum(w * kg.where(v > 0, v, 0.1 * v)))(x)))
    # at 0 the custom rule says 0.1, as does leaky_relu's default (the slope, inside [0.1, 1])
    assert float(kg.grad(piecewise_linear_with_gradient)(np.array(0.0))) == 0.1
    assert float(kg.grad(lambda v: kg.leaky_relu(v, 0.1))(np.array(0.0))) == 0.1


def test_seed003_swish_differentiates_automatically():
    x = np.linspace(-3, 3, 13)
    g = arr(kg.grad(lambda v: kg.sum(v * kg.sigmoid(v)))(x))
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(g, s + x * s * (1 - s), rtol=1e-12, atol=1e-15)


def test_seed003_step_network_true_step_vs_surrogate():
    first_hard, last_hard, warned = step_network_training(lambda h: kg.heaviside(h, 0.0))
    first_sur, last_sur, warned_sur = step_network_training(kg.surrogate.heaviside)
    assert warned and all(issubclass(w.category, kg.NonDifferentiableWarning) for w in warned)
    msg = str(warned[0].message)
    assert "heaviside" in msg and "surrogate" in msg, msg
    assert warned_sur == []
    assert first_hard == first_sur                     # same start, same data
    assert last_sur < first_sur / 100
    # measured: last_hard / last_sur = 26.0 (0.0484 vs 0.00186); assert a conservative 10x
    assert last_hard >= 10 * last_sur, (last_hard, last_sur, last_hard / last_sur)


def test_seed003_true_step_warns_through_grad():
    x = np.array([-0.5, 0.5])
    with pytest.warns(kg.NonDifferentiableWarning, match="surrogate"):
        g = kg.grad(lambda v: kg.sum(kg.heaviside(v, 0.0)))(x)
    np.testing.assert_array_equal(arr(g), [0.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", kg.NonDifferentiableWarning)
        g = kg.grad(lambda v: kg.sum(kg.surrogate.heaviside(v)))(x)
    assert np.all(arr(g) > 0)


# -- seed 004 ---------------------------------------------------------------------------------------
def test_seed004_mae_derivative_away_from_equality():
    r = np.random.default_rng(5)
    y_true, y_pred = r.standard_normal(8), r.standard_normal(8)
    g = arr(kg.grad(lambda p: kg.losses.mae(y_true, p))(y_pred))
    np.testing.assert_array_equal(g, np.sign(y_pred - y_true) / 8)
    g_manual = arr(kg.grad(lambda p: kg.mean(kg.abs(p - y_true)))(y_pred))   # "tf.abs(tf.minus(...))"
    np.testing.assert_array_equal(g_manual, g)
    for preset in ("jax", "torch", "tensorflow"):
        np.testing.assert_array_equal(arr(kg.grad(lambda p: kg.losses.mae(y_true, p), kinks=preset)(y_pred)), g)


@pytest.mark.parametrize("preset, at_equality", [
    (None, 0.0), ("default", 0.0), ("jax", 1.0), ("torch", 0.0), ("tensorflow", 0.0),
])
def test_seed004_mae_derivative_at_equality(preset, at_equality):
    n = 4
    y_true = np.array([0.5, 1.0, -2.0, 3.0])
    y_pred = np.array([0.5, 2.0, -3.0, 3.0])                 # elements 0 and 3 on the kink
    want = np.sign(y_pred - y_true) / n
    want[[0, 3]] = at_equality / n
    g = arr(kg.grad(lambda p: kg.losses.mae(y_true, p), kinks=preset)(y_pred))
    np.testing.assert_array_equal(g, want)
    if preset is not None:
        with kg.kinks(preset):
            g2 = arr(kg.grad(lambda p: kg.losses.mae(y_true, p))(y_pred))
        np.testing.assert_array_equal(g2, want)
