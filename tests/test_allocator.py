"""kg.reuse_freed_memory: on glibc, freed large blocks are kept, so allocating again costs no page
faults. Measured in fresh subprocesses (the setting is process-wide) by counting minor page faults,
which are deterministic here: a fresh page faults once, a reused one never."""
import subprocess
import sys

import pytest

import kinkgrad as kg
from kinkgrad.allocator import _libc

PROGRAM = """
import resource, numpy as np, kinkgrad as kg
applied = kg.reuse_freed_memory() if {reuse} else None
def churn():            # a training step's shape: 8 arrays of 3 MiB live at once, then all freed
    arrays = [np.ones(3 << 18, np.float32) for _ in range(8)]
    del arrays
churn(); churn()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    churn()
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(reuse):
    out = subprocess.run([sys.executable, "-c", PROGRAM.format(reuse=reuse)], capture_output=True, text=True,
                         check=True).stdout.split()
    return out[0], int(out[1])


def test_reuse_freed_memory_removes_page_faults_of_repeated_large_allocations():
    if _libc() is None:                      # not glibc: nothing to tune, and the call says so
        assert kg.reuse_freed_memory() is False
        return
    applied, with_reuse = faults(True)
    _, without = faults(False)
    assert applied == "True"
    # 10 rounds x 24 MiB: without reuse most of it comes back as fresh 4 KiB pages (thousands of
    # faults); with reuse the heap keeps it, leaving only a handful of unrelated faults
    assert without > 3000, without
    assert with_reuse < without / 20, (with_reuse, without)


def test_reuse_freed_memory_rejects_a_bad_size():
    with pytest.raises(ValueError, match="reuse_freed_memory: keep_bytes"):
        kg.reuse_freed_memory(keep_bytes=-1)
