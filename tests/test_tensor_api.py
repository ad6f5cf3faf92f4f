"""Tensor construction, dtype rules, factories, seeded randomness, repr, and the rule namespaces."""
import numpy as np
import pytest

import kinkgrad as kg
from kinkgrad import ops
from kinkgrad.ops import raw as rawops


def test_python_floats_default_to_float32_and_numpy_keeps_dtype():
    assert kg.tensor([1.0, 2.0]).dtype == np.float32
    assert kg.tensor(1.5).dtype == np.float32
    assert kg.tensor(np.array([1.0])).dtype == np.float64
    assert kg.tensor(np.array([1.0], dtype=np.float16)).dtype == np.float16
    assert kg.tensor([1, 2]).dtype == np.int64
    assert kg.tensor([True, False]).dtype == np.bool_
    assert kg.tensor([1, 2], dtype="float64").dtype == np.float64


def test_tensor_copies_but_as_tensor_shares():
    a = np.zeros(3)
    t = kg.tensor(a)
    a[0] = 1.0
    assert t.data[0] == 0.0
    s = kg.as_tensor(a)
    a[1] = 2.0
    assert s.data[1] == 2.0


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool"])
def test_only_floats_require_grad(dtype):
    with pytest.raises(TypeError, match="floating-point"):
        kg.tensor(np.zeros(2, dtype=dtype), requires_grad=True)


def test_unsupported_data_is_rejected():
    with pytest.raises(TypeError, match="complex"):
        kg.tensor(np.array([1 + 2j]))


def test_attributes_and_conversions():
    t = kg.tensor(np.arange(6.0).reshape(2, 3))
    assert (t.shape, t.ndim, t.size) == ((2, 3), 2, 6)
    assert t.T.shape == (3, 2)
    assert np.asarray(t) is t.data
    assert np.asarray(t, dtype=np.float32).dtype == np.float32
    assert kg.tensor(3.5).item() == 3.5
    with pytest.raises(ValueError, match="one-element"):
        t.item()
    with pytest.raises(ValueError, match="ambiguous"):
        bool(t)


def test_repr_shows_grad_fn_and_requires_grad():
    x = kg.tensor([1.0], requires_grad=True)
    assert "requires_grad=True" in repr(x)
    assert "grad_fn=<multiply>" in repr(x * 2)
    assert "dtype=float64" in repr(kg.tensor(np.ones(1)))
    assert "grad_fn" not in repr(kg.tensor([1.0]))


def test_factories():
    assert kg.zeros(2, 3).shape == (2, 3) and kg.zeros((2, 3)).dtype == np.float32
    assert (kg.ones(2).data == 1).all()
    assert (kg.full((2,), 7.0).data == 7).all()
    assert kg.arange(5).dtype == np.int64 and kg.arange(0.0, 1.0, 0.25).dtype == np.float32
    assert kg.linspace(0, 1, 5).data[-1] == 1.0
    assert (kg.eye(3).data == np.eye(3)).all()
    x = kg.tensor(np.ones((2, 2)))
    assert kg.zeros_like(x).dtype == np.float64 and kg.ones_like(x, dtype="float32").dtype == np.float32
    assert kg.ones(2, requires_grad=True).requires_grad


def test_random_is_seeded():
    a = kg.random.normal((3, 4), seed=1)
    b = kg.random.normal((3, 4), seed=1)
    c = kg.random.normal((3, 4), seed=2)
    assert (a.data == b.data).all() and not (a.data == c.data).all()
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    assert (kg.random.uniform(4, rng=g1).data == kg.random.uniform(4, rng=g2).data).all()
    assert a.dtype == np.float32
    with pytest.raises(ValueError, match="either seed"):
        kg.random.normal(2, seed=1, rng=g1)


def test_operators_with_numpy_and_python_scalars_on_either_side():
    x = kg.tensor([1.0, 2.0], requires_grad=True)
    a = np.array([10.0, 20.0], dtype=np.float32)
    for y in (x + a, a + x, 2.0 - x, x - 2.0, a * x, 1.0 / x, 2.0 ** x, x ** 2, a @ x, x @ a):
        assert isinstance(y, kg.Tensor) and y.requires_grad
    assert isinstance(x > 1.0, kg.Tensor) and (x > 1.0).dtype == np.bool_
    assert not (x > 1.0).requires_grad
    assert (x + 1.0).dtype == np.float32   # no silent upcast from Python scalars


def test_rule_namespaces_match():
    """Derivative rules run against either namespace, so every NumPy-twin name must exist in ops."""
    names = [n for n in dir(rawops) if not n.startswith("_") and callable(getattr(rawops, n))]
    missing = [n for n in names if not hasattr(ops, n)]
    assert not missing, f"kinkgrad.ops lacks rule-namespace names: {missing}"


@pytest.mark.parametrize("name, args", [
    ("sum_to", (np.arange(6.0).reshape(2, 3), (1, 3))),
    ("broadcast_to", (np.arange(3.0), (2, 3))),
    ("transpose", (np.arange(6.0).reshape(2, 3), (1, 0))),
    ("scatter_add", (np.ones(3), (np.array([0, 0, 2]),), (4,))),
    ("take_along_axis", (np.arange(6.0).reshape(2, 3), np.array([[2], [0]]), 1)),
    ("put_along_axis_add", (np.ones((2, 1)), np.array([[2], [2]]), 1, (2, 3))),
    ("einsum", ("ij,jk->ik", np.ones((2, 3)), np.ones((3, 2)))),
    ("sigmoid", (np.array([-30.0, 0.0, 30.0]),)),
    ("erf", (np.array([-1.0, 0.5]),)),
])
def test_rule_namespaces_agree_on_values(name, args):
    raw = getattr(rawops, name)(*args)
    tensor_args = [kg.tensor(a) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in args]
    via_ops = getattr(ops, name)(*tensor_args)
    np.testing.assert_allclose(np.asarray(via_ops), raw, rtol=1e-15, atol=0)
