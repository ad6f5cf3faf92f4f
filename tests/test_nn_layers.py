"""Neural-network building blocks against PyTorch: every layer's output and its gradients with respect
to the input and to every parameter (weights copied across, float64), the optimizers' update rules
step by step, gradient clipping, learning-rate schedules, Module behaviour (parameter discovery,
state dicts, configs, train/eval), a custom ``call``-only layer, and the losses.

Tolerances: float64 on both sides; layers and losses differ from PyTorch only in summation order
(im2col + one matmul vs PyTorch's kernels, two-pass vs Welford statistics), so outputs and
gradients are compared at rtol 1e-10 / atol 1e-12. Optimizer trajectories are compared at rtol 1e-12
after several steps (the same arithmetic in a different order). ``clip_grad_norm_`` is compared at
rtol 1e-6 because PyTorch divides by ``norm + 1e-6`` where kinkgrad uses ``norm + 1e-12``.
Statistical Dropout checks use 200,000 draws: the kept fraction has standard deviation
sqrt(p (1 - p) / n) ~ 1.1e-3, so the 0.01 tolerance is ~9 sigma.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import kinkgrad as kg
from kinkgrad import losses, nn, optim

RTOL = 1e-10
ATOL = 1e-12


# -- helpers ----------------------------------------------------------------------------------------
def rnd(*shape, seed=0, scale=1.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


def kt(a, grad=True):
    return kg.tensor(np.array(a, dtype=np.float64), requires_grad=grad)


def tt(a, grad=True):
    return torch.tensor(np.array(a, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


def npy(t):
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(getattr(t, "data", t))


def close(a, b, rtol=RTOL, atol=ATOL, what=""):
    a, b = npy(a), npy(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs {b.shape}"
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=what)


def backprop_both(kg_out, torch_out, seed=123):
    """Contract both outputs with the same random cotangent and backpropagate."""
    w = rnd(*npy(torch_out).shape, seed=seed)
    (kg_out * kg.tensor(w)).sum().backward()
    (torch_out * torch.tensor(w)).sum().backward()


def check_layer(layer, tlayer, x, params, rtol=RTOL, atol=ATOL):
    """Forward both layers on x, compare outputs, then the gradients w.r.t. x and each
    (kinkgrad param, torch param) pair in ``params``."""
    xk, xt_ = kt(x), tt(x)
    yk, yt = layer(xk), tlayer(xt_)
    close(yk, yt, rtol, atol, "output")
    backprop_both(yk, yt)
    close(xk.grad, xt_.grad, rtol, atol, "d/dx")
    for name, (pk, pt) in params.items():
        assert pk.grad is not None, f"{name} got no gradient"
        close(pk.grad, pt.grad, rtol, atol, f"d/d{name}")


def copy_into(torch_param, kg_param, transform=lambda a: a):
    with torch.no_grad():
        torch_param.copy_(torch.tensor(transform(kg_param.data)))


# -- Dense / Linear ---------------------------------------------------------------------------------
@pytest.mark.parametrize("activation, tfn", [(None, lambda y: y), ("relu", F.relu), ("tanh", torch.tanh),
                                             ("sigmoid", torch.sigmoid), ("softmax", lambda y: F.softmax(y, -1))])
@pytest.mark.parametrize("xshape", [(6, 4), (2, 3, 4)], ids=["2d", "3d"])
def test_dense_matches_torch_linear(activation, tfn, xshape):
    layer = nn.Dense(5, activation=activation, input_shape=(4,), seed=0, dtype="float64")
    layer.bias.data = rnd(5, seed=9)          # a non-zero bias, so its gradient path is exercised
    lin = torch.nn.Linear(4, 5, dtype=torch.float64)
    copy_into(lin.weight, layer.kernel, lambda k: k.T)      # Dense kernel is (in, out)
    copy_into(lin.bias, layer.bias)
    check_layer(layer, lambda x: tfn(lin(x)), rnd(*xshape, seed=1), {"bias": (layer.bias, lin.bias)})
    # the kernel's gradient is the transpose of torch's weight gradient
    close(layer.kernel.grad.data.T, lin.weight.grad)


def test_dense_builds_lazily_on_first_call():
    layer = nn.Dense(3, seed=0, dtype="float64")
    assert not layer.built
    with pytest.raises(RuntimeError, match="not built"):      # an optimizer would get no weights
        layer.parameters()
    y = layer(kt(rnd(2, 7)))
    assert layer.built and len(layer.parameters()) == 2
    assert y.shape == (2, 3) and layer.kernel.shape == (7, 3) and layer.bias.shape == (3,)


def test_dense_no_bias():
    layer = nn.Dense(3, use_bias=False, input_shape=(4,), seed=0, dtype="float64")
    lin = torch.nn.Linear(4, 3, bias=False, dtype=torch.float64)
    copy_into(lin.weight, layer.kernel, lambda k: k.T)
    assert [n for n, _ in layer.named_parameters()] == ["kernel"]
    check_layer(layer, lin, rnd(5, 4), {})   # kernel compared transposed below
    close(layer.kernel.grad.data.T, lin.weight.grad)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(bias):
    layer = nn.Linear(4, 3, bias=bias, seed=0, dtype="float64")
    lin = torch.nn.Linear(4, 3, bias=bias, dtype=torch.float64)
    copy_into(lin.weight, layer.weight)
    params = {"weight": (layer.weight, lin.weight)}
    if bias:
        copy_into(lin.bias, layer.bias)
        params["bias"] = (layer.bias, lin.bias)
    check_layer(layer, lin, rnd(2, 5, 4, seed=2), params)


def test_linear_default_init_is_pytorchs_uniform_bound():
    layer = nn.Linear(50, 40, seed=0)
    bound = 1 / math.sqrt(50)
    for p in (layer.weight, layer.bias):
        assert np.abs(p.data).max() <= bound
        assert np.abs(p.data).max() > 0.9 * bound
    assert layer.weight.dtype == np.float32


@pytest.mark.parametrize("cls, args", [(nn.Linear, (6, 4)), (lambda seed: nn.Conv2d(2, 4, 3, seed=seed), None),
                                       (lambda seed: nn.Conv1d(2, 4, 3, seed=seed), None)],
                         ids=["Linear", "Conv2d", "Conv1d"])
def test_seeded_init_draws_bias_independently_of_weight(cls, args):
    """A seeded layer must not reuse the weight's random stream for the bias (bias == the first
    entries of the flattened weight would correlate them)."""
    layer = cls(*args, seed=0) if args else cls(0)
    n = layer.bias.shape[0]
    assert not np.array_equal(layer.bias.data, layer.weight.data.reshape(-1)[:n]), \
        "bias equals the first entries of the weight: both drawn from the same seeded stream"


# -- convolutions -----------------------------------------------------------------------------------
CONV2D_CASES = [
    dict(kernel_size=3),
    dict(kernel_size=3, padding=1),
    dict(kernel_size=3, stride=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, dilation=2),
    dict(kernel_size=3, dilation=2, padding=2, stride=2),
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2)),
    dict(kernel_size=1),
    dict(kernel_size=3, padding=1, bias=False),
]


@pytest.mark.parametrize("kw", CONV2D_CASES, ids=[str(c) for c in CONV2D_CASES])
def test_conv2d_matches_torch(kw):
    layer = nn.Conv2d(3, 4, seed=0, dtype="float64", **kw)
    conv = torch.nn.Conv2d(3, 4, dtype=torch.float64, **kw)
    copy_into(conv.weight, layer.weight)
    params = {"weight": (layer.weight, conv.weight)}
    if kw.get("bias", True):
        copy_into(conv.bias, layer.bias)
        params["bias"] = (layer.bias, conv.bias)
    check_layer(layer, conv, rnd(2, 3, 9, 8, seed=3), params)


CONV1D_CASES = [
    dict(kernel_size=3),
    dict(kernel_size=3, padding=1),
    dict(kernel_size=3, stride=2),
    dict(kernel_size=3, dilation=3, padding=2),
    dict(kernel_size=4, stride=3, padding=2, dilation=2),
    dict(kernel_size=2, bias=False),
]


@pytest.mark.parametrize("kw", CONV1D_CASES, ids=[str(c) for c in CONV1D_CASES])
def test_conv1d_matches_torch(kw):
    layer = nn.Conv1d(3, 5, seed=0, dtype="float64", **kw)
    conv = torch.nn.Conv1d(3, 5, dtype=torch.float64, **kw)
    copy_into(conv.weight, layer.weight)
    params = {"weight": (layer.weight, conv.weight)}
    if kw.get("bias", True):
        copy_into(conv.bias, layer.bias)
        params["bias"] = (layer.bias, conv.bias)
    check_layer(layer, conv, rnd(2, 3, 13, seed=4), params)


def test_conv_wrong_channels_names_layer_and_shape():
    with pytest.raises(ValueError, match=r"Conv2d.*\(2, 4, 5, 5\)"):
        nn.Conv2d(3, 2, 3)(np.zeros((2, 4, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"Conv1d.*\(2, 4, 5\)"):
        nn.Conv1d(3, 2, 3)(np.zeros((2, 4, 5), np.float32))


# -- pooling ----------------------------------------------------------------------------------------
POOL_CASES = [dict(kernel_size=2), dict(kernel_size=3, stride=1), dict(kernel_size=3, stride=2, padding=1),
              dict(kernel_size=(2, 3), stride=(2, 1)), dict(kernel_size=2, stride=1, padding=1),
              dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0))]


@pytest.mark.parametrize("kw", POOL_CASES, ids=[str(c) for c in POOL_CASES])
def test_maxpool2d_matches_torch(kw):
    # distinct values: no ties, so the derivative is unique
    check_layer(nn.MaxPool2d(**kw), torch.nn.MaxPool2d(**kw), rnd(2, 3, 7, 6, seed=5), {})


@pytest.mark.parametrize("kw", POOL_CASES, ids=[str(c) for c in POOL_CASES])
def test_avgpool2d_matches_torch(kw):
    # PyTorch's default count_include_pad=True: zero padding counts in the mean
    check_layer(nn.AvgPool2d(**kw), torch.nn.AvgPool2d(**kw), rnd(2, 3, 7, 6, seed=6), {})


def test_maxpool2d_ties_under_torch_preset_route_to_first_element():
    x = np.array([[[[1.0, 1.0], [0.0, 1.0]]]])
    xk, xt_ = kt(x), tt(x)
    with kg.kinks("torch"):
        nn.MaxPool2d(2)(xk).sum().backward()
    F.max_pool2d(xt_, 2).sum().backward()
    close(xk.grad, xt_.grad)


def test_maxpool2d_ties_default_split_evenly():
    xk = kt(np.array([[[[1.0, 1.0], [0.0, 1.0]]]]))
    nn.MaxPool2d(2)(xk).sum().backward()
    np.testing.assert_allclose(xk.grad.data.ravel(), [1 / 3, 1 / 3, 0, 1 / 3], rtol=1e-15)


def test_flatten_matches_torch():
    check_layer(nn.Flatten(), torch.nn.Flatten(), rnd(3, 2, 4, 5, seed=7), {})


# -- batch norm ---------------------------------------------------------------------------------------
BN_CASES = [(nn.BatchNorm1d, torch.nn.BatchNorm1d, (16, 4)),
            (nn.BatchNorm1d, torch.nn.BatchNorm1d, (8, 4, 5)),
            (nn.BatchNorm2d, torch.nn.BatchNorm2d, (6, 4, 3, 5))]
BN_IDS = ["1d-NC", "1d-NCL", "2d-NCHW"]


def _bn_pair(cls, tcls, momentum=0.1, affine=True):
    layer = cls(4, momentum=momentum, affine=affine, dtype="float64")
    tl = tcls(4, momentum=momentum, affine=affine, dtype=torch.float64)
    if affine:
        layer.weight.data = rnd(4, seed=11) + 1.5
        layer.bias.data = rnd(4, seed=12)
        copy_into(tl.weight, layer.weight)
        copy_into(tl.bias, layer.bias)
    return layer, tl


@pytest.mark.parametrize("cls, tcls, shape", BN_CASES, ids=BN_IDS)
@pytest.mark.parametrize("momentum", [0.1, 0.3])
def test_batchnorm_train_mode_matches_torch(cls, tcls, shape, momentum):
    layer, tl = _bn_pair(cls, tcls, momentum)
    layer.train()
    tl.train()
    x = rnd(*shape, seed=8, scale=2.0) + 3.0
    check_layer(layer, tl, x, {"weight": (layer.weight, tl.weight), "bias": (layer.bias, tl.bias)})
    close(layer.running_mean, tl.running_mean, what="running_mean after 1 step")
    close(layer.running_var, tl.running_var, what="running_var (unbiased) after 1 step")
    for s in range(3):                                   # a few more steps on new batches
        xb = rnd(*shape, seed=20 + s) * (s + 1)
        layer(kt(xb, grad=False))
        tl(tt(xb, grad=False))
    close(layer.running_mean, tl.running_mean, what="running_mean after 4 steps")
    close(layer.running_var, tl.running_var, what="running_var after 4 steps")


@pytest.mark.parametrize("cls, tcls, shape", BN_CASES, ids=BN_IDS)
def test_batchnorm_eval_mode_uses_running_stats(cls, tcls, shape):
    layer, tl = _bn_pair(cls, tcls)
    for s in range(3):                                   # populate running statistics
        xb = rnd(*shape, seed=30 + s) * 2 + 1
        layer(kt(xb, grad=False))
        tl(tt(xb, grad=False))
    layer.eval()
    tl.eval()
    check_layer(layer, tl, rnd(*shape, seed=40), {"weight": (layer.weight, tl.weight), "bias": (layer.bias, tl.bias)})
    rm = layer.running_mean.copy()
    layer(kt(rnd(*shape, seed=41)))
    np.testing.assert_array_equal(layer.running_mean, rm)   # eval does not update statistics


def test_batchnorm_without_affine_matches_torch():
    layer, tl = _bn_pair(nn.BatchNorm2d, torch.nn.BatchNorm2d, affine=False)
    assert layer.parameters() == []
    check_layer(layer, tl, rnd(4, 4, 3, 3, seed=9), {})


def test_batchnorm_running_stats_are_buffers_in_state_dict():
    layer = nn.BatchNorm1d(3)
    sd = layer.state_dict()
    assert set(sd) == {"weight", "bias", "running_mean", "running_var"}
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]


def test_batchnorm_wrong_features_raises():
    with pytest.raises(ValueError, match=r"BatchNorm1d.*3.*\(5, 4\)"):
        nn.BatchNorm1d(3)(np.zeros((5, 4), np.float32))


# -- layer norm ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, norm", [((4, 6), 6), ((2, 3, 6), (6,)), ((2, 3, 4, 5), (4, 5))])
@pytest.mark.parametrize("affine", [True, False])
def test_layernorm_matches_torch(shape, norm, affine):
    layer = nn.LayerNorm(norm, elementwise_affine=affine, dtype="float64")
    tl = torch.nn.LayerNorm(norm, elementwise_affine=affine, dtype=torch.float64)
    params = {}
    if affine:
        layer.weight.data = rnd(*layer.normalized_shape, seed=13) + 1
        layer.bias.data = rnd(*layer.normalized_shape, seed=14)
        copy_into(tl.weight, layer.weight)
        copy_into(tl.bias, layer.bias)
        params = {"weight": (layer.weight, tl.weight), "bias": (layer.bias, tl.bias)}
    check_layer(layer, tl, rnd(*shape, seed=15, scale=3.0) + 2, params)


# -- embedding ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("idx", [np.array([1, 3, 1, 1, 0, 3]), np.array([[2, 2, 4], [4, 2, 0]])], ids=["1d", "2d"])
def test_embedding_matches_torch_with_repeated_indices(idx):
    layer = nn.Embedding(5, 3, seed=0, dtype="float64")
    emb = torch.nn.Embedding(5, 3, dtype=torch.float64)
    copy_into(emb.weight, layer.weight)
    yk, yt = layer(idx), emb(torch.tensor(idx))
    close(yk, yt)
    backprop_both(yk, yt)
    close(layer.weight.grad, emb.weight.grad)    # repeated rows accumulate
    unused = sorted(set(range(5)) - set(idx.ravel().tolist()))
    assert np.all(layer.weight.grad.data[unused] == 0)


def test_embedding_rejects_bad_indices():
    layer = nn.Embedding(4, 2)
    with pytest.raises(TypeError, match="integers"):
        layer(np.array([0.0, 1.0]))
    with pytest.raises(IndexError, match=r"\[0, 4\)"):
        layer(np.array([0, 4]))


# -- dropout --------------------------------------------------------------------------------------------
def test_dropout_eval_is_identity_with_identity_gradient():
    layer = nn.Dropout(0.5, seed=0).eval()
    x = kt(rnd(10, 7))
    y = layer(x)
    np.testing.assert_array_equal(y.data, x.data)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.ones((10, 7)))


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_dropout_train_keeps_expectation_and_zeroes_rate(rate):
    layer = nn.Dropout(rate, seed=1).train()
    x = kt(np.full((400, 500), 2.0))
    y = layer(x)
    dropped = np.mean(y.data == 0)
    assert abs(dropped - rate) < 0.01
    kept = y.data[y.data != 0]
    np.testing.assert_allclose(kept, 2.0 / (1 - rate), rtol=1e-12)     # inverted dropout scaling
    assert abs(y.data.mean() - 2.0) < 0.05 * 2.0 / (1 - rate)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, (y.data != 0) / (1 - rate), rtol=1e-12)  # same mask in backward


def test_dropout_seeded_is_reproducible_and_rate_zero_is_identity():
    a = nn.Dropout(0.3, seed=5)(kt(np.ones((50, 50)))).data
    b = nn.Dropout(0.3, seed=5)(kt(np.ones((50, 50)))).data
    np.testing.assert_array_equal(a, b)
    x = kt(rnd(4, 4))
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).data, x.data)
    with pytest.raises(ValueError, match="rate"):
        nn.Dropout(1.0)


# -- activations --------------------------------------------------------------------------------------
ACTIVATION_LAYERS = [
    ("ReLU", {}, F.relu),
    ("LeakyReLU", {}, F.leaky_relu),
    ("LeakyReLU", {"negative_slope": 0.2}, lambda x: F.leaky_relu(x, 0.2)),
    ("ELU", {}, F.elu),
    ("ELU", {"alpha": 0.5}, lambda x: F.elu(x, 0.5)),
    ("SELU", {}, F.selu),
    ("CELU", {"alpha": 0.7}, lambda x: F.celu(x, 0.7)),
    ("GELU", {}, F.gelu),
    ("GELU", {"approximate": "tanh"}, lambda x: F.gelu(x, approximate="tanh")),
    ("SiLU", {}, F.silu),
    ("Swish", {}, F.silu),
    ("Mish", {}, F.mish),
    ("Softplus", {}, F.softplus),
    ("Softplus", {"beta": 2.0}, lambda x: F.softplus(x, beta=2.0)),
    ("Sigmoid", {}, torch.sigmoid),
    ("Tanh", {}, torch.tanh),
    ("ReLU6", {}, F.relu6),
    ("Hardtanh", {}, F.hardtanh),
    ("Hardtanh", {"min_val": -2.0, "max_val": 0.5}, lambda x: F.hardtanh(x, -2.0, 0.5)),
    ("Hardswish", {}, F.hardswish),
    ("Hardsigmoid", {}, F.hardsigmoid),
    ("Softmax", {}, lambda x: F.softmax(x, dim=-1)),
    ("Softmax", {"axis": 1}, lambda x: F.softmax(x, dim=1)),
]
ACT_IDS = [f"{n}{kw or ''}" for n, kw, _ in ACTIVATION_LAYERS]


def _act_input(seed=16):
    # values spread over [-8, 8], kept away from every kink point (0, +-1, +-3, 6, 0.5, -2)
    x = rnd(3, 4, 25, seed=seed, scale=3.0)
    for k in (0.0, 1.0, -1.0, 3.0, -3.0, 6.0, 0.5, -2.0):
        x = np.where(np.abs(x - k) < 1e-3, x + 2e-3, x)
    return x


# PyTorch's float64 CELU and Hardsigmoid backward kernels use float32 constants (1.0f / 6.0f, and a
# float32 input scale 1/alpha in CELU): their derivatives are off by ~3e-8 and ~2e-7 relative. These
# two are compared with PyTorch at rtol 1e-6 and with the exact formulas below.
TORCH_F32_CONSTANTS = {"CELU", "Hardsigmoid", "celu", "hardsigmoid"}


def _torch_rtol(name):
    return 1e-6 if name in TORCH_F32_CONSTANTS else RTOL


@pytest.mark.parametrize("name, kw, tfn", ACTIVATION_LAYERS, ids=ACT_IDS)
def test_activation_layer_matches_torch(name, kw, tfn):
    check_layer(getattr(nn, name)(**kw), tfn, _act_input(), {}, rtol=_torch_rtol(name))


def test_celu_and_hardsigmoid_derivatives_are_exact_in_float64():
    x = _act_input(19)
    xk = kt(x)
    nn.CELU(alpha=0.7)(xk).sum().backward()
    np.testing.assert_allclose(xk.grad.data, np.where(x > 0, 1.0, np.exp(x / 0.7)), rtol=1e-11, atol=1e-16)
    xk = kt(x)
    nn.Hardsigmoid()(xk).sum().backward()
    np.testing.assert_allclose(xk.grad.data, np.where(np.abs(x) < 3, 1 / 6, 0.0), rtol=1e-15)


ACTIVATION_NAMES = [("relu", F.relu), ("leaky_relu", F.leaky_relu), ("elu", F.elu), ("selu", F.selu),
                    ("celu", F.celu), ("gelu", F.gelu), ("silu", F.silu), ("swish", F.silu), ("mish", F.mish),
                    ("softplus", F.softplus), ("softsign", F.softsign), ("sigmoid", torch.sigmoid),
                    ("tanh", torch.tanh), ("relu6", F.relu6), ("hardtanh", F.hardtanh),
                    ("hardswish", F.hardswish), ("hardsigmoid", F.hardsigmoid),
                    ("softmax", lambda x: F.softmax(x, -1)), ("log_softmax", lambda x: F.log_softmax(x, -1)),
                    ("linear", lambda x: x)]


@pytest.mark.parametrize("name, tfn", ACTIVATION_NAMES, ids=[n for n, _ in ACTIVATION_NAMES])
def test_activation_by_name_matches_torch(name, tfn):
    check_layer(nn.Activation(name), tfn, _act_input(17), {}, rtol=_torch_rtol(name))


def test_unknown_activation_lists_choices():
    with pytest.raises(ValueError, match="relu"):
        nn.Activation("rleu")
    with pytest.raises(ValueError, match="unknown activation"):
        nn.Dense(3, activation="nope")


KINK_POINTS = np.array([-3.0, -2.0, -1.0, 0.0, 0.5, 1.0, 3.0, 6.0])


@pytest.mark.parametrize("name, kw, tfn", [a for a in ACTIVATION_LAYERS if a[0] != "Softmax"],
                         ids=[i for i, a in zip(ACT_IDS, ACTIVATION_LAYERS) if a[0] != "Softmax"])
def test_activation_layer_at_kinks_under_torch_preset(name, kw, tfn):
    """At the kink points themselves the ``torch`` preset must give PyTorch's one-sided choices."""
    xk, xt_ = kt(KINK_POINTS), tt(KINK_POINTS)
    with kg.kinks("torch"):
        yk = getattr(nn, name)(**kw)(xk)
        yk.sum().backward()
    tfn(xt_).sum().backward()
    close(yk, tfn(tt(KINK_POINTS, grad=False)), what="value")
    close(xk.grad, xt_.grad, rtol=_torch_rtol(name), what="derivative at kinks")


