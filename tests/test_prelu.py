"""prelu at its kink: one-sided derivatives, the presets, PyTorch's own gradient, the audit."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import kinkgrad as kg

X = np.array([0.0, -0.37, 0.41, 0.0, 0.0, -1.2])          # three elements on the kink
H = 1e-7


@pytest.mark.parametrize("slope", [0.3, -0.5, 1.7])
def test_left_right_mid_equal_one_sided_differences(slope):
    w = np.array([slope])
    f = lambda x: kg.prelu(x, w).numpy()
    fd_left, fd_right = (f(X) - f(X - H)) / H, (f(X + H) - f(X)) / H
    for preset, expected in (("left", fd_left), ("right", fd_right), ("mid", (fd_left + fd_right) / 2)):
        got = kg.grad(lambda x: kg.prelu(x, w).sum(), kinks=preset)(X).numpy()
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6, err_msg=preset)   # FD error ~ H


@pytest.mark.parametrize("slope, at0", [(0.3, 0.3), (-0.5, 0.0), (1.7, 1.0)])
def test_default_is_the_minimum_norm_slope(slope, at0):
    g = kg.grad(lambda x: kg.prelu(x, np.array([slope])).sum())(X).numpy()
    assert g[0] == g[3] == g[4] == np.float64(at0)
    assert g[1] == slope and g[2] == 1.0


def test_torch_preset_equals_pytorch_prelu_at_zero():
    x = np.array([[0.0, 1.0, -2.0], [0.0, 0.0, 3.0]])
    w = np.array([0.25, -0.5])[:, None]                    # one slope per row (channel axis 0 here)
    cot = np.array([[1.5, -2.0, 0.5], [3.0, -1.0, 2.0]])
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w.ravel(), requires_grad=True)
    # torch's channel axis is 1: put the rows there
    (F.prelu(xt.T, wt).T * torch.tensor(cot)).sum().backward()
    with kg.kinks("torch"):
        gx, gw = kg.grad(lambda a, b: (kg.prelu(a, b) * cot).sum(), argnums=(0, 1))(x, w)
    np.testing.assert_array_equal(gx.numpy(), xt.grad.numpy())
    np.testing.assert_array_equal(gw.numpy().ravel(), wt.grad.numpy())


def test_audit_counts_prelu_kinks():
    with kg.audit() as report:
        kg.grad(lambda x: kg.prelu(x, np.array([0.2])).sum())(X)
    rows = [r for r in report.to_dict()["rows"] if r["op"] == "prelu"]
    assert sum(r["at_kink"] for r in rows) == 3 and report.semantics == "convention-dependent"
