"""Peak memory of one MLP training step (784-512-512-10, batch 128, SGD), kinkgrad vs PyTorch vs NumPy.

Each framework runs in its own process: set up the model and data, note the resident set size, run
steps, and report how far the peak RSS rose above that baseline (the memory the step itself needs:
activations, gradients, temporaries). Run with ``python -m benchmarks --memory``.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys


def _rss_kb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(which):
    import numpy as np

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from benchmarks import workloads as w

    ws, X, y = w.mlp_data()
    if which == "kinkgrad":
        import kinkgrad as kg

        params = [kg.tensor(a, requires_grad=True) for a in ws]
        step = lambda: w.mlp_step_kinkgrad(params, X, y)  # noqa: E731
    elif which == "torch":
        import torch

        torch.set_num_threads(int(os.environ.get("KINKGRAD_BENCH_THREADS", torch.get_num_threads())))
        params = [torch.tensor(a, requires_grad=True) for a in ws]
        Xt, yt = torch.tensor(X), torch.tensor(y)
        step = lambda: w.mlp_step_torch(params, Xt, yt)  # noqa: E731
    else:
        params = [a.copy() for a in ws]
        step = lambda: w.mlp_step_numpy(params, X, y)  # noqa: E731
    np.asarray(0)
    base = _rss_kb()
    for _ in range(10):
        step()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"framework": which, "baseline_kb": base, "peak_kb": peak, "step_kb": max(peak - base, 0)}))


def measure():
    out = {}
    for which in ("kinkgrad", "torch", "numpy"):
        res = subprocess.run([sys.executable, "-m", "benchmarks.memory", which], capture_output=True, text=True,
                             cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        if res.returncode != 0:
            raise RuntimeError(res.stderr)
        out[which] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


def report():
    m = measure()
    print("peak memory of an MLP 784-512-512-10 SGD step (batch 128), above each process's baseline RSS:")
    for k, v in m.items():
        print(f"  {k:<9} {v['step_kb'] / 1024:8.1f} MiB")
    print(f"  kinkgrad / PyTorch: {m['kinkgrad']['step_kb'] / max(m['torch']['step_kb'], 1):.2f}x;"
          f" kinkgrad / NumPy: {m['kinkgrad']['step_kb'] / max(m['numpy']['step_kb'], 1):.2f}x")
    return m


if __name__ == "__main__":
    child(sys.argv[1])
