"""A small CNN on the 8x8 digits in kinkgrad:
Conv2d(1,16,3,p=1)-ReLU-MaxPool2d(2)-Conv2d(16,32,3,p=1)-ReLU-MaxPool2d(2)-Flatten-Dense(10).

    python examples/digits_cnn.py [--epochs 20] [--lr 5e-3] [--batch-size 32] [--seed 0] [--verbose]

Data: scikit-learn's bundled digits (no download), pixels scaled to [0, 1], shaped (N, 1, 8, 8)
(PyTorch's channels-first layout), a stratified 75/25 split (random_state=0). Adam with a cosine
learning-rate schedule over all steps.
"""
from __future__ import annotations

import argparse
import math

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from kinkgrad import losses, nn, optim


def build(seed):
    return nn.Sequential([
        nn.Conv2d(1, 16, 3, padding=1, seed=seed), nn.ReLU(), nn.MaxPool2d(2),        # 16 x 4 x 4
        nn.Conv2d(16, 32, 3, padding=1, seed=seed + 1), nn.ReLU(), nn.MaxPool2d(2),   # 32 x 2 x 2
        nn.Flatten(),
        nn.Dense(10, input_dim=32 * 2 * 2, seed=seed + 2),    # sized up front: trained from step one
    ])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", action="store_true", help="show the tqdm progress bar")
    args = p.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)

    model = build(args.seed)
    n_params = sum(p.size for p in model.parameters())
    steps = args.epochs * math.ceil(len(Xtr) / args.batch_size)
    model.compile(optimizer=optim.Adam(lr=optim.cosine_lr(args.lr, steps)),
                  loss=losses.get("sparse_categorical_crossentropy", from_logits=True), metrics=["accuracy"])
    print(f"digits CNN: {n_params} parameters, {len(Xtr)} train / {len(Xte)} test, Adam lr={args.lr} cosine, "
          f"batch {args.batch_size}, {args.epochs} epochs")
    timer = nn.EpochTimer()
    h = model.fit(Xtr, ytr, epochs=args.epochs, batch_size=args.batch_size, validation_data=(Xte, yte),
                  callbacks=[timer], verbose=int(args.verbose), seed=args.seed).history
    print(f"{'epoch':>5} | {'loss':>7} {'train acc':>9} {'val acc':>7} {'time s':>7}")
    for e, t in enumerate(timer.times):
        print(f"{e + 1:>5} | {h['loss'][e]:>7.4f} {h['accuracy'][e]:>9.4f} {h['val_accuracy'][e]:>7.4f} {t:>7.3f}")
    print(f"kinkgrad CNN: test accuracy {model.evaluate(Xte, yte)['accuracy']:.4f}, "
          f"mean epoch {np.mean(timer.times):.3f} s (median {np.median(timer.times):.3f} s)")


if __name__ == "__main__":
    main()
