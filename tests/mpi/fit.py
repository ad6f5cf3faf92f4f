"""``fit(distributed=True)`` on 2 ranks: the accuracy of one process (within 1 point), the same logs on
every rank, checkpoints and progress from rank 0 only, and a merged kink audit equal to the sum of the
ranks' own counts. argv[1]: a directory for the checkpoints."""
from __future__ import annotations

import json
import os
import sys

import numpy as np
from common import digits, mlp

import kinkgrad.distributed as dist
from kinkgrad import losses, nn, optim

out = sys.argv[1]
dist.init(timeout=60)
X, y = digits()
Xtr, ytr, Xte, yte = X[:1400].copy(), y[:1400], X[1400:], y[1400:]
Xtr[::50] = 0.0       # blank images: relu's input is the bias, 0 at the start, so the audit has hits to merge


def run(distributed, **fit_args):
    model = mlp(seed=3 + dist.rank() if distributed else 3)        # rank 1 starts elsewhere: broadcast fixes it
    model.compile(optim.Adam(lr=3e-3), losses.get("sparse_categorical_crossentropy", from_logits=True),
                  metrics=["accuracy"])
    hist = model.fit(Xtr, ytr, epochs=8, batch_size=64, seed=0, verbose=0, distributed=distributed, **fit_args)
    return model, hist


ckpt = nn.ModelCheckpoint(os.path.join(out, f"ckpt-rank{dist.rank()}-{{epoch}}.kg"), monitor="loss")
model, hist = run(True, audit=True, callbacks=[ckpt])
acc = model.evaluate(Xte, yte)["accuracy"]
logs = dist.gather({k: [float(v) for v in vs] for k, vs in hist.history.items()})
assert logs[0] == logs[1], f"the ranks logged different numbers: {logs}"
assert hist.kinks[0]["hits"] > 0 and all(r["hits"] > 0 for r in hist.kinks[0]["ranks"]), hist.kinks[0]
for e in hist.kinks:
    assert e["hits"] == sum(r["hits"] for r in e["ranks"]), e
    assert e["evaluated"] == sum(r["evaluated"] for r in e["ranks"]), e
    assert e["dependent"] == sum(r["dependent"] for r in e["ranks"]), e
weights = dist.gather([p.data.tobytes() for p in model.parameters()])
assert weights[0] == weights[1], "the replicas drifted apart"
class_weights = {c: 1.0 + c / 10 for c in range(10)}           # class weights reach each rank's share
_, weighted = run(True, class_weight=class_weights)
bn = nn.Sequential([nn.Dense(16, input_shape=(64,), seed=0), nn.BatchNorm1d(16), nn.ReLU(), nn.Dense(10, seed=1)])
bn.compile("adam", losses.get("sparse_categorical_crossentropy", from_logits=True))
bn.fit(Xtr, ytr, epochs=1, batch_size=64, seed=0, verbose=0)
stats = dist.gather([b.tobytes() for _, b in bn.named_buffers()])
assert len(stats[0]) == 2 and stats[0] == stats[1], "BatchNorm statistics differ between the ranks"
if dist.is_main():
    alone_model, alone_hist = run(False)
    alone = alone_model.evaluate(Xte, yte)["accuracy"]
    print(json.dumps({"accuracy_2_ranks": acc, "accuracy_1_process": alone,
                      "evaluated": [e["evaluated"] for e in hist.kinks], "ranks": hist.kinks[-1]["ranks"],
                      "files": sorted(os.listdir(out))}))
    assert abs(acc - alone) <= 0.01, (acc, alone)
    assert np.isclose(hist.history["loss"][0], alone_hist.history["loss"][0], rtol=1e-5), \
        (hist.history["loss"][0], alone_hist.history["loss"][0])
    _, weighted_alone = run(False, class_weight=class_weights)
    assert np.allclose(weighted.history["loss"], weighted_alone.history["loss"], rtol=1e-5), \
        (weighted.history["loss"], weighted_alone.history["loss"])
    assert not np.allclose(weighted.history["loss"], hist.history["loss"], rtol=1e-3)     # the weights did act
