"""Under ``kg.kinks("torch")`` the gradient of sort, topk and quantile at ties goes where PyTorch 2.13's CPU
kernels send it: they order (value, index) pairs with libstdc++'s std::sort (an introsort: insertion sort,
hence stable, up to 16 elements only), std::nth_element and std::partial_sort, and kinkgrad replays those.
The first three tests are the reproducers the differential fuzzer once listed as known mismatches."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import kinkgrad as kg


def _kg_grad(f, x):
    with kg.kinks("torch"):
        return np.asarray(kg.grad(lambda v: kg.sum(f(v)))(np.asarray(x, dtype=float)).data)


def _torch_grad(f, x):
    t = torch.tensor(np.asarray(x, dtype=float), requires_grad=True)
    f(t).sum().backward()
    return t.grad.numpy()


def test_sort_of_17_tied_values_follows_the_introsort():
    w = np.arange(1.0, 18.0)
    ours = _kg_grad(lambda v: kg.sort(v) * w, np.zeros(17))
    np.testing.assert_array_equal(ours, [10, 17, 16, 15, 14, 13, 12, 11, 1, 9, 8, 7, 6, 5, 4, 3, 2])
    np.testing.assert_array_equal(ours, _torch_grad(lambda t: torch.sort(t).values * torch.tensor(w), np.zeros(17)))


def test_quantile_of_17_tied_values_picks_what_the_sort_left_first():
    ours = _kg_grad(lambda v: kg.quantile(v, 0.0), np.zeros(17))
    np.testing.assert_array_equal(ours, np.eye(17)[8])
    np.testing.assert_array_equal(ours, _torch_grad(lambda t: torch.quantile(t, 0.0), np.zeros(17)))


def test_topk_of_18_tied_values_follows_nth_element_then_sort():
    w = np.arange(1.0, 19.0)
    ours = _kg_grad(lambda v: kg.topk(v, 18)[0] * w, np.zeros(18))
    np.testing.assert_array_equal(ours, [2, 8, 7, 6, 5, 9, 18, 4, 3, 10, 1, 11, 12, 13, 14, 15, 16, 17])


def _tied_row(rng, n):
    return rng.integers(0, int(rng.integers(1, 12)), n).astype(float)


@pytest.mark.parametrize("seed", range(6))
def test_random_tied_rows_match_pytorch(seed):
    """Rows of 2-600 small integers (many ties), sort both ways, topk on both of PyTorch's paths (nth_element
    for k * 64 > n, partial_sort otherwise), quantile, along an axis of a matrix too."""
    rng = np.random.default_rng(seed)
    for _ in range(25):
        n = int(rng.integers(2, 600))
        x, w = _tied_row(rng, n), rng.normal(size=n)
        desc = bool(rng.integers(0, 2))
        np.testing.assert_array_equal(
            _kg_grad(lambda v: kg.sort(v, descending=desc) * w, x),
            _torch_grad(lambda t: torch.sort(t, descending=desc).values * torch.tensor(w), x))
        k = int(rng.integers(1, n + 1)) if rng.integers(0, 2) else int(rng.integers(1, max(2, n // 64) + 1))
        np.testing.assert_array_equal(
            _kg_grad(lambda v: kg.topk(v, k)[0] * w[:k], x),
            _torch_grad(lambda t: torch.topk(t, k).values * torch.tensor(w[:k]), x))
        q = float(rng.uniform())
        np.testing.assert_allclose(_kg_grad(lambda v: kg.quantile(v, q), x),
                                   _torch_grad(lambda t: torch.quantile(t, q), x), rtol=1e-12)
    X = _tied_row(rng, 40 * 30).reshape(40, 30)
    np.testing.assert_allclose(_kg_grad(lambda v: kg.quantile(v, 0.3, axis=1), X),
                               _torch_grad(lambda t: torch.quantile(t, 0.3, dim=1), X), rtol=1e-12)
    np.testing.assert_array_equal(_kg_grad(lambda v: kg.sort(v, axis=0) * np.arange(1.0, 41.0)[:, None], X),
                                  _torch_grad(lambda t: torch.sort(t, dim=0).values
                                              * torch.arange(1.0, 41.0, dtype=torch.float64)[:, None], X))


def test_the_other_presets_keep_the_stable_order():
    w = np.arange(1.0, 18.0)
    for preset in ("jax", "tensorflow"):
        with kg.kinks(preset):
            g = kg.grad(lambda v: kg.sum(kg.sort(v) * w))(np.zeros(17)).data
        np.testing.assert_array_equal(g, w)