# -- optimizers vs torch.optim --------------------------------------------------------------------------
OPTIMIZERS = [
    ("SGD", {"lr": 0.1}, torch.optim.SGD, {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}, torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True}, torch.optim.SGD,
     {"lr": 0.05, "momentum": 0.8, "nesterov": True}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.01}, torch.optim.SGD, {"lr": 0.1, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.05}, torch.optim.SGD,
     {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.05}),
    ("Adam", {"lr": 0.01}, torch.optim.Adam, {"lr": 0.01}),
    ("Adam", {"lr": 0.02, "betas": (0.8, 0.95), "eps": 1e-6}, torch.optim.Adam,
     {"lr": 0.02, "betas": (0.8, 0.95), "eps": 1e-6}),
    ("Adam", {"learning_rate": 0.02, "beta_1": 0.8, "beta_2": 0.95, "epsilon": 1e-6}, torch.optim.Adam,
     {"lr": 0.02, "betas": (0.8, 0.95), "eps": 1e-6}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}, torch.optim.Adam, {"lr": 0.01, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01}, torch.optim.AdamW, {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.2}, torch.optim.AdamW, {"lr": 0.01, "weight_decay": 0.2}),
    ("RMSprop", {"lr": 0.01}, torch.optim.RMSprop, {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "rho": 0.9, "momentum": 0.5, "weight_decay": 0.01}, torch.optim.RMSprop,
     {"lr": 0.01, "alpha": 0.9, "momentum": 0.5, "weight_decay": 0.01}),
    ("Adagrad", {"lr": 0.1}, torch.optim.Adagrad, {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.1, "weight_decay": 0.01}, torch.optim.Adagrad,
     {"lr": 0.1, "initial_accumulator_value": 0.1, "weight_decay": 0.01}),
]
OPT_IDS = [f"{n}{kw}" for n, kw, _, _ in OPTIMIZERS]


