"""Mini-batches for training loops and ``fit``: ``DataLoader((X, y), batch_size=32, shuffle=True,
seed=0)`` over arrays, a tuple of arrays, or a ``Dataset`` (``__getitem__`` + ``__len__``).

Shuffling is reproducible and resumable: epoch ``e`` is ordered by a generator seeded with
``(seed, e)``, so a run resumed at epoch ``e`` sees the batches an uninterrupted run would.
Without ``seed`` a shuffling loader draws one from ``kg.random``'s generator (``kg.random.manual_seed``
fixes it).

>>> import numpy as np
>>> loader = DataLoader((np.arange(5.0), np.arange(5)), batch_size=2)
>>> [len(xb) for xb, yb in loader]
[2, 2, 1]
"""
from __future__ import annotations

import numbers

import numpy as np

from . import random as _random
from .tensor import Tensor

__all__ = ["ArrayDataset", "DataLoader", "Dataset", "TensorDataset"]


class Dataset:
    """Map-style dataset (PyTorch's): ``dataset[i]`` is one sample (an array, a number, or a tuple of
    them) and ``len(dataset)`` the number of samples."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__}: define __getitem__(self, index)")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__}: define __len__(self)")


def _as_array(a, what):
    a = np.asarray(a.data if isinstance(a, Tensor) else a)
    if a.ndim == 0:
        raise ValueError(f"DataLoader: {what} is a scalar; it needs a first (sample) axis")
    return a


class ArrayDataset(Dataset):
    """Arrays indexed together along their first axis (PyTorch's TensorDataset)."""

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("ArrayDataset: give at least one array")
        self.arrays = tuple(_as_array(a, f"array {i}") for i, a in enumerate(arrays))
        lengths = [len(a) for a in self.arrays]
        if len(set(lengths)) > 1:
            raise ValueError(f"ArrayDataset: the arrays have different numbers of samples {lengths}; they must match")

    def __getitem__(self, index):
        items = tuple(a[index] for a in self.arrays)
        return items if len(items) > 1 else items[0]

    def __len__(self):
        return len(self.arrays[0])

    def take(self, idx):
        """The batch at integer indices ``idx`` (one fancy index per array)."""
        items = tuple(a[idx] for a in self.arrays)
        return items if len(items) > 1 else items[0]


TensorDataset = ArrayDataset      # PyTorch's name


def _collate(items):
    """Stack samples into a batch: tuples element-wise, arrays and numbers along a new first axis."""
    first = items[0]
    if isinstance(first, (tuple, list)):
        return tuple(_collate([it[k] for it in items]) for k in range(len(first)))
    if isinstance(first, dict):
        return {k: _collate([it[k] for it in items]) for k in first}
    return np.stack([np.asarray(getattr(it, "data", it)) for it in items])


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"DataLoader: {name} must be a positive int, got {value!r} ({type(value).__name__})")
    if value <= 0:
        raise ValueError(f"DataLoader: {name} must be a positive int, got {value}")
    return int(value)


class DataLoader:
    """Batches of ``dataset`` in order or shuffled. ``dataset``: an array, a tuple/list of arrays (batches are
    tuples), an ``ArrayDataset`` or any ``Dataset``. Iterating gives NumPy arrays; each full pass moves to the
    next epoch (``set_epoch`` chooses one, as ``fit`` does)."""

    def __init__(self, dataset, batch_size=32, shuffle=False, drop_last=False, seed=None):
        if isinstance(dataset, (tuple, list)):
            dataset = ArrayDataset(*dataset)
        elif isinstance(dataset, (np.ndarray, Tensor)):
            dataset = ArrayDataset(dataset)
        elif not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
            raise TypeError(f"DataLoader: dataset must be an array, a tuple of arrays or a Dataset (with __getitem__ "
                            f"and __len__), got {type(dataset).__name__}")
        self.dataset = dataset
        self.batch_size = _positive_int(batch_size, "batch_size")
        for name, flag in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"DataLoader: {name} must be True or False, got {flag!r}")
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
            raise TypeError(f"DataLoader: seed must be a non-negative int or None, got {seed!r}")
        if seed is not None:
            self.seed = int(seed)
        else:                                   # only a shuffling loader draws (and moves kg.random's generator)
            self.seed = int(_random.randint(0, 2 ** 62, ()).item()) if self.shuffle else 0
        n = len(dataset)
        if n == 0:
            raise ValueError("DataLoader: the dataset is empty (0 samples); there is nothing to iterate over")
        if self.drop_last and n < self.batch_size:
            raise ValueError(f"DataLoader: drop_last=True with {n} samples and batch_size={self.batch_size} gives no "
                             "batch at all; lower batch_size or set drop_last=False")
        self.epoch = 0

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def set_epoch(self, epoch):
        """Use epoch ``epoch``'s order for the next pass (PyTorch's DistributedSampler habit)."""
        self.epoch = int(epoch)

    def order(self, epoch=None):
        """The sample indices of one epoch, in the order they are batched."""
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, self.epoch if epoch is None else epoch]).permutation(n)

    def __iter__(self):
        order = self.order()
        self.epoch += 1
        take = getattr(self.dataset, "take", None)
        for b in range(len(self)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            yield take(idx) if take is not None else _collate([self.dataset[int(i)] for i in idx])

    def __repr__(self):
        return (f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, seed={self.seed})")
