"""Data-parallel scaling over MPI: step time and throughput on 1 and 2 ranks, the bytes all-reduced per
step, and a model of larger jobs from those measurements.

    python -m benchmarks distributed            launches mpiexec -n 1 and -n 2 itself (OMP_NUM_THREADS=1)
    python -m benchmarks distributed --quick    fewer steps

Workloads: the digits CNN (conv 1->16->32, 8x8 inputs) and the 784-512-512-10 MLP on random data, each with
a global batch of 256 split across the ranks, Adam, fit's own distributed step. The model: a step on p ranks
takes compute(1)/p + the ring all-reduce of B bytes, 2 (p - 1) / p * B / bandwidth (plus the measured
per-step collective overhead), so scaling stops where the second term catches up with the first.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

GLOBAL_BATCH = 256


def _models():
    from kinkgrad import nn

    cnn = nn.Sequential([nn.Conv2d(1, 16, 3, padding=1, seed=0), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1, seed=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Dense(10, input_dim=32 * 2 * 2, seed=2)])
    mlp = nn.Sequential([nn.Dense(512, activation="relu", input_shape=(784,), seed=0),
                         nn.Dense(512, activation="relu", seed=1), nn.Dense(10, seed=2)])
    return {"digits CNN": (cnn, (1, 8, 8)), "784-512-512 MLP": (mlp, (784,))}


def worker(steps):
    """Run under mpiexec: time fit's distributed step; rank 0 prints one JSON line."""
    import kinkgrad.distributed as dist
    from kinkgrad import losses, optim
    from kinkgrad.data import ArrayDataset, DataLoader
    from kinkgrad.distributed import FitPlan

    dist.init(timeout=120)
    rng = np.random.default_rng(0)
    results = {}
    for name, (model, shape) in _models().items():
        X = rng.normal(size=(GLOBAL_BATCH * 4,) + shape).astype(np.float32)
        y = rng.integers(0, 10, len(X))
        model.build(shape)
        model.compile(optim.Adam(lr=1e-3), losses.get("sparse_categorical_crossentropy", from_logits=True))
        model._prepare_training(X[:1])
        plan = FitPlan(model, DataLoader(ArrayDataset(X, y), GLOBAL_BATCH, shuffle=True, seed=0))
        batches = [b for b, _ in plan.batches(0)]
        params = model.optimizer.params
        nbytes = sum(p.data.nbytes for p in params)

        def step(i):
            xb, yb = batches[i % len(batches)]
            plan.train_step(xb, yb, None, GLOBAL_BATCH)

        for i in range(3):
            step(i)
        times, reduce_times = [], []
        for i in range(steps):
            dist.barrier()
            t0 = time.perf_counter()
            step(i)
            times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            dist.all_reduce_gradients(params, op="sum", weight=0.5)
            reduce_times.append(time.perf_counter() - t0)
        worst = dist.all_reduce([statistics.median(times), statistics.median(reduce_times)], "max")
        results[name] = {"step_s": worst[0], "allreduce_s": worst[1], "bytes": nbytes}
    if dist.is_main():
        print("RESULT " + json.dumps({"ranks": dist.world_size(), "results": results}), flush=True)


def _launch(ranks, steps):
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if not os.path.exists(mpiexec):
        raise SystemExit("benchmarks distributed: mpiexec not found next to this Python; "
                         "pip install 'kinkgrad[mpi]' (mpi4py and mpich)")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([mpiexec, "-n", str(ranks), sys.executable, "-m", "benchmarks", "distributed", "--worker",
                          str(steps)], env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])


def main(argv):
    if argv[:1] == ["--worker"]:
        worker(int(argv[1]))
        return 0
    steps = 10 if "--quick" in argv else 40
    runs = {p: _launch(p, steps)["results"] for p in (1, 2)}
    print(f"data-parallel over MPI, OMP_NUM_THREADS=1 per rank, global batch {GLOBAL_BATCH}, Adam, "
          f"median of {steps} steps (slowest rank)")
    print(f"{'workload':18} {'ranks':>5} {'step ms':>9} {'samples/s':>10} {'speedup':>8} {'all-reduce ms':>14} "
          f"{'bytes/step':>11}")
    for name in runs[1]:
        one = runs[1][name]
        for p, run in runs.items():
            r = run[name]
            print(f"{name:18} {p:>5} {r['step_s'] * 1e3:9.2f} {GLOBAL_BATCH / r['step_s']:10.0f} "
                  f"{one['step_s'] / r['step_s']:7.2f}x {r['allreduce_s'] * 1e3:14.3f} {r['bytes']:11,d}")
    print("\nprojection: step(p) = compute(1)/p + 2(p-1)/p * bytes / bandwidth + overhead(2 ranks)")
    print(f"{'workload':18} {'Gbit/s':>7} " + " ".join(f"{'p=' + str(p):>8}" for p in (1, 2, 4, 8, 16, 64)))
    for name in runs[1]:
        compute = runs[1][name]["step_s"]
        overhead = max(runs[2][name]["allreduce_s"] - runs[2][name]["bytes"] / 20e9, 0.0)   # shared memory ~20 GB/s
        for gbit in (10, 100):
            speedups = []
            for p in (1, 2, 4, 8, 16, 64):
                wire = 0.0 if p == 1 else 2 * (p - 1) / p * runs[1][name]["bytes"] * 8 / (gbit * 1e9) + overhead
                speedups.append(compute / (compute / p + wire))
            print(f"{name:18} {gbit:>7} " + " ".join(f"{s:7.1f}x" for s in speedups))
    return 0
