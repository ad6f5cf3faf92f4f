"""Digits MLP (64-128-10, ReLU, Adam) in kinkgrad, and the same model trained the same way in PyTorch.

    python examples/digits_mlp.py [--epochs 20] [--lr 3e-3] [--batch-size 32] [--seed 0] [--verbose]

Data: scikit-learn's bundled 8x8 digits (1,797 images, no download), pixels scaled to [0, 1], a
stratified 75/25 split (random_state=0). Both frameworks start from the same weights (kinkgrad's,
copied into PyTorch) and see the same mini-batches in the same order, so their curves are directly
comparable; the PyTorch half is skipped if torch is not installed.
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import kinkgrad as kg
from kinkgrad import losses, nn, optim


def load(seed_split=0):
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y, test_size=0.25, random_state=seed_split, stratify=y)


def build_kinkgrad(seed):
    # Give every Dense its input size, so all layers exist (and are trained) from the first step.
    return nn.Sequential([nn.Dense(128, activation="relu", input_shape=(64,), seed=seed),
                          nn.Dense(10, input_dim=128, seed=seed + 1)])


def train_kinkgrad(model, Xtr, ytr, Xte, yte, args):
    model.compile(optimizer=optim.Adam(lr=args.lr),
                  loss=losses.get("sparse_categorical_crossentropy", from_logits=True), metrics=["accuracy"])
    timer = nn.EpochTimer()
    history = model.fit(Xtr, ytr, epochs=args.epochs, batch_size=args.batch_size, validation_data=(Xte, yte),
                        callbacks=[timer], verbose=int(args.verbose), seed=args.seed)
    return history.history, timer.times, model.evaluate(Xte, yte)["accuracy"]


def train_torch(kg_model, Xtr, ytr, Xte, yte, args):
    import torch

    torch.manual_seed(args.seed)
    d1, d2 = kg_model.layers
    net = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    with torch.no_grad():                       # the same starting weights (Dense kernels are (in, out))
        net[0].weight.copy_(torch.tensor(d1.kernel.data.T))
        net[0].bias.copy_(torch.tensor(d1.bias.data))
        net[2].weight.copy_(torch.tensor(d2.kernel.data.T))
        net[2].bias.copy_(torch.tensor(d2.bias.data))
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    Xt, yt, Xv = torch.tensor(Xtr), torch.tensor(ytr), torch.tensor(Xte)
    order_of = kg.data.DataLoader(np.arange(len(Xtr)), batch_size=args.batch_size, shuffle=True,
                              seed=args.seed).order   # fit(seed=...)'s batch order, epoch by epoch
    losses_, accs, times = [], [], []
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        order = order_of(epoch)
        total = 0.0
        for b in range(math.ceil(len(Xtr) / args.batch_size)):
            idx = torch.tensor(order[b * args.batch_size:(b + 1) * args.batch_size])
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        with torch.no_grad():
            accs.append(float((net(Xv).argmax(1).numpy() == yte).mean()))
        times.append(time.perf_counter() - t0)
        losses_.append(total / len(Xtr))
    return losses_, accs, times


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", action="store_true", help="show kinkgrad's tqdm progress bar")
    args = p.parse_args(argv)

    Xtr, Xte, ytr, yte = load()
    print(f"digits: {len(Xtr)} train / {len(Xte)} test, MLP 64-128-10 ReLU, Adam lr={args.lr}, "
          f"batch {args.batch_size}, {args.epochs} epochs")
    model = build_kinkgrad(args.seed)
    hist, kg_times, kg_acc = train_kinkgrad(model, Xtr, ytr, Xte, yte, args)

    try:
        t_losses, t_accs, t_times = train_torch(build_kinkgrad(args.seed), Xtr, ytr, Xte, yte, args)
    except ImportError:
        t_losses = None
        print("(torch is not installed: PyTorch comparison skipped)")

    head = f"{'epoch':>5} | {'kinkgrad loss':>13} {'val acc':>7} {'time s':>7}"
    if t_losses:
        head += f" | {'torch loss':>10} {'val acc':>7} {'time s':>7}"
    print(head)
    for e in range(len(kg_times)):
        row = f"{e + 1:>5} | {hist['loss'][e]:>13.4f} {hist['val_accuracy'][e]:>7.4f} {kg_times[e]:>7.3f}"
        if t_losses:
            row += f" | {t_losses[e]:>10.4f} {t_accs[e]:>7.4f} {t_times[e]:>7.3f}"
        print(row)
    print(f"kinkgrad: test accuracy {kg_acc:.4f}, mean epoch {np.mean(kg_times):.3f} s "
          f"(median {np.median(kg_times):.3f} s)")
    if t_losses:
        print(f"PyTorch : test accuracy {t_accs[-1]:.4f}, mean epoch {np.mean(t_times):.3f} s "
              f"(median {np.median(t_times):.3f} s)")


if __name__ == "__main__":
    main()
