"""Optimizers: PyTorch and Keras spellings, parameter groups (against torch.optim), weight decay, Keras'
clipping, saveable state, float16 parameters, picklable schedules, and one function that writes parameters."""
from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch

import kinkgrad as kg
from kinkgrad import nn, optim


def _params(seed=0):
    r = np.random.default_rng(seed)
    return [nn.Parameter(r.standard_normal((4, 3))), nn.Parameter(r.standard_normal(3)),
            nn.Parameter(r.standard_normal((3, 2)))]


def _loss(ps, lib=kg):
    a, b, c = ps
    sin = kg.sin if lib is kg else torch.sin
    return (sin(a) * a).sum() + ((b - 1.0) ** 2).sum() + (c * c * c).sum() * 0.1 + (a[:3, :2] * c).sum()


def _run(opt, ps, steps=6):
    for _ in range(steps):
        opt.zero_grad()
        _loss(ps).backward()
        opt.step()
    return [p.data.copy() for p in ps]


@pytest.mark.parametrize("cls, torch_style, keras_style", [
    ("Adam", {"lr": 0.02, "betas": (0.8, 0.95), "eps": 1e-6}, {"learning_rate": 0.02, "beta_1": 0.8, "beta_2": 0.95,
                                                                 "epsilon": 1e-6}),
    ("AdamW", {"lr": 0.02, "betas": (0.85, 0.999), "weight_decay": 0.1}, {"learning_rate": 0.02, "beta_1": 0.85,
                                                                           "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9}, {"learning_rate": 0.01, "rho": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}, {"learning_rate": 0.05, "momentum": 0.9,
                                                               "nesterov": True}),
], ids=["Adam", "AdamW", "RMSprop", "SGD"])
def test_pytorch_and_keras_spellings_are_the_same_optimizer(cls, torch_style, keras_style):
    a, b = _params(), _params()
    ra = _run(getattr(optim, cls)(a, **torch_style), a)
    rb = _run(getattr(optim, cls)(b, **keras_style), b)
    for x, y in zip(ra, rb):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("kwargs, match", [
    ({"lr": 0.1, "learning_rate": 0.1}, "both lr= and learning_rate="),
    ({"betas": (0.9, 0.99), "beta_1": 0.9}, "betas= and beta_1="),
    ({"beta1": 0.9}, "did you mean beta_1"),
    ({"eps": 1e-8, "epsilon": 1e-8}, "both eps= and epsilon="),
])
def test_conflicting_or_unknown_spellings_are_refused(kwargs, match):
    with pytest.raises(TypeError, match=match):
        optim.Adam(_params(), **kwargs)


def _torch_params(ps):
    return [torch.nn.Parameter(torch.tensor(p.data.copy())) for p in ps]


@pytest.mark.parametrize("cls, tcls, groups", [
    ("SGD", torch.optim.SGD, ({"lr": 0.1, "momentum": 0.9}, {"lr": 0.01, "weight_decay": 0.1})),
    ("Adam", torch.optim.Adam, ({"lr": 0.05}, {"lr": 0.01, "weight_decay": 0.2, "betas": (0.5, 0.9)})),
    ("AdamW", torch.optim.AdamW, ({"weight_decay": 0.0}, {"lr": 0.03})),
], ids=["SGD", "Adam", "AdamW"])
def test_parameter_groups_match_torch(cls, tcls, groups):
    ps = _params(3)
    tps = _torch_params(ps)
    opt = getattr(optim, cls)([{"params": ps[:2], **groups[0]}, {"params": ps[2:], **groups[1]}], lr=0.02)
    topt = tcls([{"params": tps[:2], **groups[0]}, {"params": tps[2:], **groups[1]}], lr=0.02)
    for step in range(6):
        opt.zero_grad()
        topt.zero_grad()
        _loss(ps).backward()
        _loss(tps, torch).backward()
        opt.step()
        topt.step()
        for p, t in zip(ps, tps):        # float64 on both sides: the same arithmetic up to a few ulps
            np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-12, atol=1e-14, err_msg=f"step {step}")
    assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in topt.param_groups]


def test_state_dict_has_pytorch_layout_and_resumes_exactly():
    ps, qs = _params(), _params()
    opt = optim.Adam([{"params": ps[:1], "lr": 0.1}, {"params": ps[1:]}], lr=0.01)
    _run(opt, ps, 3)
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1, 2]]
    assert sorted(sd["state"]) == [0, 1, 2] and set(sd["state"][0]) == {"step", "m", "v"}
    twin = optim.Adam([{"params": qs[:1], "lr": 0.5}, {"params": qs[1:]}], lr=0.5)
    for q, p in zip(qs, ps):
        q.data[...] = p.data
    twin.load_state_dict(copy.deepcopy(sd))
    assert [g["lr"] for g in twin.param_groups] == [0.1, 0.01]       # the saved settings come back
    for a, b in zip(_run(opt, ps, 3), _run(twin, qs, 3)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="groups of sizes"):
        optim.Adam(_params()).load_state_dict(sd)


