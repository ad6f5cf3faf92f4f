"""Two ranks, each on half of every global batch, end with the weights of one process on the whole batch
(20 steps of SGD with momentum and of Adam, the digits MLP and CNN); rank 0 runs the one-process
reference itself. Prints the largest difference per case."""
from __future__ import annotations

import sys

import numpy as np
from common import cnn, digits, mlp

import kinkgrad.distributed as dist
from kinkgrad import losses, optim

STEPS, BATCH = 20, 64


def train(make, X, y, opt_name, shard):
    model = make()
    model.build(X.shape[1:])
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9) if opt_name == "sgd" else \
        optim.Adam(model.parameters(), lr=1e-2)
    if shard:
        dist.broadcast_parameters(model)
    rng = np.random.default_rng(0)
    for _ in range(STEPS):
        idx = rng.choice(len(X), BATCH, replace=False)
        if shard:
            idx = np.array_split(idx, dist.world_size())[dist.rank()]
        loss = losses.sparse_categorical_crossentropy(y[idx], model(X[idx]), from_logits=True)
        opt.zero_grad()
        loss.backward()
        if shard:
            dist.all_reduce_gradients(model.parameters())
        opt.step()
    return [p.data.copy() for p in model.parameters()]


dist.init(timeout=60)
assert dist.world_size() == 2, dist.world_size()
worst = 0.0
for name, make, shape in (("mlp", mlp, "flat"), ("cnn", cnn, "image")):
    X, y = digits(shape)
    for opt_name in ("sgd", "adam"):
        parallel = train(make, X, y, opt_name, shard=True)
        gathered = dist.gather([p.tobytes() for p in parallel])
        assert gathered[0] == gathered[1], f"{name}/{opt_name}: the replicas drifted apart"
        if dist.is_main():
            alone = train(make, X, y, opt_name, shard=False)
            diff = max(float(np.max(np.abs(a - b))) for a, b in zip(parallel, alone))
            scale = max(float(np.max(np.abs(b))) for b in alone)
            print(f"{name}/{opt_name}: max |2 ranks - 1 process| = {diff:.3g} (weights up to {scale:.3g})")
            worst = max(worst, diff / scale)
if dist.is_main():
    print(f"worst relative difference {worst:.3g}")
    sys.exit(0 if worst < float(sys.argv[1]) else 1)
