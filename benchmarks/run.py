"""Run the benchmarks and print medians, spread and ratios measured side by side in one run.

    python -m benchmarks            full run
    python -m benchmarks --quick    fewer repeats (CI); add --check to fail on gross regressions
    python -m benchmarks --json out.json
    python -m benchmarks distributed        data-parallel scaling over MPI (benchmarks/distributed.py)
    python -m benchmarks --reuse-memory     glibc keeps freed memory (kg.reuse_freed_memory), for
                                            every framework in the run alike

Threads: PyTorch is pinned to the same intra-op thread count NumPy's BLAS uses (reported).
BLAS environment: OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are left exactly as the environment sets them.

Garbage collection: after the imports the harness calls ``gc.freeze()``. Importing PyTorch leaves
~200k tracked objects, and one full collection over them takes ~100 ms; without freezing, whichever
framework happens to allocate when the threshold trips pays for it. Collections over the objects
the workloads themselves create still happen and are still timed, for every framework alike.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

import kinkgrad as kg

from . import workloads as w


def kg_tensor(a):
    return kg.tensor(a, requires_grad=True)

# a guarded ratio above this fails --check: it flags gross regressions, not noise. Each guarded row
# names the reference it is guarded against: PyTorch, or for the CNN (~2x PyTorch by design: NumPy
# has no direct convolution) the hand-written NumPy floor
GROSS = 3.0


def timeit(fn, repeat, inner=1, warmup_s=0.3):
    # warm up for a while, not once: right after another framework's workload the first few calls
    # run up to 2x slower (the allocator's heap and the caches still hold the other one's state)
    t_end = time.perf_counter() + warmup_s
    for _ in range(3):
        fn()
    while time.perf_counter() < t_end:
        fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) / inner)
    samples.sort()
    q1, q3 = samples[len(samples) // 4], samples[(3 * len(samples)) // 4]
    return statistics.median(samples), q3 - q1


def _same_gradients(name, ours, *others):
    """Refuse to time a workload whose gradients differ between the implementations. float32 sums of
    up to 128 x 512 products: rounding grows like sqrt(n) * 1.2e-7 relative to the largest terms, so
    1e-4 relative (and 1e-4 of the largest entry for values that cancel) is loose enough for every
    order of summation and far too tight for a wrong gradient."""
    for other in others:
        for i, (a, b) in enumerate(zip(ours, other)):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * float(np.abs(b).max()),
                                       err_msg=f"{name}: gradient of parameter {i} differs")


def _fmt(t, spread=None):
    """A median, with the interquartile range as a percentage of it."""
    text = f"{t * 1e6:.1f} us" if t < 1e-2 else f"{t * 1e3:.2f} ms"
    return text if spread is None else f"{text} ±{50 * spread / t:.0f}%"


def environment():
    import torch

    info = {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "machine": platform.machine(),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
            "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE")}
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [(d.get("internal_api"), d.get("architecture"), d.get("num_threads")) for d in threadpool_info()]
    except ImportError:
        info["blas"] = "threadpoolctl not installed"
    return info


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["distributed"]:
        from .distributed import main as distributed

        return distributed(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (for CI)")
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 if a guarded workload is over {GROSS}x its reference (chains and MLP: PyTorch; "
                             "CNN: hand-written NumPy)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--memory", action="store_true", help="measure the peak memory of the MLP step instead")
    parser.add_argument("--reuse-memory", action="store_true",
                        help="call kg.reuse_freed_memory() first (process-wide: PyTorch and NumPy get it too)")
    args = parser.parse_args(argv)
    reused = kg.reuse_freed_memory() if args.reuse_memory else False
    if args.reuse_memory and not reused:
        print("--reuse-memory: the C library is not glibc; running with its default allocator", file=sys.stderr)
    if args.memory:
        from .memory import report

        report()
        return 0

    import torch

    torch.set_num_threads(int(os.environ.get("KINKGRAD_BENCH_THREADS", torch.get_num_threads())))
    repeat = 7 if args.quick else 41
    rng = np.random.default_rng(0)
    x16 = rng.uniform(-1, 1, 16).astype(np.float32)

    # same numbers first, then time
    ref = w.per_op_numpy(x16)
    np.testing.assert_allclose(w.per_op_kinkgrad(x16), ref, rtol=1e-5)   # float32: a few ulps over 60 ops
    np.testing.assert_allclose(w.per_op_torch(x16), ref, rtol=1e-5)

    gc.collect()
    gc.freeze()
    rows = []

    def row(name, kg_fn, torch_fn=None, numpy_fn=None, ops=1, inner=1, check=None):
        t_kg, s_kg = timeit(kg_fn, repeat, inner)
        r = {"workload": name, "kinkgrad_s": t_kg, "kinkgrad_spread_s": s_kg, "per_op_s": t_kg / ops,
             "checked": check}
        if torch_fn:
            t_t, s_t = timeit(torch_fn, repeat, inner)
            r.update(torch_s=t_t, torch_spread_s=s_t, ratio_vs_torch=t_kg / t_t)
        if numpy_fn:
            t_n, s_n = timeit(numpy_fn, repeat, inner)
            r.update(numpy_s=t_n, numpy_spread_s=s_n, ratio_vs_numpy=t_kg / t_n)
        rows.append(r)

    inner = 20 if args.quick else 100
    row(f"elementwise chain: {w.CHAIN_OPS} ops on 16 floats, fwd+bwd",
        lambda: w.per_op_kinkgrad(x16), lambda: w.per_op_torch(x16), lambda: w.per_op_numpy(x16),
        ops=w.CHAIN_OPS, inner=inner, check="torch")
    n = 2000 if args.quick else w.SCALAR_CHAIN
    row(f"scalar chain: {n} ops, fwd+bwd", lambda: w.scalar_chain_kinkgrad(n), lambda: w.scalar_chain_torch(n),
        ops=n, check="torch")
    # training steps against PyTorch and the hand-written NumPy floor (gradients checked equal first)
    ws, Xm_, ym_ = w.mlp_data()
    kp = [kg_tensor(a) for a in ws]
    tp = [torch.tensor(a, requires_grad=True) for a in ws]
    npp = [a.copy() for a in ws]
    Xt, yt = torch.tensor(Xm_), torch.tensor(ym_)
    _same_gradients("MLP", w.gradients(w.mlp_loss_kinkgrad(kp, Xm_, ym_), kp),
                    w.gradients(w.mlp_loss_torch(tp, Xt, yt), tp), w.mlp_grads_numpy(npp, Xm_, ym_)[1])
    row("MLP 784-512-512-10 SGD step, batch 128", lambda: w.mlp_step_kinkgrad(kp, Xm_, ym_),
        lambda: w.mlp_step_torch(tp, Xt, yt), lambda: w.mlp_step_numpy(npp, Xm_, ym_), inner=1, check="torch")
    cp, CX, cy = w.cnn_data()
    kc = [kg_tensor(a) for a in cp]
    tc = [torch.tensor(a, requires_grad=True) for a in cp]
    CXt, cyt = torch.tensor(CX), torch.tensor(cy)
    cnp = [a.copy() for a in cp]
    _same_gradients("CNN", w.gradients(w.cnn_loss_kinkgrad(kc, CX, cy), kc),
                    w.gradients(w.cnn_loss_torch(tc, CXt, cyt), tc), w.cnn_grads_numpy(cnp, CX, cy)[1])
    row("CNN conv16-pool-conv32-pool-dense10 SGD step, batch 64", lambda: w.cnn_step_kinkgrad(kc, CX, cy),
        lambda: w.cnn_step_torch(tc, CXt, cyt), lambda: w.cnn_step_numpy(cnp, CX, cy), inner=1, check="numpy")

    # the kink machinery: each row below is compared with the one named in 'baseline'
    xk = np.where(np.arange(16) % 4 == 0, 0.0, x16).astype(np.float32)    # some exact kinks
    base = dict(
        plain=lambda: w.unary_chain(xk, w.plain_relu),
        fast=lambda: w.unary_chain(xk, kg.relu),
        right=lambda: w.unary_chain(xk, kg.relu, context=lambda: kg.kinks("right")),
        audit=lambda: w.unary_chain(xk, kg.relu, context=kg.audit),
    )
    for name, label in (("plain", "relu chain, op with no kink declaration"),
                        ("fast", "relu chain, default policy (fast path)"),
                        ("right", "relu chain, 'right' policy (kinks located)"),
                        ("audit", "relu chain, under kg.audit()")):
        row(f"{label}: {w.CHAIN_OPS} ops", base[name], ops=w.CHAIN_OPS, inner=inner)
    xpos = np.abs(x16) + 0.5
    params, Xm, ym = w.small_mlp()
    row("MLP 64-128-10 gradient, batch 64: plain", lambda: w.mlp_grad(params, Xm, ym), inner=max(inner // 10, 2))
    row("MLP 64-128-10 gradient, batch 64: directional", lambda: w.mlp_grad(params, Xm, ym, "directional"),
        inner=max(inner // 10, 2))
    row(f"elementwise chain, directional: {w.CHAIN_OPS} ops", lambda: w.per_op_kinkgrad(x16, "directional"),
        inner=inner)
    row("relu chain, directional, a kink at every op (worst case): 60 ops",
        lambda: w.unary_chain(xk, kg.relu, context=lambda: kg.kinks("directional")), inner=inner)
    row(f"elementwise chain, under kg.detect_anomaly(): {w.CHAIN_OPS} ops",
        lambda: w.per_op_kinkgrad(x16, anomaly=True), inner=inner)
    row("sqrt chain, no NaN-safe masking: 8 sqrt + 8 add", lambda: w.sqrt_chain(xpos, w.plain_sqrt), inner=inner)
    row("sqrt chain, NaN-safe masking: 8 sqrt + 8 add", lambda: w.sqrt_chain(xpos, kg.sqrt), inner=inner)

    env = environment()
    env["allocator"] = "freed memory reused (kg.reuse_freed_memory)" if reused else "C library default"
    print("kinkgrad benchmarks  " + "  ".join(f"{k}={v}" for k, v in env.items()))
    print("medians, ± half the interquartile range")
    print(f"{'workload':<58}{'kinkgrad':>19}{'PyTorch':>19}{'NumPy':>19}{'vs torch':>10}{'vs numpy':>10}")
    for r in rows:
        cells = [_fmt(r["kinkgrad_s"], r["kinkgrad_spread_s"]),
                 _fmt(r["torch_s"], r["torch_spread_s"]) if "torch_s" in r else "",
                 _fmt(r["numpy_s"], r["numpy_spread_s"]) if "numpy_s" in r else "",
                 f"{r['ratio_vs_torch']:.2f}x" if "ratio_vs_torch" in r else "",
                 f"{r['ratio_vs_numpy']:.2f}x" if "ratio_vs_numpy" in r else ""]
        print(f"{r['workload']:<58}" + "".join(f"{c:>19}" for c in cells[:3]) + "".join(f"{c:>10}" for c in cells[3:]))
    t = {r["workload"].split(":")[0]: r["kinkgrad_s"] for r in rows}

    def rows_by(prefix):
        return next(r["kinkgrad_s"] for r in rows if r["workload"].startswith(prefix))
    RIGHT = "relu chain, 'right' policy (kinks located)"
    plain, fast = t["relu chain, op with no kink declaration"], t["relu chain, default policy (fast path)"]
    torch_per_op = rows[0]['torch_s'] / w.CHAIN_OPS
    print(f"per op: kinkgrad {rows[0]['per_op_s'] * 1e6:.2f} us vs PyTorch {torch_per_op * 1e6:.2f} us")
    print(f"kink machinery on a relu chain: default fast path {fast / plain:.2f}x an op without kink logic; "
          f"locating kinks ('right') {t[RIGHT] / plain:.2f}x; "
          f"audit on {t['relu chain, under kg.audit()'] / plain:.2f}x")
    mlp = rows_by('MLP 64-128-10 gradient, batch 64: directional') / rows_by('MLP 64-128-10 gradient, batch 64: plain')
    print(f"directional mode vs plain gradient: MLP {mlp:.2f}x, "
          f"elementwise chain {rows_by('elementwise chain, directional') / rows[0]['kinkgrad_s']:.2f}x, "
          f"relu chain with a kink at every op {rows_by('relu chain, directional') / fast:.2f}x")
    masking = t['sqrt chain, NaN-safe masking'] / t['sqrt chain, no NaN-safe masking']
    print(f"NaN-safe masking on a sqrt chain: {masking:.2f}x")
    anomaly = rows_by('elementwise chain, under kg.detect_anomaly()') / rows[0]['kinkgrad_s']
    print(f"anomaly mode: off is the default path above (one flag test per node); on {anomaly:.2f}x the "
          "elementwise chain")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"environment": env, "results": rows}, fh, indent=2)
    if args.check:
        bad = [r for r in rows if r["checked"] and r["ratio_vs_" + r["checked"]] > GROSS]
        for r in bad:
            ref = "PyTorch" if r["checked"] == "torch" else "hand-written NumPy"
            ratio = r["ratio_vs_" + r["checked"]]
            print(f"REGRESSION: {r['workload']}: {ratio:.2f}x {ref} (limit {GROSS}x)", file=sys.stderr)
        return 1 if bad else 0
    return 0
