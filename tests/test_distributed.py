"""kinkgrad.distributed: the one-process behaviour here, and the scripts in tests/mpi/ under ``mpiexec -n 2``
(mpi4py and mpich come with the test extra; a missing launcher fails these tests instead of skipping)."""
from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
import time

import numpy as np
import pytest

import kinkgrad as kg
import kinkgrad.distributed as dist
from kinkgrad import nn

SCRIPTS = pathlib.Path(__file__).parent / "mpi"
MPIEXEC = pathlib.Path(sys.executable).parent / "mpiexec"


def mpirun(script, *args, timeout=120):
    """Run a tests/mpi script on 2 ranks; returns (exit code, output, seconds)."""
    assert MPIEXEC.exists(), f"{MPIEXEC} is missing: install the test extra (mpi4py and mpich)"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(
        [str(SCRIPTS), str(pathlib.Path(dist.__file__).parent.parent), os.environ.get("PYTHONPATH", "")])}
    start = time.monotonic()
    res = subprocess.run([str(MPIEXEC), "-n", "2", sys.executable, str(SCRIPTS / script), *args], env=env,
                         capture_output=True, text=True, timeout=timeout)
    return res.returncode, res.stdout + res.stderr, time.monotonic() - start


# -- one process: the same script runs without mpiexec ----------------------------------------------------
def test_a_single_process_is_a_world_of_one():
    dist.init()
    assert (dist.rank(), dist.world_size(), dist.is_main()) == (0, 1, True)
    dist.barrier()
    p = kg.tensor([1.0, 2.0], requires_grad=True)
    (p * p).sum().backward()
    dist.all_reduce_gradients([p])
    dist.broadcast_parameters([p])
    np.testing.assert_array_equal(p.grad.data, [2.0, 4.0])
    assert dist.gather({"a": 1}) == [{"a": 1}]
    q = kg.tensor([1.0, 2.0], requires_grad=True)
    q.grad = kg.Tensor._wrap(np.broadcast_to(np.float32(3.0), (2,)))      # read-only: reduced into a copy
    dist.all_reduce_gradients([q, p], op="sum", weight=0.5)
    np.testing.assert_array_equal(q.grad.data, [1.5, 1.5])
    np.testing.assert_array_equal(p.grad.data, [1.0, 2.0])
    np.testing.assert_array_equal(dist.all_reduce([1.5, 2.0]), [1.5, 2.0])


def test_shards_cover_the_data_once_per_epoch_and_change_with_it():
    np.testing.assert_array_equal(np.sort(dist.shard(10, epoch=0, seed=1)), np.arange(10))
    assert not np.array_equal(dist.shard(10, epoch=0, seed=1), dist.shard(10, epoch=1, seed=1))
    np.testing.assert_array_equal(dist.shard(5, shuffle=False), np.arange(5))


def test_buckets_pack_every_gradient_by_dtype_and_size():
    arrays = [np.ones(300, np.float32), np.ones((20, 20), np.float32), np.ones(10, np.float64)]
    buckets = list(dist._buckets(arrays, bucket_mb=1.5 * 1024 / 2 ** 20))    # 1,536 bytes per bucket
    sizes = sorted((b.dtype.name, b.size) for b, _ in buckets)
    assert sizes == [("float32", 300), ("float32", 400), ("float64", 10)], sizes