def _objective(lib, ps):
    """A non-quadratic loss so every step sees a different gradient."""
    a, b = ps
    if lib is kg:
        return ((a - 1.0) ** 2).sum() + kg.sin(a).sum() * 0.5 + (b * b * b).sum() * 0.1 + (a[:3] * b).sum()
    return ((a - 1.0) ** 2).sum() + torch.sin(a).sum() * 0.5 + (b * b * b).sum() * 0.1 + (a[:3] * b).sum()


@pytest.mark.parametrize("name, kw, tcls, tkw", OPTIMIZERS, ids=OPT_IDS)
def test_optimizer_steps_match_torch(name, kw, tcls, tkw):
    a0, b0 = rnd(5, seed=21), rnd(3, seed=22)
    pk = [nn.Parameter(a0.copy()), nn.Parameter(b0.copy())]
    pt = [torch.nn.Parameter(torch.tensor(a0)), torch.nn.Parameter(torch.tensor(b0))]
    opt_k, opt_t = getattr(optim, name)(pk, **kw), tcls(pt, **tkw)
    for step in range(8):
        opt_k.zero_grad()
        opt_t.zero_grad()
        _objective(kg, pk).backward()
        _objective(torch, pt).backward()
        opt_k.step()
        opt_t.step()
        for i in range(2):
            close(pk[i], pt[i], rtol=1e-12, atol=1e-14, what=f"{name} param {i} after step {step + 1}")
    assert opt_k.steps == 8
    assert pk[0].dtype == np.float64


