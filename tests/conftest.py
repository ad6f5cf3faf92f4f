"""Test-suite options. ``--fuzz-long``: the differential fuzzer against PyTorch (tests/test_fuzz.py) runs
20,000 new random programs per run instead of its fixed CI-sized set (same as KINKGRAD_FUZZ_EXAMPLES=20000)."""
from __future__ import annotations

import os

LONG_FUZZ_EXAMPLES = "20000"


def pytest_addoption(parser):
    parser.addoption("--fuzz-long", action="store_true",
                     help=f"fuzz kinkgrad against PyTorch on {LONG_FUZZ_EXAMPLES} new programs per run (local use)")


def pytest_configure(config):
    if config.getoption("--fuzz-long"):
        os.environ["KINKGRAD_FUZZ_EXAMPLES"] = LONG_FUZZ_EXAMPLES
