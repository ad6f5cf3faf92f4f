"""Diabetes regression (10-32-1 ReLU MLP, Adam) trained with different losses (MSE, MAE, Huber,
log-cosh) in kinkgrad and, side by side, the same model trained the same way in PyTorch.

    python examples/diabetes_losses.py [--epochs 60] [--lr 3e-3] [--batch-size 32] [--seed 0]

Data: scikit-learn's bundled diabetes set (442 patients, 10 features, no download), a 75/25 split
(random_state=0); features and target standardised with the training statistics. Every loss is
reported as the test MAE in the target's original units (disease progression score). For each
loss both frameworks start from the same weights and see the same batches in the same order.
MAE is the loss with a kink exactly where training wants to be (y_pred == y_true): kinkgrad takes
abs'(0) = 0 there by default, as PyTorch's l1_loss does.
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split

import kinkgrad as kg
from kinkgrad import losses, nn, optim

LOSSES = {   # name: (kinkgrad loss, PyTorch loss builder)
    "mse": (losses.mse, lambda F: F.mse_loss),
    "mae": (losses.mae, lambda F: F.l1_loss),
    "huber": (losses.huber, lambda F: F.huber_loss),
    "log_cosh": (losses.log_cosh, lambda F: (lambda p, t: (p - t + F.softplus(-2 * (p - t)) - math.log(2)).mean())),
}




def load():
    X, y = load_diabetes(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0)
    mu, sd = Xtr.mean(0), Xtr.std(0)
    ym, ys = ytr.mean(), ytr.std()
    return (((Xtr - mu) / sd).astype(np.float32), ((Xte - mu) / sd).astype(np.float32),
            ((ytr - ym) / ys).astype(np.float32).reshape(-1, 1), yte.reshape(-1, 1), ym, ys)


def build(seed):
    return nn.Sequential([nn.Dense(32, activation="relu", input_shape=(10,), seed=seed),
                          nn.Dense(1, input_dim=32, seed=seed + 1)])


def train_kinkgrad(loss, data, args):
    Xtr, Xte, ytr, yte, ym, ys = data
    model = build(args.seed)
    start = model.state_dict()
    model.compile(optimizer=optim.Adam(lr=args.lr), loss=loss)
    timer = nn.EpochTimer()
    model.fit(Xtr, ytr, epochs=args.epochs, batch_size=args.batch_size, callbacks=[timer], verbose=0,
              seed=args.seed)
    mae = float(np.mean(np.abs(model.predict(Xte).data * ys + ym - yte)))
    return mae, timer.times, start


def train_torch(loss_builder, start, data, args):
    import torch
    import torch.nn.functional as F

    Xtr, Xte, ytr, yte, ym, ys = data
    loss_fn = loss_builder(F)
    net = torch.nn.Sequential(torch.nn.Linear(10, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor(start["layers.0.kernel"].T))
        net[0].bias.copy_(torch.tensor(start["layers.0.bias"]))
        net[2].weight.copy_(torch.tensor(start["layers.1.kernel"].T))
        net[2].bias.copy_(torch.tensor(start["layers.1.bias"]))
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    Xt, Yt = torch.tensor(Xtr), torch.tensor(ytr)
    order_of = kg.data.DataLoader(np.arange(len(Xtr)), batch_size=args.batch_size, shuffle=True,
                              seed=args.seed).order   # fit(seed=...)'s batch order, epoch by epoch
    times = []
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        order = order_of(epoch)
        for b in range(math.ceil(len(Xtr) / args.batch_size)):
            idx = torch.tensor(order[b * args.batch_size:(b + 1) * args.batch_size])
            opt.zero_grad()
            loss_fn(net(Xt[idx]), Yt[idx]).backward()
            opt.step()
        times.append(time.perf_counter() - t0)
    with torch.no_grad():
        mae = float(np.mean(np.abs(net(torch.tensor(Xte)).numpy() * ys + ym - yte)))
    return mae, times


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    data = load()
    Xtr, Xte, _, yte, ym, _ = data
    print(f"diabetes: {len(Xtr)} train / {len(Xte)} test, MLP 10-32-1 ReLU, Adam lr={args.lr}, "
          f"batch {args.batch_size}, {args.epochs} epochs")
    print(f"baseline (predict the training mean): test MAE {np.mean(np.abs(ym - yte)):.2f}")
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
        print("(torch is not installed: PyTorch comparison skipped)")

    print(f"{'loss':>9} | {'kinkgrad MAE':>12} {'epoch s':>8}" + (f" | {'PyTorch MAE':>11} {'epoch s':>8} {'diff':>6}"
                                                               if have_torch else ""))
    for name, (kg_loss, torch_loss) in LOSSES.items():
        mae_k, times_k, start = train_kinkgrad(kg_loss, data, args)
        row = f"{name:>9} | {mae_k:>12.2f} {np.median(times_k):>8.4f}"
        if have_torch:
            mae_t, times_t = train_torch(torch_loss, start, data, args)
            row += f" | {mae_t:>11.2f} {np.median(times_t):>8.4f} {100 * (mae_k - mae_t) / mae_t:>+5.1f}%"
        print(row)
        if name == "mae":
            shown = [e for e in range(args.epochs) if e % 10 == 0 or e == args.epochs - 1]
            print("          per-epoch seconds (MAE run), epochs " + ", ".join(str(e + 1) for e in shown) + ":")
            print("          kinkgrad " + " ".join(f"{times_k[e]:.4f}" for e in shown))
            if have_torch:
                print("          PyTorch  " + " ".join(f"{times_t[e]:.4f}" for e in shown))
    print("(epoch s = median seconds per epoch; diff = kinkgrad MAE relative to PyTorch's)")


if __name__ == "__main__":
    main()
