"""NaN-safe masking: a branch that ``where`` did not select contributes exactly 0, in every mode."""
import warnings

import numpy as np
import pytest

import kinkgrad as kg

# (name, function, points where the singular branch is NOT selected)
BRANCHES = [
    ("sqrt", lambda x: kg.where(x > 0, kg.sqrt(x), 0.0), (-1.0, 0.0)),
    ("log", lambda x: kg.where(x > 0, kg.log(x), 0.0), (-1.0, 0.0)),
    ("reciprocal", lambda x: kg.where(x != 0, 1.0 / x, 0.0), (0.0,)),
    ("power", lambda x: kg.where(x > 0, x ** 0.5, 0.0), (-1.0, 0.0)),
    ("log1p", lambda x: kg.where(x > -1, kg.log1p(x), 0.0), (-2.0, -1.0)),
]
CASES = [(name, f, x0) for name, f, points in BRANCHES for x0 in points]


@pytest.fixture(autouse=True)
def _quiet_forward():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # the unselected forward branch is NaN/inf by design
        yield


@pytest.mark.parametrize("name, f, x0", CASES, ids=[f"{c[0]}@{c[2]}" for c in CASES])
def test_unselected_branch_gives_exact_zero(name, f, x0):
    x = np.float64(x0)
    assert kg.grad(f)(x).item() == 0.0                      # reverse mode
    assert kg.jvp(f, (x,), (1.0,))[1].item() == 0.0          # forward mode
    assert kg.grad(kg.grad(f))(x).item() == 0.0              # second order


def test_selected_branch_is_unchanged():
    f = BRANCHES[0][1]
    np.testing.assert_allclose(kg.grad(f)(np.float64(4.0)).item(), 0.25, rtol=1e-15)


def test_singular_point_with_nonzero_upstream_keeps_its_limit():
    assert kg.grad(kg.sqrt)(np.float64(0.0)).item() == np.inf
    assert kg.grad(kg.log)(np.float64(0.0)).item() == np.inf


def test_masking_works_elementwise_in_a_batch():
    x = kg.tensor(np.array([-2.0, 0.0, 4.0]), requires_grad=True)
    kg.where(x > 0, kg.sqrt(x), 0.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 0.25])


def test_backward_pass_itself_raises_no_floating_point_warnings():
    x = kg.tensor(np.array([0.0, 1.0]), requires_grad=True)
    y = kg.sqrt(x).sum()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y.backward()
    assert x.grad.data[0] == np.inf