def test_optimizer_skips_params_without_grad_and_zero_grad_clears():
    p, q = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    opt = optim.SGD([p, q], lr=0.5)
    (p * p).sum().backward()
    opt.step()
    np.testing.assert_array_equal(p.data, [0.0, 0.0])
    np.testing.assert_array_equal(q.data, [1.0, 1.0])
    opt.zero_grad()
    assert p.grad is None and q.grad is None


def test_optimizer_state_dict_round_trip_continues_identically():
    def run(split):
        p = nn.Parameter(rnd(4, seed=1))
        opt = optim.Adam([p], lr=0.05)
        for s in range(6):
            if s == 3 and split:
                sd = opt.state_dict()
                opt = optim.Adam([p], lr=0.05)
                opt.load_state_dict(sd)
            opt.zero_grad()
            (kg.sin(p) * p).sum().backward()
            opt.step()
        return p.data
    np.testing.assert_array_equal(run(False), run(True))


def test_optimizer_rejects_bad_arguments():
    with pytest.raises(ValueError, match="lr"):
        optim.SGD([nn.Parameter(np.ones(1))], lr=0)
    with pytest.raises(TypeError, match="unknown argument 'beta1'.*betas"):
        optim.Adam([nn.Parameter(np.ones(1))], beta1=0.9)
    with pytest.raises(RuntimeError, match="no parameters"):
        optim.SGD(lr=0.1).step()
    with pytest.raises(ValueError, match="unknown optimizer"):
        optim.get("adamax")


