"""Fuzz many programs and list every mismatch class, not just the first (the pytest run stops at one).

    PYTHONPATH=src:tests python -m fuzz.survey torch 5000      # run ("default" or "torch"), programs[, seed]
    PYTHONPATH=src:tests python -m fuzz.survey torch 5000 0 --with-known   # known mismatches not left out

Prints the programs built and compared, the time taken, the largest difference among agreeing
comparisons (per tolerance class), and the mismatching programs grouped by quantity and suspect op, with the shortest
program of each group as a full report.
"""
from __future__ import annotations

import collections
import sys
import time

import numpy as np
import torch

from . import compare as cmp
from .known import KNOWN_MISMATCHES
from .program import RandomChooser, build


def survey(run, n, seed=0, with_known=False):
    rng = np.random.default_rng(seed)
    known = dict(KNOWN_MISMATCHES)
    if with_known:
        KNOWN_MISMATCHES.clear()
    built, groups, worst = 0, collections.defaultdict(list), collections.defaultdict(float)
    close = cmp.close

    def measuring_close(a, b, rtol):
        ok, why = close(a, b, rtol)
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        both = np.isfinite(a) & np.isfinite(b) if ok and a.shape == b.shape else np.zeros(0, bool)
        if both.any():
            err = float(np.max(np.abs(a[both] - b[both])) / max(1.0, np.max(np.abs(b[both]))))
            worst[rtol] = max(worst[rtol], err)
        return ok, why

    cmp.close = measuring_close
    start = time.perf_counter()
    try:
        for _ in range(n):
            program = build(RandomChooser(rng), run)
            if program is None:
                continue
            built += 1
            found = cmp.compare(program)
            if found:
                k = cmp.first_step(program, found[0].quantity)
                suspect = program.steps[k].op if k is not None else "?"
                groups[(found[0].quantity, suspect)].append((program, found))
    finally:
        cmp.close = close
        KNOWN_MISMATCHES.update(known)
    print(f"{run}: {built} programs in {time.perf_counter() - start:.1f} s")
    for rtol, err in sorted(worst.items()):
        print(f"  largest difference among agreeing comparisons at rtol {rtol:g}: {err:.2g} (relative to the scale)")
    print(f"mismatching programs: {sum(len(v) for v in groups.values())}")
    for (quantity, suspect), cases in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        print(f"  {len(cases):5d}  {quantity} first differs after {suspect}")
    for (quantity, suspect), cases in groups.items():
        program, found = min(cases, key=lambda c: len(c[0].steps))
        print(f"\n== {quantity} / {suspect}: shortest case ==\n{cmp.report(program, found)}")
    return groups


if __name__ == "__main__":
    torch.set_num_threads(1)
    args = [a for a in sys.argv[1:] if a != "--with-known"]
    survey(args[0], int(args[1]), int(args[2]) if len(args) > 2 else 0, with_known="--with-known" in sys.argv)
