"""Op variants the fuzzer found to differ from PyTorch 2.13, each with its reproducer.

``KNOWN_MISMATCHES[(op name, run)]`` (``run``: ``"default"``, away from kinks, or ``"torch"``, at kinks
under ``kg.kinks("torch")``) is a ``Known``: ``when(xs, params)`` says which steps of that op are the
failing variant (from the step's input values and parameters; None: every step), and ``reproduce()``
returns kinkgrad's and PyTorch's answers on the smallest case found. The generator leaves exactly those
steps out of that run; ``test_fuzz.test_known_mismatches_still_differ`` fails as soon as a reproducer
agrees with PyTorch, so the entry is removed when kinkgrad is fixed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

import kinkgrad as kg

from .table import gap


@dataclass(frozen=True)
class Known:
    reproduce: Callable           # () -> (kinkgrad's answer, PyTorch's answer), both NumPy arrays
    when: Callable = None         # (input values, params) -> True for the failing variant; None: always


def _kg_grad(f, x, preset="torch"):
    with kg.kinks(preset):
        return np.asarray(kg.grad(lambda v: kg.sum(f(v)))(np.asarray(x, dtype=float)).data)


def _torch_grad(f, x):
    t = torch.tensor(np.asarray(x, dtype=float), requires_grad=True)
    f(t).sum().backward()
    return t.grad.numpy()


def _rows(x, axis):
    x = np.asarray(x)
    return x.reshape(1, -1) if axis is None else np.moveaxis(x, axis, -1).reshape(-1, x.shape[axis])


# sort of a row of more than 16 elements with ties: PyTorch's default CPU sort is not stable beyond 16
# elements (an introsort), so tied elements are not in index order; the torch preset's sort rule is the
# stable order ("first"), measured on short rows only.
#   w = np.arange(1., 18.)
#   with kg.kinks("torch"): kg.grad(lambda v: kg.sum(kg.sort(v) * w))(np.zeros(17))  -> [1, 2, ..., 17]
#   t = torch.zeros(17, dtype=torch.float64, requires_grad=True)
#   (torch.sort(t).values * torch.tensor(w)).sum().backward(); t.grad          -> [10, 17, 16, ..., 11, 1, 9, ..., 2]
def _sort_long_row_ties():
    w = np.arange(1.0, 18.0)
    return (_kg_grad(lambda v: kg.sort(v) * w, np.zeros(17)),
            _torch_grad(lambda t: torch.sort(t).values * torch.tensor(w), np.zeros(17)))


# quantile on a row of more than 16 tied elements (it sorts the same way): q = 0 of 17 zeros
#   with kg.kinks("torch"): kg.grad(lambda v: kg.quantile(v, 0.0))(np.zeros(17))    -> one-hot at index 0
#   t = torch.zeros(17, dtype=torch.float64, requires_grad=True)
#   torch.quantile(t, 0.0).backward(); t.grad                                       -> one-hot at index 8
def _quantile_long_row_ties():
    return (_kg_grad(lambda v: kg.quantile(v, 0.0), np.zeros(17)),
            _torch_grad(lambda t: torch.quantile(t, 0.0), np.zeros(17)))


# topk of k >= 18 with ties: kinkgrad's torch-preset rule replays PyTorch's CPU selection (nth_element, then a
# sort of the first k - 1 picks) but takes that sort to be stable; libstdc++'s sort is an introsort beyond 16
# elements, so tied picks land elsewhere. 18 zeros, k = 18, cotangent 1..18:
#   with kg.kinks("torch"): kg.grad(lambda v: kg.sum(kg.topk(v, 18)[0] * w))(np.zeros(18))
#       -> [17, 11, 12, 13, 14, 10, 18, 15, 16, 1, 9, 8, 7, 6, 5, 4, 3, 2]
#   t = torch.zeros(18, dtype=torch.float64, requires_grad=True)
#   (torch.topk(t, 18).values * torch.tensor(w)).sum().backward(); t.grad
#       -> [2, 8, 7, 6, 5, 9, 18, 4, 3, 10, 1, 11, 12, 13, 14, 15, 16, 17]
def _topk_large_k_ties():
    w = np.arange(1.0, 19.0)
    return (_kg_grad(lambda v: kg.topk(v, 18)[0] * w, np.zeros(18)),
            _torch_grad(lambda t: torch.topk(t, 18).values * torch.tensor(w), np.zeros(18)))


def _long_row_with_ties(xs, p):
    rows = _rows(xs[0], p["axis"])
    return rows.shape[-1] > 16 and gap(rows, -1) == 0


KNOWN_MISMATCHES = {
    ("sort", "torch"): Known(_sort_long_row_ties, _long_row_with_ties),
    ("quantile", "torch"): Known(_quantile_long_row_ties, _long_row_with_ties),
    ("topk", "torch"): Known(_topk_large_k_ties, lambda xs, p: p["k"] >= 18 and gap(xs[0], p["axis"]) == 0),
}