def test_optimizer_nan_gradient_raises():
    p = nn.Parameter(np.ones(2))
    opt = optim.SGD([p], lr=0.1)
    (p * np.array([np.nan, 1.0])).sum().backward()
    with pytest.raises(FloatingPointError, match="NaN"):
        opt.step()


@pytest.mark.parametrize("max_norm", [0.5, 3.0, 100.0])
def test_clip_grad_norm_matches_torch(max_norm):
    g = [rnd(3, 4, seed=31), rnd(5, seed=32)]
    pk = [nn.Parameter(np.zeros_like(x)) for x in g]
    pt = [torch.nn.Parameter(torch.zeros(x.shape, dtype=torch.float64)) for x in g]
    for p, x in zip(pk, g):
        p.grad = kg.tensor(x.copy())
    for p, x in zip(pt, g):
        p.grad = torch.tensor(x.copy())
    nk = optim.clip_grad_norm_(pk, max_norm)
    nt = torch.nn.utils.clip_grad_norm_(pt, max_norm)
    np.testing.assert_allclose(nk, float(nt), rtol=1e-14)
    for a, b in zip(pk, pt):
        close(a.grad, b.grad, rtol=1e-6, atol=0)   # torch divides by norm + 1e-6
    total = math.sqrt(sum(float((p.grad.data ** 2).sum()) for p in pk))
    assert total <= max_norm * (1 + 1e-9)


def test_clip_grad_value_matches_torch():
    g = rnd(4, 5, seed=33) * 3
    pk, pt = nn.Parameter(np.zeros_like(g)), torch.nn.Parameter(torch.zeros(4, 5, dtype=torch.float64))
    pk.grad, pt.grad = kg.tensor(g.copy()), torch.tensor(g.copy())
    optim.clip_grad_value_([pk], 1.5)
    torch.nn.utils.clip_grad_value_([pt], 1.5)
    close(pk.grad, pt.grad, rtol=0, atol=0)


def test_optimizer_clipnorm_clips_before_update():
    p = nn.Parameter(np.zeros(2))
    opt = optim.SGD([p], lr=1.0, clipnorm=1.0)
    (p * np.array([3.0, 4.0])).sum().backward()
    opt.step()
    np.testing.assert_allclose(p.data, [-0.6, -0.8], rtol=1e-10)


def _torch_lrs(make_sched, n, lr=0.1):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr)
    sched = make_sched(opt)
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(out)


def test_schedules_match_torch_lr_schedulers():
    n = 30
    lrs = lambda s: np.array([s(i) for i in range(n)])        # noqa: E731
    np.testing.assert_allclose(lrs(optim.step_lr(0.1, 7, gamma=0.5)),
                               _torch_lrs(lambda o: torch.optim.lr_scheduler.StepLR(o, 7, gamma=0.5), n), rtol=1e-12)
    np.testing.assert_allclose(lrs(optim.exponential_lr(0.1, 0.9)),
                               _torch_lrs(lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.9), n), rtol=1e-12)
    np.testing.assert_allclose(
        lrs(optim.cosine_lr(0.1, 20, eta_min=0.01))[:21],
        _torch_lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 20, eta_min=0.01), 21), rtol=1e-10)


def test_schedule_values():
    c = optim.cosine_lr(1.0, 10)
    assert c(0) == 1.0 and abs(c(5) - 0.5) < 1e-15 and c(10) == 0.0 and c(25) == 0.0   # held after the end
    w = optim.warmup(0.4, 4)
    assert [w(i) for i in range(6)] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.4, 0.4], rel=1e-15)
    w2 = optim.warmup(optim.step_lr(1.0, 2, 0.5), 2)
    assert [w2(i) for i in range(7)] == pytest.approx([0.5, 1.0, 1.0, 1.0, 0.5, 0.5, 0.25], rel=1e-15)


def test_optimizer_with_schedule_matches_torch_scheduler():
    x0 = rnd(4, seed=34)
    pk, pt = nn.Parameter(x0.copy()), torch.nn.Parameter(torch.tensor(x0))
    ok = optim.SGD([pk], lr=optim.step_lr(0.2, 2, 0.5), momentum=0.5)
    ot = torch.optim.SGD([pt], lr=0.2, momentum=0.5)
    st = torch.optim.lr_scheduler.StepLR(ot, 2, 0.5)
    for _ in range(7):
        ok.zero_grad()
        ot.zero_grad()
        (kg.cos(pk) * pk).sum().backward()
        (torch.cos(pt) * pt).sum().backward()
        ok.step()
        ot.step()
        st.step()
        close(pk, pt, rtol=1e-12)


# -- Module behaviour -----------------------------------------------------------------------------------
class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4, seed=1)
        self.norm = nn.BatchNorm1d(4)

    def forward(self, x):
        return self.norm(self.fc(x))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(1))
        self.blocks = [Block(), Block()]
        self.heads = {"a": nn.Dense(2, input_shape=(4,), seed=2), "b": nn.Dropout(0.5)}
        self.not_a_param = np.zeros(3)

    def forward(self, x):
        for b in self.blocks:
            x = nn.ReLU()(b(x * self.scale)) if x.shape[-1] == 3 else b.norm(x)
        return self.heads["a"](self.heads["b"](x))


