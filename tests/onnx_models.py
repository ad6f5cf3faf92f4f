"""PyTorch models the ONNX tests export with ``torch.onnx.export`` (torch 2.13), and the helpers that
run them in PyTorch and in kinkgrad side by side.

Each builder returns (model in eval mode, example inputs as float32 arrays). ``engineered`` variants
set weights and inputs to small dyadic numbers, so that every sum is exact in float32 and chosen
pre-activations sit exactly on a kink (relu at 0, max-pool windows with ties, clamp at its bounds,
abs at 0, max/min ties) in PyTorch and in kinkgrad alike.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import kinkgrad as kg


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1, self.l2, self.l3 = nn.Linear(6, 16), nn.Linear(16, 16), nn.Linear(16, 4)
        self.act = nn.LeakyReLU(0.1)

    def forward(self, x):
        return self.l3(self.act(self.l2(torch.relu(self.l1(x)))))


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.bn = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn(self.conv1(x))))
        x = torch.relu(self.conv2(x))
        return self.fc(torch.flatten(self.gap(x), 1))


class Residual(nn.Module):
    """A residual block whose activations are clamps: torch.clamp (exported as Clip) and F.relu6 (also
    exported as Clip, but differentiated by PyTorch as hardtanh: 0 at the bounds)."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(4, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        y = torch.clamp(self.conv1(x), 0.0, 6.0)
        return F.relu6(self.conv2(y) + x)


class AbsMaxMinWhere(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(5, 5)

    def forward(self, x, z):
        return torch.where(x > 0, torch.maximum(torch.abs(self.lin(x)), z), torch.minimum(x, z))


def _seeded(cls, seed):
    torch.manual_seed(seed)
    return cls()


def mlp(engineered=False):
    model = _seeded(MLP, 0)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 6)).astype(np.float32)
    if engineered:
        x = _dyadic(rng, (5, 6))
        _set_dyadic(model, rng, skip_bias=True)
        h1 = x @ _w(model.l1).T
        b1 = rng.integers(-4, 5, 16) / 4.0
        for j in range(16):                 # unit j is exactly at 0 for sample j % 5
            b1[j] = -h1[j % 5, j]
        _assign(model.l1.bias, b1)
        h1 = np.maximum(h1 + b1, 0) @ _w(model.l2).T
        b2 = rng.integers(-4, 5, 16) / 4.0
        for j in range(0, 16, 2):
            b2[j] = -h1[(j + 1) % 5, j]
        _assign(model.l2.bias, b2)
    return model.eval(), (x,)


def cnn(engineered=False):
    model = _seeded(CNN, 0)
    rng = np.random.default_rng(2)
    with torch.no_grad():
        model.bn.running_mean.uniform_(-0.5, 0.5)
        model.bn.running_var.uniform_(0.5, 2.0)
        model.bn.weight.uniform_(0.5, 1.5)
        model.bn.bias.uniform_(-0.2, 0.2)
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    if engineered:
        # constant 2x2 blocks, dyadic weights: equal convolution outputs inside the image, so
        # max-pool windows hold ties (and all-zero windows after relu)
        _set_dyadic(model, rng)
        blocks = rng.integers(-2, 3, (2, 3, 4, 4)).astype(np.float32)
        x = np.repeat(np.repeat(blocks, 2, axis=2), 2, axis=3)
        x[:, :, 2:6, 2:6] = 1.0
    return model.eval(), (x,)


def residual(engineered=False):
    model = _seeded(Residual, 0)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 5, 5)).astype(np.float32)
    if engineered:
        _set_dyadic(model, rng)
        w1, b1 = _w(model.conv1), model.conv1.bias.detach().numpy().copy()
        w1[0], b1[0] = 0.0, 0.0          # channel 0 of clamp's input: exactly at the lower bound
        w1[1], b1[1] = 0.0, 6.0          # channel 1: exactly at the upper bound
        _assign(model.conv1.weight, w1)
        _assign(model.conv1.bias, b1)
        w2, b2 = _w(model.conv2), model.conv2.bias.detach().numpy().copy()
        w2[0], b2[0] = 0.0, 0.0          # relu6's input on channel 0 is x itself: put 0 and 6 there
        _assign(model.conv2.weight, w2)
        _assign(model.conv2.bias, b2)
        x = _dyadic(rng, (2, 4, 5, 5))
        x[:, 0, ::2, :] = 0.0
        x[:, 0, 1::2, ::2] = 6.0
    return model.eval(), (x,)


def abs_max_min_where(engineered=False):
    model = _seeded(AbsMaxMinWhere, 0)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    z = rng.standard_normal((4, 5)).astype(np.float32)
    if engineered:
        _set_dyadic(model, rng, skip_bias=True)
        x = _dyadic(rng, (4, 5))
        x[0, :2] = 0.0                                   # where's condition false at x = 0
        pre = x @ _w(model.lin).T
        b = rng.integers(-4, 5, 5) / 4.0
        b[:3] = -pre[1, :3]                              # abs at exactly 0 on row 1
        _assign(model.lin.bias, b)
        a = np.abs(pre + b)
        z = _dyadic(rng, (4, 5))
        z[2] = a[2]                                      # maximum ties on row 2 (where x > 0)
        z[3] = x[3]                                      # minimum ties on row 3 (where x <= 0)
        z[0, :2] = 0.0
    return model.eval(), (x, z)


def _w(layer):
    return layer.weight.detach().numpy().copy()


def _dyadic(rng, shape):
    return (rng.integers(-4, 5, shape) / 2.0).astype(np.float32)


def _set_dyadic(model, rng, skip_bias=False):
    for name, p in model.named_parameters():
        if p.ndim > 1:
            _assign(p, rng.integers(-2, 3, p.shape) / 4.0)
        elif not skip_bias and name.endswith("bias") and "bn" not in name:
            _assign(p, rng.integers(-4, 5, p.shape) / 4.0)


def _assign(p, value):
    with torch.no_grad():
        p.copy_(torch.as_tensor(np.asarray(value, dtype=np.float32)))


def export(model, inputs, path, dynamo=True, **kwargs):
    """torch.onnx.export in the test's temporary directory (warnings and progress printing silenced)."""
    args = tuple(torch.as_tensor(a) for a in inputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            kwargs.setdefault("verbose", False)
        torch.onnx.export(model, args, str(path), dynamo=dynamo, **kwargs)
    return path


def torch_run(model, inputs, cotangent):
    """PyTorch's outputs and the gradients of <cotangent, output> w.r.t. the inputs and the parameters."""
    xs = [torch.tensor(a, requires_grad=True) for a in inputs]
    model.zero_grad()
    out = model(*xs)
    (out * torch.as_tensor(cotangent)).sum().backward()
    params = {name: p.grad.numpy().copy() for name, p in model.named_parameters()}
    return out.detach().numpy(), [x.grad.numpy() for x in xs], params


def kg_run(model, inputs, cotangent, kinks=None):
    """The same for an imported model (under the ``kinks`` preset when given)."""
    xs = [kg.tensor(a, requires_grad=True) for a in inputs]
    model.zero_grad()
    policy = kg.kinks(kinks) if kinks else kg.kinks()
    with policy:
        out = model(*xs)
        (out * cotangent).sum().backward()
    params = {name: p.grad.numpy().copy() for name, p in model.named_parameters()}
    return out.numpy(), [x.grad.numpy() for x in xs], params
