"""Memory: the peak of one MLP training step (784-512-512-10, batch 128, SGD), kinkgrad vs PyTorch
vs NumPy; and the graph of a long scalar chain (10^4 to 10^6 ops), which must grow linearly.

Each measurement runs in its own process: set up, note the resident set size, run, and report how
far the peak RSS rose above that baseline (the memory the step itself needs: activations,
gradients, temporaries; for the chain, the recorded graph). Run with ``python -m benchmarks --memory``.
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


def chain_child(n):
    import time

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from benchmarks import workloads as w

    base = _rss_kb()
    t0 = time.perf_counter()
    x, y = w.scalar_chain_graph(n, dtype="float64")
    t1 = time.perf_counter()
    graph_kb = _rss_kb() - base
    y.backward()
    t2 = time.perf_counter()
    expect = 1.0000001 ** (n // 2)
    # the chain rule held: n/2 float64 products, each rounded once (relative error <= n/2 * eps)
    assert abs(float(x.grad.data) - expect) <= n * 2.3e-16 * expect, (float(x.grad.data), expect)
    print(json.dumps({"ops": n, "graph_kb": graph_kb, "forward_s": t1 - t0, "backward_s": t2 - t1}))


def _run_child(*args):
    res = subprocess.run([sys.executable, "-m", "benchmarks.memory", *args], capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if res.returncode != 0:
        raise RuntimeError(res.stderr)
    return json.loads(res.stdout.strip().splitlines()[-1])


def measure():
    out = {}
    for which in ("kinkgrad", "torch", "numpy"):
        out[which] = _run_child(which)
    return out


def report():
    m = measure()
    print("peak memory of an MLP 784-512-512-10 SGD step (batch 128), above each process's baseline RSS:")
    for k, v in m.items():
        print(f"  {k:<9} {v['step_kb'] / 1024:8.1f} MiB")
    print(f"  kinkgrad / PyTorch: {m['kinkgrad']['step_kb'] / max(m['torch']['step_kb'], 1):.2f}x;"
          f" kinkgrad / NumPy: {m['kinkgrad']['step_kb'] / max(m['numpy']['step_kb'], 1):.2f}x")
    print("a scalar chain (alternating * and +), graph memory and time: linear in its length")
    chains = [_run_child("chain", str(n)) for n in (10 ** 4, 10 ** 5, 10 ** 6)]
    for c in chains:
        per_op = c['graph_kb'] * 1024 / c['ops']
        print(f"  {c['ops']:>9,} ops  graph {c['graph_kb'] / 1024:8.1f} MiB ({per_op:5.0f} bytes/op)"
              f"  forward {c['forward_s']:6.2f} s  backward {c['backward_s']:6.2f} s")
    m["chains"] = chains
    return m


if __name__ == "__main__":
    if sys.argv[1] == "chain":
        chain_child(int(sys.argv[2]))
    else:
        child(sys.argv[1])