def test_parameters_found_by_walking_attributes():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "blocks.0.fc.weight", "blocks.0.fc.bias", "blocks.0.norm.weight",
                     "blocks.0.norm.bias", "blocks.1.fc.weight", "blocks.1.fc.bias", "blocks.1.norm.weight",
                     "blocks.1.norm.bias", "heads.a.kernel", "heads.a.bias"]
    assert len(net.parameters()) == len(names)
    assert len({id(p) for p in net.parameters()}) == len(names)
    assert [n for n, _ in net.named_buffers()] == ["blocks.0.norm.running_mean", "blocks.0.norm.running_var",
                                                  "blocks.1.norm.running_mean", "blocks.1.norm.running_var"]
    assert len(list(net.modules())) == 1 + 2 * 3 + 2


def test_shared_parameters_and_modules_are_counted_once():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Linear(3, 3, seed=0)
            self.dec = self.enc                       # the same module twice
            self.extra = [self.enc.weight]            # not a module: ignored
            self.alias = self.enc.bias                # the same parameter under a direct name

    t = Tied()
    assert len(t.parameters()) == 2
    assert [n for n, _ in t.named_parameters()] == ["alias", "enc.weight"]   # own attributes first (as PyTorch)


def test_gradients_reach_every_parameter_of_a_nested_module():
    net = Net()
    net.heads["b"].eval()
    out = net(kg.tensor(rnd(6, 3).astype(np.float32)))
    out.sum().backward()
    for name, p in net.named_parameters():
        if name.startswith("blocks.1.fc"):
            continue                  # blocks.1.fc is not on the forward path above
        assert p.grad is not None, name
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_state_dict_round_trip_includes_buffers():
    a, b = Net(), Net()
    a(kg.tensor(rnd(8, 3).astype(np.float32)))          # move running stats
    for p in a.parameters():
        p.data = p.data + 0.25
    sd = a.state_dict()
    assert "blocks.0.norm.running_mean" in sd
    b.load_state_dict(sd)
    for (n, x), (m, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert n == m
        np.testing.assert_array_equal(x, y)
    sd["scale"][0] = 99.0                               # state_dict holds copies
    assert a.scale.data[0] != 99.0


def test_load_state_dict_lists_every_offending_name_and_shape():
    net = Net()
    sd = net.state_dict()
    before = net.state_dict()
    sd["blocks.0.fc.weight"] = np.zeros((5, 3), np.float32)
    sd["heads.a.kernel"] = np.zeros((4, 7), np.float32)
    sd["blocks.1.norm.running_var"] = np.zeros(9, np.float32)
    del sd["blocks.1.fc.bias"]
    sd["extra.weight"] = np.zeros(2, np.float32)
    with pytest.raises(ValueError) as info:
        net.load_state_dict(sd)
    msg = str(info.value)
    for needle in ["blocks.0.fc.weight", "(5, 3)", "(4, 3)", "heads.a.kernel", "(4, 7)", "(4, 2)",
                   "blocks.1.norm.running_var", "(9,)", "blocks.1.fc.bias", "missing", "extra.weight"]:
        assert needle in msg, f"{needle!r} not in {msg}"
    for k, v in net.state_dict().items():                # nothing was half-loaded
        np.testing.assert_array_equal(v, before[k], err_msg=k)


def test_state_dict_round_trip_with_buffers_inside_dict_and_list_children():
    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.norms = {"a": nn.BatchNorm1d(2)}
            self.stack = [nn.BatchNorm1d(2)]

    src, dst = Holder(), Holder()
    src.norms["a"].running_mean = np.array([1.0, 2.0], np.float32)
    src.stack[0].running_var = np.array([3.0, 4.0], np.float32)
    dst.load_state_dict(src.state_dict())
    np.testing.assert_array_equal(dst.norms["a"].running_mean, [1.0, 2.0])
    np.testing.assert_array_equal(dst.stack[0].running_var, [3.0, 4.0])


def test_load_state_dict_non_strict_ignores_missing_and_unexpected():
    net = Block()
    sd = {"fc.bias": np.full(4, 7.0, np.float32), "other": np.zeros(1)}
    net.load_state_dict(sd, strict=False)
    np.testing.assert_array_equal(net.fc.bias.data, np.full(4, 7.0))


def test_train_eval_propagate_to_nested_modules():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.train(False)
    assert not net.heads["b"].training and not net.blocks[1].norm.training


def test_sequential_eval_switches_dropout_and_batchnorm():
    model = nn.Sequential([nn.Dense(6, input_shape=(3,), seed=0), nn.BatchNorm1d(6), nn.Dropout(0.5, seed=0)])
    x = rnd(10, 3).astype(np.float32)
    model.eval()
    a, b = model(x).data, model(x).data
    np.testing.assert_array_equal(a, b)
    model.train()
    assert not np.array_equal(model(x).data, a)


def _config_cases():
    return [
        nn.Dense(4, activation="relu", input_shape=(3,), seed=3, dtype="float64"),
        nn.Dense(4, use_bias=False, kernel_initializer="he_normal", seed=1),
        nn.Linear(3, 4, bias=False, seed=2, dtype="float64"),
        nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2), seed=4, dtype="float64"),
        nn.Conv1d(2, 3, 3, stride=2, padding=1, dilation=2, seed=5),
        nn.MaxPool2d(3, stride=2, padding=1),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.3, seed=4),
        nn.BatchNorm1d(5, eps=1e-3, momentum=0.2, dtype="float64"),
        nn.BatchNorm2d(3, affine=False),
        nn.LayerNorm((2, 3), eps=1e-6, dtype="float64"),
        nn.Embedding(7, 2, seed=6, dtype="float64"),
        nn.Activation("gelu"),
        nn.LeakyReLU(negative_slope=0.3),
        nn.ELU(alpha=0.5),
        nn.Hardtanh(min_val=-2.0, max_val=2.0),
        nn.Softmax(axis=1),
        nn.GELU(approximate="tanh"),
        nn.ReLU(), nn.SELU(), nn.SiLU(), nn.Mish(), nn.Softplus(), nn.Sigmoid(), nn.Tanh(), nn.ReLU6(),
        nn.Hardswish(), nn.Hardsigmoid(), nn.CELU(alpha=2.0),
    ]


@pytest.mark.parametrize("layer", _config_cases(), ids=lambda m: f"{type(m).__name__}{m.get_config()}")
def test_get_config_from_config_round_trip(layer):
    cfg = layer.get_config()
    clone = type(layer).from_config(cfg)
    assert type(clone) is type(layer)
    assert clone.get_config() == cfg
    if not layer.built:                                        # a Dense without an input size: build both the same
        layer.build(3)
        clone.build(3)
    own, other = layer.state_dict(), clone.state_dict()
    assert list(own) == list(other)
    for k in own:
        assert other[k].shape == own[k].shape, k
        assert other[k].dtype == own[k].dtype, f"{k}: dtype {other[k].dtype} after round trip, was {own[k].dtype}"
        if getattr(layer, "seed", None) is not None:          # a seeded layer rebuilds the same weights
            np.testing.assert_array_equal(other[k], own[k], err_msg=k)