@pytest.mark.parametrize("call, message", [
    (lambda: dist.init(timeout=0), "timeout must be a positive number"),
    (lambda: dist.all_reduce_gradients([], op="max"), "op must be 'mean' or 'sum'"),
    (lambda: dist.all_reduce_gradients([], bucket_mb=0), "bucket_mb must be a positive number"),
    (lambda: dist.broadcast_parameters([1.0, 2.0]) or dist.all_reduce_gradients([1.0], weight=1.0),
     "item 0 is float, not a Tensor"),
    (lambda: dist.all_reduce_gradients([np.ones(2)], weight=1.0), "pass the parameters"),
    (lambda: nn.Sequential([nn.Dense(1, input_shape=(2,))]).compile("sgd", "mse").fit(
        np.ones((4, 2)), np.ones((4, 1)), verbose=0, distributed="yes"), "distributed must be True, False or None"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises((TypeError, ValueError), match=message):
        call()
    dist.init()                                      # back to the default timeout


def test_a_launch_without_mpi4py_names_the_extra(monkeypatch):
    monkeypatch.setattr(dist._W, "initialized", False)
    monkeypatch.setenv("PMI_SIZE", "4")
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    with pytest.raises(ImportError, match=r"4 ranks but mpi4py is not installed.*kinkgrad\[mpi\]"):
        dist.init()


def test_fit_on_one_process_is_unchanged_by_distributed_true():
    X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    y = X @ np.array([[1.0], [-2.0], [0.5]], np.float32)
    runs = []
    for flag in (False, True):
        model = nn.Sequential([nn.Dense(1, input_shape=(3,), seed=0)]).compile("sgd", "mse")
        runs.append(model.fit(X, y, epochs=3, batch_size=8, seed=0, verbose=0, distributed=flag).history["loss"])
    assert runs[0] == runs[1]


# -- two ranks ---------------------------------------------------------------------------------------------
def test_two_ranks_on_half_batches_end_with_the_one_process_weights():
    """20 steps of SGD (momentum) and Adam, MLP and CNN: float32 sums in another order differ by ulps per
    step (measured worst 1.4e-6 of the largest weight); 1e-5 allows 20 steps of ~4 ulps each."""
    code, out, _ = mpirun("equivalence.py", "1e-5")
    assert code == 0, out
    assert out.count("max |2 ranks - 1 process|") == 4, out


def test_fit_distributed_matches_one_process_and_merges_the_audit(tmp_path):
    code, out, _ = mpirun("fit.py", str(tmp_path))
    assert code == 0, out
    result = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    assert abs(result["accuracy_2_ranks"] - result["accuracy_1_process"]) <= 0.01, result
    assert result["files"] == [f"ckpt-rank0-{e}.kg" for e in range(1, 9)], result    # rank 0 writes, alone
    assert all(r["evaluated"] > 0 for r in result["ranks"]), result


@pytest.mark.parametrize("case, expected", [
    ("raise", r"rank 1 of 2 failed; aborting every rank:[\s\S]*ValueError: boom"),
    ("hang", r"rank 0 of 2 waited 3 s in barrier for the other ranks"),
    ("shapes", r"rank 1's parameters differ from rank 0's: rank 0 has \('layers.0.kernel', \(64, 16\)"),
    ("policy", r"ranks disagree on the kink policy: rank 0 has Policy\('torch'\), rank 1 has Policy\('jax'\)"),
])
def test_a_failure_on_one_rank_ends_the_job_with_its_reason(case, expected):
    code, out, seconds = mpirun("faults.py", case, timeout=60)
    assert code != 0 and "finished without an error" not in out, out
    assert re.search(expected, out), out
    assert seconds < 30, seconds                      # "hang" ends by its 3 s timeout, not by the test's


def test_the_scaling_benchmark_runs_on_1_and_2_ranks():
    """The command the README's scaling table comes from still works (numbers are reported, not judged)."""
    root = pathlib.Path(__file__).parents[1]
    res = subprocess.run([sys.executable, "-m", "benchmarks", "distributed", "--quick"], cwd=root,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    rows = [line.split() for line in res.stdout.splitlines() if line.startswith(("digits CNN", "784-512-512 MLP"))]
    assert [(r[0], r[2]) for r in rows[:4]] == [("digits", "1"), ("digits", "2"), ("784-512-512", "1"),
                                                ("784-512-512", "2")], res.stdout
    assert "projection" in res.stdout
