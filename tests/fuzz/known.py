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


@dataclass(frozen=True)
class Known:
    reproduce: Callable           # () -> (kinkgrad's answer, PyTorch's answer), both NumPy arrays
    when: Callable = None         # (input values, params) -> True for the failing variant; None: always


# None today. The last entries (sort, topk and quantile at ties in rows of more than 16 elements under
# `torch`: PyTorch's CPU sort is libstdc++'s unstable introsort) were fixed by replaying that algorithm;
# tests/test_torch_tie_order.py keeps their reproducers as regression tests.
KNOWN_MISMATCHES: dict = {}