def test_module_repr_lists_children():
    r = repr(nn.Sequential([nn.Dense(2, input_shape=(3,)), nn.ReLU()]))
    assert "Dense(units=2" in r and "ReLU()" in r


# -- a custom layer with only `call` (seed 003's Swish) ---------------------------------------------------
class Swish(nn.Layer):
    """The Keras way: only ``call``, no gradient code."""

    def call(self, x):
        return x * kg.sigmoid(x)


def test_custom_call_only_layer_differentiates_like_torch_silu():
    check_layer(Swish(), F.silu, _act_input(18), {})


def test_custom_layer_trains_without_gradient_code():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 4)).astype(np.float32)
    Y = (X @ np.array([[1.0], [-2.0], [0.5], [0.0]]) + np.sin(X[:, :1])).astype(np.float32)
    model = nn.Sequential([nn.Linear(4, 16, seed=0), Swish(), nn.Linear(16, 1, seed=1)])
    opt = optim.Adam(model.parameters(), lr=0.01)
    first = None
    for _ in range(100):
        opt.zero_grad()
        loss = losses.mse(Y, model(X))
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.1 * first


def test_module_without_forward_or_call_says_so():
    class Empty(nn.Module):
        pass
    with pytest.raises(NotImplementedError, match="forward"):
        Empty()(np.zeros(1))


# -- losses vs torch ------------------------------------------------------------------------------------
def _reg_data(shape=(6, 3)):
    t = rnd(*shape, seed=41)
    p = t + rnd(*shape, seed=42) * 1.5       # residuals on both sides of the huber/smooth-l1 thresholds
    return t, p


REGRESSION = [
    ("mse", {}, lambda p, t, r: F.mse_loss(p, t, reduction=r)),
    ("mae", {}, lambda p, t, r: F.l1_loss(p, t, reduction=r)),
    ("huber", {}, lambda p, t, r: F.huber_loss(p, t, reduction=r)),
    ("huber", {"delta": 0.5}, lambda p, t, r: F.huber_loss(p, t, reduction=r, delta=0.5)),
    ("smooth_l1", {}, lambda p, t, r: F.smooth_l1_loss(p, t, reduction=r)),
    ("smooth_l1", {"beta": 0.3}, lambda p, t, r: F.smooth_l1_loss(p, t, reduction=r, beta=0.3)),
    ("smooth_l1", {"beta": 0.0}, lambda p, t, r: F.smooth_l1_loss(p, t, reduction=r, beta=0.0)),
    ("log_cosh", {}, lambda p, t, r: _red(torch.log(torch.cosh(p - t)), r)),
    ("quantile", {"q": 0.2}, lambda p, t, r: _red(torch.maximum(0.2 * (t - p), (0.2 - 1) * (t - p)), r)),
    ("pseudo_huber", {"delta": 2.0}, lambda p, t, r: _red(4.0 * (torch.sqrt(1 + ((p - t) / 2) ** 2) - 1), r)),
]


def _red(v, r):
    return v.mean() if r == "mean" else v.sum()


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("name, kw, tfn", REGRESSION, ids=[f"{n}{kw or ''}" for n, kw, _ in REGRESSION])
def test_regression_loss_matches_torch(name, kw, tfn, reduction):
    t, p = _reg_data()
    pk, pt = kt(p), tt(p)
    lk = getattr(losses, name)(t, pk, reduction=reduction, **kw)
    lt = tfn(pt, tt(t, grad=False), reduction)
    close(lk, lt, what="value")
    lk.backward()
    lt.backward()
    close(pk.grad, pt.grad, what="d/dy_pred")


def test_loss_reduction_none_and_bad_reduction():
    t, p = _reg_data()
    close(losses.mse(t, kt(p), reduction="none"), (p - t) ** 2)
    with pytest.raises(ValueError, match="reduction"):
        losses.mse(t, kt(p), reduction="avg")
    with pytest.raises(ValueError, match=r"mse.*\(6, 3\).*\(6, 1\)"):
        losses.mse(t, kt(p[:, :1]))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("labels01", [True, False])
