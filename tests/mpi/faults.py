"""One failure per run, chosen by argv[1]; tests/test_distributed.py checks that the job ends (no hang)
and what it printed.

raise     rank 1 raises in the middle of an epoch of fit
hang      rank 1 stops taking part (sleeps) while rank 0 waits in a collective; init(timeout=3)
shapes    the ranks build models of different widths
policy    the ranks run under different kink presets
"""
from __future__ import annotations

import sys
import time

from common import digits, mlp

import kinkgrad as kg
import kinkgrad.distributed as dist
from kinkgrad import losses, nn, optim

case = sys.argv[1]
dist.init(timeout=3 if case == "hang" else 60)
X, y = digits()
loss = losses.get("sparse_categorical_crossentropy", from_logits=True)


class Boom(nn.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if dist.rank() == 1 and batch == 5:
            raise ValueError("boom: a failure on one rank in the middle of an epoch")


if case == "raise":
    mlp().compile("adam", loss).fit(X, y, epochs=2, verbose=0, callbacks=[Boom()], distributed=True)
elif case == "hang":
    if dist.rank() == 1:
        time.sleep(60)
    dist.barrier()
elif case == "shapes":
    model = nn.Sequential([nn.Dense(16 + 16 * dist.rank(), input_shape=(64,), seed=0), nn.Dense(10, seed=1)])
    dist.broadcast_parameters(model)
elif case == "policy":
    model = mlp()
    model.build((64,))
    opt = optim.SGD(model.parameters(), lr=0.1)
    with kg.kinks("torch" if dist.rank() == 0 else "jax"):
        loss(y[:8], model(X[:8])).backward()
        dist.all_reduce_gradients(model.parameters())
print(f"rank {dist.rank()}: finished without an error", flush=True)
