"""Training-loop measurements on scikit-learn's digits MLP (64-128-10, ReLU, Adam, batch 32):

- ``fit(audit=True)`` against ``fit()``: the cost of kink telemetry per epoch (target <= 1.3x);
- ``fit()`` against a hand-written loop of ``train_step`` calls over the same batches: what fit's own
  machinery (loader, metrics accumulated on the way, callbacks, finite checks) adds;
- the kink hits per epoch of the same model trained in float16, float32 and float64.

    python -m benchmarks.training [--quick] [--epochs N] [--json FILE]

Timings alternate between the variants, repeat by repeat, and report medians with half the
interquartile range, so background load hits every variant alike.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
from sklearn.datasets import load_digits

import kinkgrad as kg
from kinkgrad import nn, optim


def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def mlp(dtype="float32", seed=0):
    model = nn.Sequential([nn.Dense(128, activation="relu", input_shape=(64,), seed=seed, dtype=dtype),
                           nn.Dense(10, seed=seed + 1, dtype=dtype)])
    return model.compile(optim.Adam(lr=3e-3), kg.losses.get("sparse_categorical_crossentropy", from_logits=True),
                         metrics=["accuracy"])


def _median(samples):
    samples = sorted(samples)
    q1, q3 = samples[len(samples) // 4], samples[(3 * len(samples)) // 4]
    return statistics.median(samples), (q3 - q1) / 2


def overhead(repeats):
    """Seconds per epoch: fit, fit(audit=True), and the hand-written loop."""
    X, y = digits()
    X = X.astype(np.float32)
    model = mlp()
    model._prepare_training(X)
    loader = kg.data.DataLoader((X, y), batch_size=32, shuffle=True, seed=0)

    def hand_loop():
        for xb, yb in loader:
            model.train_step(xb, yb)

    variants = {"fit": lambda: model.fit(X, y, epochs=1, batch_size=32, seed=0, verbose=0),
                "fit(audit=True)": lambda: model.fit(X, y, epochs=1, batch_size=32, seed=0, verbose=0, audit=True),
                "train_step loop": hand_loop}
    times = {k: [] for k in variants}
    for fn in variants.values():
        fn()                                                 # warm up
    for _ in range(repeats):
        for name, fn in variants.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {k: _median(v) for k, v in times.items()}


def kink_hits(epochs):
    X, y = digits()
    out = {}
    for dtype in ("float16", "float32", "float64"):
        h = mlp(dtype).fit(X, y, epochs=epochs, batch_size=32, seed=0, verbose=0, audit=True)
        out[dtype] = {"hits": [k["hits"] for k in h.kinks], "dependent": [k["dependent"] for k in h.kinks],
                      "evaluated_per_epoch": h.kinks[0]["evaluated"], "accuracy": h.history["accuracy"][-1]}
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.training")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and epochs (CI)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs of the dtype comparison (default 10, quick 3)")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    repeats = 7 if args.quick else 31
    epochs = args.epochs or (3 if args.quick else 10)
    t = overhead(repeats)
    print("digits MLP 64-128-10, Adam, batch 32, one epoch (57 steps); medians ± half the IQR")
    for name, (m, s) in t.items():
        print(f"  {name:<18}{m * 1e3:8.1f} ms ±{s * 1e3:.1f}")
    audit_ratio = t["fit(audit=True)"][0] / t["fit"][0]
    fit_ratio = t["fit"][0] / t["train_step loop"][0]
    print(f"  audit overhead: {audit_ratio:.2f}x fit (target <= 1.3x); fit vs hand-written loop: {fit_ratio:.2f}x")
    hits = kink_hits(epochs)
    print(f"kink hits per epoch under fit(audit=True), {epochs} epochs (relu inputs exactly 0 in backward):")
    for dtype, r in hits.items():
        print(f"  {dtype}: hits {r['hits']} (total {sum(r['hits'])}), convention-dependent {sum(r['dependent'])}, "
              f"of {r['evaluated_per_epoch']} evaluated per epoch; final training accuracy {r['accuracy']:.4f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"seconds_per_epoch": {k: v[0] for k, v in t.items()}, "audit_ratio": audit_ratio,
                       "fit_vs_loop": fit_ratio, "kink_hits": hits}, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
