"""The NumPy kernels that replace NumPy's generic ones on kinkgrad's shapes give the same results."""
import numpy as np
import pytest

import kinkgrad as kg
from kinkgrad.kernels import extreme_grad, reduce_small_axes
from kinkgrad.ops import raw as rawops

CASES = [((3, 4, 2, 5, 2), (2, 4)), ((3, 4, 2, 5, 2), (4, 2)), ((3, 4), 1), ((3, 1, 4), (1,)),
         ((2, 3, 4), (0, 2)), ((2, 9, 3), (1,)), ((2, 3, 4, 5), (0, 1, 2))]


@pytest.mark.parametrize("shape,axis", CASES)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("ufunc", [np.maximum, np.minimum, np.add])
def test_reduce_small_axes_equals_ufunc_reduce(shape, axis, keepdims, ufunc):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    got, want = reduce_small_axes(ufunc, x, axis, keepdims), ufunc.reduce(x, axis=axis, keepdims=keepdims)
    assert got.shape == want.shape and got.dtype == want.dtype
    if ufunc is not np.add:
        np.testing.assert_array_equal(got, want)    # a max/min selects an element: exact
        return
    # a float32 sum of n terms in another order: each differs from the exact sum by at most
    # n * eps * sum|x| (the standard bound for recursive summation)
    n = x.size // want.size
    bound = n * np.finfo(np.float32).eps * np.add.reduce(np.abs(x), axis=axis, keepdims=keepdims)
    assert np.all(np.abs(got.astype(np.float64) - want) <= bound)


@pytest.mark.parametrize("shape,axis", CASES[:5])
def test_reduce_small_axes_counts_a_mask_in_the_requested_dtype(shape, axis):
    hit = np.random.default_rng(1).standard_normal(shape) > 0
    got = reduce_small_axes(np.add, hit, axis, keepdims=True, dtype=np.float32)
    want = np.add.reduce(hit, axis=axis, keepdims=True, dtype=np.float32)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)


def test_reduce_small_axes_keeps_nan_like_numpy():
    x = np.ones((2, 2, 3), np.float32)
    x[1, 0, 2] = np.nan
    np.testing.assert_array_equal(reduce_small_axes(np.maximum, x, (1,)), np.max(x, axis=1))


@pytest.mark.parametrize("xshape,shape", [((5000, 16), (16,)), ((5000, 16), (1, 16)), ((40, 300, 8), (8,)),
                                          ((40, 300, 8), (300, 8)), ((40, 300, 8), (1, 1, 8)),
                                          ((300, 40, 8), (40, 1))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sum_to_large_leading_axes_equals_numpy_sum(xshape, shape, dtype):
    # the bias-gradient path (a matrix-vector product) and the general one agree with np.sum; the
    # bound is the recursive-summation one, n * eps * sum|x|, in the array's own dtype
    x = np.random.default_rng(2).standard_normal(xshape).astype(dtype)
    got = rawops.sum_to(x, shape)
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and xshape[i + lead] != 1)
    want = x.astype(np.float64).sum(axis=axes, keepdims=True).reshape(shape)
    n = x.size // want.size
    bound = n * np.finfo(dtype).eps * np.abs(x).astype(np.float64).sum(axis=axes, keepdims=True).reshape(shape)
    assert got.shape == tuple(shape) and got.dtype == dtype
    assert np.all(np.abs(got - want) <= bound)


def test_sum_to_keeps_integer_and_strided_inputs_exact():
    x = np.arange(5000 * 3).reshape(5000, 3)
    np.testing.assert_array_equal(rawops.sum_to(x, (3,)), x.sum(axis=0))
    xt = np.random.default_rng(3).standard_normal((16, 5000)).T        # not C-contiguous: the generic path
    np.testing.assert_array_equal(rawops.sum_to(xt, (16,)), xt.sum(axis=0))


@pytest.mark.parametrize("shape,axes", [((3, 4, 2, 5, 2), (2, 4)), ((2, 3, 4), (1,)), ((4, 3), (0,))])
def test_extreme_grad_splits_ties_evenly_like_the_reference(shape, axes):
    # coarse values make many windows tie; the reference is the mask divided by its count per window
    rng = np.random.default_rng(4)
    x = np.round(rng.standard_normal(shape)).astype(np.float32)
    out = np.max(x, axis=axes)
    g = rng.standard_normal(out.shape).astype(np.float32)
    hit = x == np.max(x, axis=axes, keepdims=True)
    want = hit / hit.sum(axis=axes, keepdims=True) * np.expand_dims(g, axes)
    got = extreme_grad(x, out, g, axes)
    assert got.shape == x.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=2 * np.finfo(np.float32).eps)   # one division, one product


def test_extreme_grad_leaves_full_and_long_reductions_to_the_general_path():
    x = np.ones((3, 20), np.float32)
    assert extreme_grad(x, x.max(axis=1), np.ones(3, np.float32), (1,)) is None     # a 20-long axis
    v = np.ones(4, np.float32)
    assert extreme_grad(v, v.max(), np.float32(1), (0,)) is None                   # nothing left to index


def test_max_with_a_nan_window_still_splits_ties_elsewhere():
    # one window without any hit (NaN) and one with two would fool a single global count
    x = kg.tensor(np.array([[np.nan, 1.0], [2.0, 2.0]]), requires_grad=True)
    kg.sum(kg.max(x, axis=1)).backward()
    np.testing.assert_array_equal(x.grad.data, [[np.nan, np.nan], [0.5, 0.5]])
    p = kg.tensor(np.array([[[[np.nan, 1.0], [2.0, 2.0]]]]), requires_grad=True)    # the pooling path
    kg.sum(kg.max_pool2d(p, (1, 2))).backward()
    np.testing.assert_array_equal(p.grad.data, [[[[np.nan, np.nan], [0.5, 0.5]]]])
    v = np.array([[np.nan] * 20, [2.0] * 20])                                       # long axes: the general path
    t = kg.tensor(v, requires_grad=True)
    kg.sum(kg.max(t, axis=1)).backward()
    assert np.isnan(t.grad.data[0]).all()
    np.testing.assert_array_equal(t.grad.data[1], np.full(20, 1 / 20))


def test_sums_and_maxima_over_empty_axes_take_numpys_path():
    np.testing.assert_array_equal(kg.sum(np.zeros((3, 0, 5)), axis=1).data, np.zeros((3, 5)))
    np.testing.assert_array_equal(reduce_small_axes(np.add, np.zeros((0, 3)), 0), np.zeros(3))
    assert extreme_grad(np.zeros((3, 0, 5)), np.zeros((3, 5)), np.ones((3, 5)), (1,)) is None