def test_keras_clipping_clipnorm_per_parameter_global_clipnorm_together_and_grad_untouched():
    g = [np.array([3.0, 4.0]), np.array([0.0, 12.0])]                 # norms 5 and 12, together 13

    def step(**clip):
        ps = [nn.Parameter(np.zeros(2)), nn.Parameter(np.zeros(2))]
        for p, gi in zip(ps, g):
            p.grad = kg.tensor(gi.copy())
        optim.SGD(ps, lr=1.0, **clip).step()
        assert [p.grad.data.tolist() for p in ps] == [gi.tolist() for gi in g]
        return [(-p.data).tolist() for p in ps]

    assert step(clipnorm=1.0) == [pytest.approx([0.6, 0.8]), pytest.approx([0.0, 1.0])]
    assert step(global_clipnorm=1.0) == [pytest.approx([3 / 13, 4 / 13]), pytest.approx([0.0, 12 / 13])]
    assert step(clipvalue=3.5) == [[3.0, 3.5], [0.0, 3.5]]
    with pytest.raises(ValueError, match="not both"):
        optim.SGD(_params(), clipnorm=1.0, global_clipnorm=1.0)


def test_every_parameter_write_goes_through_assign_in_place(monkeypatch):
    ps = _params()
    arrays = [p.data for p in ps]
    calls = []
    real = optim.optimizer._assign
    monkeypatch.setattr(optim.optimizer, "_assign", lambda p, v: (calls.append(p), real(p, v)))
    ps[1].grad = None
    opt = optim.Adam(ps, lr=0.1)
    opt.zero_grad()
    (ps[0].sum() + ps[2].sum()).backward()
    opt.step()
    assert calls == [ps[0], ps[2]]                  # once per parameter with a gradient, nothing else
    assert all(p.data is a for p, a in zip(ps, arrays))     # written in place: views and references stay valid


def test_float16_parameters_are_updated_in_float32():
    """In float16, Adam's eps=1e-8 is 0 and v underflows: a zero gradient would give 0/0 = NaN."""
    p = nn.Parameter(np.array([1.0, -2.0, 0.5], np.float16))
    opt = optim.Adam([p], lr=1e-3)
    for scale in (0.0, 1e-4):
        opt.zero_grad()
        (p * scale).sum().backward()
        opt.step()
    assert p.dtype == np.float16 and np.all(np.isfinite(p.data))
    assert opt.state[p]["m"].dtype == np.float32


def test_lr_property_and_validation():
    opt = optim.SGD(_params(), lr=0.1)
    opt.lr = 0.5
    assert opt.learning_rate == 0.5 and opt.param_groups[0]["lr"] == 0.5
    with pytest.raises(TypeError, match="lr must be a positive number or a schedule.*'abc' \\(str\\)"):
        opt.lr = "abc"
    with pytest.raises(ValueError, match="positive finite"):
        opt.lr = float("inf")


def test_optimizer_with_schedule_pickles_and_continues_identically():
    ps = _params()
    opt = optim.Adam(ps, lr=optim.warmup(optim.cosine_lr(0.05, 20), 3))
    _run(opt, ps, 4)
    ps2, opt2 = pickle.loads(pickle.dumps((ps, opt)))
    for a, b in zip(_run(opt, ps, 4), _run(opt2, ps2, 4)):
        np.testing.assert_array_equal(a, b)
    assert optim.schedules.deserialize(optim.schedules.serialize(opt.lr)) == opt.lr


def test_optimizer_config_round_trip():
    opt = optim.AdamW(lr=optim.step_lr(0.1, 5), betas=(0.5, 0.9), clipnorm=2.0)
    clone = optim.get({"class_name": "AdamW", "config": opt.get_config()})
    assert type(clone) is optim.AdamW and clone.get_config() == opt.get_config()
    assert clone.defaults["betas"] == (0.5, 0.9) and clone.clipnorm == 2.0


def test_a_graph_that_saved_a_parameter_refuses_backward_after_a_step():
    """As in PyTorch: the optimizer's in-place write is stamped, so a retained graph holding the old
    value raises instead of differentiating at the new one."""
    p = nn.Parameter(np.ones(3))
    opt = optim.SGD([p], lr=0.1)
    y = (p * p).sum()
    y.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()