def test_hinge_matches_torch_formula(reduction, labels01):
    y = (rnd(8, 1, seed=43) > 0).astype(np.float64)
    s = rnd(8, 1, seed=44) * 2
    yt_pm = 2 * y - 1
    pk, pt = kt(s), tt(s)
    lk = losses.hinge(y if labels01 else yt_pm, pk, reduction=reduction)
    lt = _red(torch.clamp(1 - torch.tensor(yt_pm) * pt, min=0), reduction)
    close(lk, lt)
    lk.backward()
    lt.backward()
    close(pk.grad, pt.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_binary_crossentropy_from_logits_matches_torch(reduction, smoothing):
    y = (rnd(10, 1, seed=45) > 0).astype(np.float64)
    z = rnd(10, 1, seed=46) * 4
    zk, zt = kt(z), tt(z)
    lk = losses.binary_crossentropy(y, zk, from_logits=True, label_smoothing=smoothing, reduction=reduction)
    ys = y * (1 - smoothing) + 0.5 * smoothing
    lt = F.binary_cross_entropy_with_logits(zt, torch.tensor(ys), reduction=reduction)
    close(lk, lt)
    lk.backward()
    lt.backward()
    close(zk.grad, zt.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_binary_crossentropy_on_probabilities_matches_torch(reduction):
    y = (rnd(10, 2, seed=47) > 0).astype(np.float64)
    p = 1 / (1 + np.exp(-rnd(10, 2, seed=48)))          # in (0.05, 0.95): away from the clipping
    pk, pt = kt(p), tt(p)
    lk = losses.binary_crossentropy(y, pk, reduction=reduction)
    lt = F.binary_cross_entropy(pt, torch.tensor(y), reduction=reduction)
    close(lk, lt)
    lk.backward()
    lt.backward()
    close(pk.grad, pt.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("label_shape", ["N", "N1", "float"])
def test_sparse_categorical_crossentropy_matches_torch_cross_entropy(reduction, smoothing, label_shape):
    z = rnd(12, 5, seed=49) * 3
    y = np.random.default_rng(50).integers(0, 5, 12)
    yk = {"N": y, "N1": y.reshape(-1, 1), "float": y.astype(np.float32)}[label_shape]
    zk, zt = kt(z), tt(z)
    lk = losses.sparse_categorical_crossentropy(yk, zk, from_logits=True, label_smoothing=smoothing,
                                                reduction=reduction)
    lt = F.cross_entropy(zt, torch.tensor(y), label_smoothing=smoothing, reduction=reduction)
    close(lk, lt)
    lk.backward()
    lt.backward()
    close(zk.grad, zt.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_sparse_categorical_crossentropy_on_probabilities_matches_nll(reduction):
    p = np.exp(rnd(7, 4, seed=51))
    p /= p.sum(1, keepdims=True)
    y = np.random.default_rng(52).integers(0, 4, 7)
    pk, pt = kt(p), tt(p)
    lk = losses.sparse_categorical_crossentropy(y, pk, reduction=reduction)
    lt = F.nll_loss(torch.log(pt), torch.tensor(y), reduction=reduction)
    close(lk, lt)
    lk.backward()
    lt.backward()
    close(pk.grad, pt.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("smoothing", [0.0, 0.15])
@pytest.mark.parametrize("soft", [False, True], ids=["onehot", "soft"])
def test_categorical_crossentropy_matches_torch(reduction, smoothing, soft):
    z = rnd(9, 4, seed=53) * 2
    if soft:
        y = np.exp(rnd(9, 4, seed=54))
        y /= y.sum(1, keepdims=True)
    else:
        y = np.eye(4)[np.random.default_rng(55).integers(0, 4, 9)]
    zk, zt = kt(z), tt(z)
    lk = losses.categorical_crossentropy(y, zk, from_logits=True, label_smoothing=smoothing, reduction=reduction)
    lt = F.cross_entropy(zt, torch.tensor(y), label_smoothing=smoothing, reduction=reduction)
    close(lk, lt)
    lk.backward()
    lt.backward()
    close(zk.grad, zt.grad)
    # the same from probabilities
    pk = kt(np.exp(z) / np.exp(z).sum(1, keepdims=True))
    lp = losses.categorical_crossentropy(y, pk, label_smoothing=smoothing, reduction=reduction)
    close(lp, lk)


@pytest.mark.parametrize("reduction, treduction", [("mean", "batchmean"), ("sum", "sum")])
def test_kl_div_matches_torch(reduction, treduction):
    t = np.exp(rnd(6, 5, seed=56))
    t /= t.sum(1, keepdims=True)
    t[0, 1] = 0.0                                         # 0 log 0 = 0
    t[0] /= t[0].sum()
    q = np.exp(rnd(6, 5, seed=57))
    q /= q.sum(1, keepdims=True)
    qk, qt = kt(q), tt(q)
    lk = losses.kl_div(t, qk, reduction=reduction)
    lt = F.kl_div(torch.log(qt), torch.tensor(t), reduction=treduction)
    close(lk, lt)
    lk.backward()
    lt.backward()
    close(qk.grad, qt.grad)


def test_sparse_ce_rejects_bad_labels():
    z = kt(rnd(4, 3))
    with pytest.raises(TypeError, match="integers"):
        losses.sparse_categorical_crossentropy(np.array([0.5, 1, 2, 0]), z, from_logits=True)
    with pytest.raises(ValueError, match=r"\(4, 3\)"):
        losses.sparse_categorical_crossentropy(np.zeros((4, 3), np.int64), z, from_logits=True)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        losses.sparse_categorical_crossentropy(np.array([0, 1, 3, 0]), z, from_logits=True)


def test_loss_and_metric_lookup_by_name():
    assert losses.get("mean_squared_error") is losses.mse
    assert losses.get("mae") is losses.mae
    with pytest.raises(ValueError, match="unknown loss"):
        losses.get("msee")
    from kinkgrad import metrics
    y = np.array([0, 2, 1, 1])
    s = np.array([[0.9, 0.05, 0.05], [0.1, 0.2, 0.7], [0.3, 0.4, 0.3], [0.6, 0.3, 0.1]])
    assert metrics.accuracy(y, s) == 0.75
    assert metrics.accuracy(np.eye(3)[y], s) == 0.75
    assert metrics.accuracy(np.array([1, 0, 1]), np.array([[0.7], [0.2], [0.4]])) == pytest.approx(2 / 3)
    assert metrics.mae(np.array([1.0, 2.0]), np.array([2.0, 0.0])) == 1.5
    assert metrics.mse(np.array([1.0, 2.0]), np.array([2.0, 0.0])) == 2.5


@pytest.mark.parametrize("preset", [None, "torch"])
def test_conv_relu_pool_stack_matches_torch(preset):
    # the layouts a CNN step mixes: convolutions store channels-last, the flatten's cotangent comes
    # back channel-major, and relu's zeros make whole pooling windows tie (at slope 0 either way)
    x = rnd(3, 2, 8, 8, seed=7)
    ws = [rnd(6, 2, 3, 3, seed=8), rnd(6, seed=9), rnd(5, 6, 3, 3, seed=10), rnd(5, seed=11),
          rnd(5 * 2 * 2, 4, seed=12)]

    def net(F_conv, F_pool, relu, x, c1, b1, c2, b2, w):
        h = F_pool(relu(F_conv(x, c1, b1, padding=1)), 2)
        h = F_pool(relu(F_conv(h, c2, b2, padding=1)), 2)
        return (h.reshape(3, -1) @ w).sum()

    ks, ts = [kt(a) for a in [x] + ws], [tt(a) for a in [x] + ws]
    with kg.kinks(preset or "default"):
        net(kg.conv2d, kg.max_pool2d, kg.relu, *ks).backward()
    net(F.conv2d, F.max_pool2d, torch.relu, *ts).backward()
    for a, b in zip(ks, ts):
        close(a.grad, b.grad)


def test_conv2d_and_affine_take_nested_lists_like_other_ops():
    x, w, b = np.ones((1, 2, 4, 4)), np.ones((3, 2, 3, 3)), [1.0, 2.0, 3.0]
    got = kg.conv2d(x.tolist(), w.tolist(), b)
    close(got, F.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b, dtype=torch.float64)))
    close(kg.affine(np.ones((2, 3)), np.ones((3, 2)).tolist(), [1.0, 2.0]), np.full((2, 2), 3.0) + [1.0, 2.0])


def test_conv2d_keeps_its_im2col_matrix_only_when_the_weight_needs_a_gradient():
    x = kg.tensor(np.ones((2, 3, 6, 6)))
    b = kg.tensor(np.zeros(4), requires_grad=True)
    frozen = kg.tensor(np.ones((4, 3, 3, 3)))
    assert kg.conv2d(x, frozen, b, padding=1).node.saved is None         # bias-only training keeps nothing
    trained = kg.tensor(np.ones((4, 3, 3, 3)), requires_grad=True)
    y = kg.conv2d(x, trained, b, padding=1)
    assert y.node.saved is not None and y.node.saved.shape == (2 * 6 * 6, 3 * 3 * 3)
    y.sum().backward()
    assert y.node.saved is None                                            # freed with the graph
