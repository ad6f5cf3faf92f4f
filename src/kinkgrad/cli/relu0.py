"""The ReLU'(0) study: Bertoin, Bolte, Gerchinovitz & Pauwels, "Numerical influence of ReLU'(0) on
backpropagation" (NeurIPS 2021), reproduced on scikit-learn's bundled digits (8x8 images, no download).

(a) The bifurcation zone: along a training run, the mini-batches where backpropagation with
relu'(0) = 0 and with relu'(0) = 1 give different gradients. Mathematically the two agree unless a
pre-activation is exactly 0, a set of measure zero; in floating point, exact zeros happen, more often
the fewer the bits. The same weights and mini-batch are evaluated in float16, float32 and float64 at
every step of one float32 training run (relu'(0) = 0, as PyTorch trains), and the gradients of every
parameter are compared bit for bit.

(b) The consequence for training: test accuracy after training with relu'(0) = 0 and with
relu'(0) = 1 (same seed, same initialisation, same mini-batch order), with plain SGD, with Adam, and
with SGD plus batch normalisation. Where a run never meets the bifurcation zone the two conventions
give bit-identical weights; the study counts those runs.

Both conventions are kinkgrad kink policies: ``kg.kinks(relu=0.0)`` and ``kg.kinks(relu=1.0)``.
"""
from __future__ import annotations

import math
import time

import numpy as np

import kinkgrad as kg
from kinkgrad import nn, optim

DTYPES = ("float16", "float32", "float64")
CONFIGS = ("sgd", "adam", "sgd+batchnorm")
CONVENTIONS = {"relu'(0)=0": 0.0, "relu'(0)=1": 1.0}

# the paper's fully connected MNIST networks: 3 hidden layers of 256 (bifurcation volume) or 2048 (training)
# (the paper's own measure: the share of random networks with at least one mini-batch of one MNIST epoch,
# 600 batches of 100, in the zone; its abstract: "around half of the time in 32 bits precision")
PAPER = {"bifurcation": {"float16": "systematic: every network met the zone within one epoch",
                         "float32": "about half of the networks met it within one epoch (600 mini-batches of "
                                    "100 MNIST images, hidden layers of 256)",
                         "float64": "absent"},
         "sgd": "relu'(0) = 0 trains best with vanilla SGD",
         "buffer": "batch normalisation and Adam buffer the effect"}

# bif_*: the bifurcation-zone run (float16 costs ~0.2 s per mini-batch: NumPy has no float16 BLAS);
# acc_*: each training run of part (b)
# The per-input rate of exact zeros that the paper's float32 MNIST figure implies: 44.5% of 100 networks met the
# zone within 600 mini-batches of 100 images, 512 relu inputs per image (its volume notebook: two ReLU layers of
# 256 after the first Linear), so P(no zero) = 0.555 = exp(-rate * 600 * 100 * 512).
PAPER_FLOAT32_RATE = -np.log(1 - 0.445) / (600 * 100 * 512)

SETTINGS = {
    "quick": {"width": 128, "depth": 3, "batch": 128, "bif_epochs": 1, "bif_seeds": 2, "acc_epochs": 10,
              "acc_seeds": 2},
    "full": {"width": 256, "depth": 3, "batch": 128, "bif_epochs": 20, "bif_seeds": 3, "acc_epochs": 30,
             "acc_seeds": 10},
}
LR = {"sgd": 0.3, "adam": 1e-3, "sgd+batchnorm": 0.1}


def load_data(seed=0):
    """Digits, pixels scaled to [0, 1] (k/16: exact in every precision), a stratified 75/25 split."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise ImportError('the ReLU\'(0) study needs scikit-learn\'s digits: pip install "kinkgrad[data]"') from e
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    rng = np.random.default_rng(seed)
    test = np.concatenate([rng.permutation(np.flatnonzero(y == c))[: round(0.25 * np.sum(y == c))]
                           for c in range(10)])
    train = np.setdiff1d(np.arange(len(y)), test)
    return X[train], y[train], X[test], y[test]


def mlp(width, depth, dtype, seed, batch_norm=False):
    """The paper's fully connected network: ``depth`` hidden Linear (+ BatchNorm1d) + ReLU layers,
    PyTorch's default initialisation."""
    layers, n_in = [], 64
    for i in range(depth):
        layers.append(nn.Linear(n_in, width, seed=seed * 100 + i, dtype=dtype))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width, dtype=dtype))
        layers.append(nn.ReLU())
        n_in = width
    layers.append(nn.Linear(n_in, 10, seed=seed * 100 + depth, dtype=dtype))
    return nn.Sequential(layers)


_CE = kg.losses.get("sparse_categorical_crossentropy", from_logits=True)


def _batches(n, batch, rng):
    order = rng.permutation(n)
    return [order[i:i + batch] for i in range(0, n, batch)]


def _two_gradients(model, xb, yb):
    """Backpropagation of one forward pass under relu'(0) = 1 and relu'(0) = 0; returns whether any
    parameter's gradient differs bit for bit, the relu elements exactly at 0, and the relu'(0) = 0
    gradients (left in ``.grad``)."""
    params = model.parameters()
    model.zero_grad()
    loss = _CE(yb, model(xb))
    with kg.audit() as report, kg.kinks(relu=1.0):
        loss.backward(retain_graph=True)
    ones = [p.grad.data.copy() for p in params]
    model.zero_grad()
    with kg.kinks(relu=0.0):
        loss.backward()
    differ = any(not np.array_equal(a, p.grad.data, equal_nan=True) for a, p in zip(ones, params))
    return differ, report.hits


def bifurcation(data, width, depth, batch, epochs, seeds, lr=LR["sgd"], dtypes=DTYPES, log=None):
    """Per precision: the fraction of mini-batches in the bifurcation zone along plain-SGD training
    (float32, relu'(0) = 0), per epoch; the networks (seeds) with a mini-batch in the zone during the
    first epoch (the paper's measure); the mean number of relu inputs exactly at 0 per mini-batch."""
    Xtr, ytr = data[0], data[1]
    in_zone = {dt: np.zeros((seeds, epochs)) for dt in dtypes}
    zeros = {dt: 0 for dt in dtypes}
    n_batches = 0
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        models = {dt: mlp(width, depth, dt, seed) for dt in dtypes}
        trained = models["float32"] if "float32" in models else mlp(width, depth, "float32", seed)
        opt = optim.SGD(trained.parameters(), lr=lr)
        for epoch in range(epochs):
            batches = _batches(len(Xtr), batch, rng)
            for idx in batches:
                for dt in dtypes:
                    model = models[dt]
                    if model is not trained:
                        for p, q in zip(model.parameters(), trained.parameters()):
                            p.data = q.data.astype(dt)
                    differ, hits = _two_gradients(model, Xtr[idx].astype(dt), ytr[idx])
                    in_zone[dt][seed, epoch] += differ
                    zeros[dt] += hits
                if "float32" not in dtypes:
                    _two_gradients(trained, Xtr[idx], ytr[idx])
                opt.step()      # on the relu'(0) = 0 gradients, left in .grad by the float32 evaluation
            n_batches += len(batches)
            if log:
                log(f"  bifurcation: seed {seed}, epoch {epoch + 1}/{epochs}: "
                    + ", ".join(f"{dt} {in_zone[dt][seed, epoch] / len(batches):.0%}" for dt in dtypes))
    per_epoch_batches = n_batches / (seeds * epochs)
    return {
        "fraction": {dt: float(in_zone[dt].sum() / n_batches) for dt in dtypes},
        "per_epoch": {dt: (in_zone[dt].sum(axis=0) / (seeds * per_epoch_batches)).tolist() for dt in dtypes},
        "networks_first_epoch": {dt: float(np.mean(in_zone[dt][:, 0] > 0)) for dt in dtypes},
        "zeros_per_batch": {dt: zeros[dt] / n_batches for dt in dtypes},
        "batches": n_batches,
    }


def train_once(data, config, relu_value, seed, width, depth, batch, epochs, dtype="float32"):
    """Train one network with relu'(0) = ``relu_value``; returns (test accuracy, final weights)."""
    Xtr, ytr, Xte, yte = data
    model = mlp(width, depth, dtype, seed, batch_norm=config == "sgd+batchnorm")
    params = model.parameters()
    opt = (optim.Adam if config == "adam" else optim.SGD)(params, lr=LR[config])
    rng = np.random.default_rng(seed)
    with kg.kinks(relu=relu_value):
        for _ in range(epochs):
            model.train()
            for idx in _batches(len(Xtr), batch, rng):
                model.zero_grad()
                _CE(ytr[idx], model(Xtr[idx].astype(dtype))).backward()
                opt.step()
    model.eval()
    with kg.no_grad():
        pred = np.argmax(model(Xte.astype(dtype)).data, axis=1)
    return float(np.mean(pred == yte)), [p.data.copy() for p in params]


def accuracy(data, width, depth, batch, epochs, seeds, configs=CONFIGS, dtype="float32", log=None):
    """Test accuracy per configuration and convention over ``seeds``, and how many seeds gave
    bit-identical weights under both conventions (the run never met the bifurcation zone)."""
    out = {}
    for config in configs:
        accs = {name: [] for name in CONVENTIONS}
        identical = 0
        for seed in range(seeds):
            weights = {}
            for name, value in CONVENTIONS.items():
                acc, weights[name] = train_once(data, config, value, seed, width, depth, batch, epochs, dtype)
                accs[name].append(acc)
            identical += all(np.array_equal(a, b) for a, b in zip(*weights.values()))
        out[config] = {**accs, "identical_runs": identical, "seeds": seeds}
        if log:
            log(f"  accuracy: {config}: " + ", ".join(f"{n} {np.mean(a):.4f}" for n, a in accs.items())
                + f", identical runs {identical}/{seeds}")
    return out


def run(mode="quick", log=None, **overrides):
    """The whole study; returns the JSON-ready result (settings, bifurcation, accuracy, findings)."""
    s = {**SETTINGS[mode], **{k: v for k, v in overrides.items() if v is not None}}
    data = load_data()
    t0 = time.perf_counter()
    bif = bifurcation(data, s["width"], s["depth"], s["batch"], s["bif_epochs"], s["bif_seeds"], log=log)
    t1 = time.perf_counter()
    acc = accuracy(data, s["width"], s["depth"], s["batch"], s["acc_epochs"], s["acc_seeds"], log=log)
    t2 = time.perf_counter()
    result = {
        "study": "relu0", "mode": mode, "kinkgrad": kg.__version__,
        "settings": {**s, "lr": LR, "train": len(data[1]), "test": len(data[3]),
                     "network": f"64-{'-'.join([str(s['width'])] * s['depth'])}-10 ReLU MLP"},
        "bifurcation": bif["fraction"],
        "bifurcation_per_epoch": bif["per_epoch"],
        "zeros_per_batch": bif["zeros_per_batch"],
        "networks_first_epoch": bif["networks_first_epoch"],
        "bifurcation_batches": bif["batches"],
        "accuracy": acc,
        "seconds": {"bifurcation": round(t1 - t0, 1), "accuracy": round(t2 - t1, 1)},
    }
    result["findings"] = findings(result)
    return result


def _mean_se(values):
    v = np.asarray(values, dtype=float)
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else 0.0


def _poisson_plausible(k, mean, level=0.05):
    """Whether k events are within the central (1 - 2 level) range of a Poisson count with this mean."""
    pmf = [math.exp(-mean) * mean ** i / math.factorial(i) for i in range(k + 1)]
    below = sum(pmf)                      # P(X <= k)
    above = 1.0 - below + pmf[-1]         # P(X >= k)
    return below >= level and above >= level


def findings(result):
    """Where the reproduction agrees with the paper and where it differs, decided from the numbers."""
    bif, nets, s = result["bifurcation"], result["networks_first_epoch"], result["settings"]
    seeds = s["bif_seeds"]
    lines = []
    f16, f32, f64 = bif["float16"], bif["float32"], bif["float64"]
    lines.append(("agrees" if nets["float16"] == 1.0 else "differs")
                 + f": float16: {nets['float16']:.0%} of the {seeds} networks met the zone in their first epoch, "
                 f"{f16:.0%} of all mini-batches (paper: {PAPER['bifurcation']['float16']}).")
    evaluated = s["train"] * s["width"] * s["depth"] * s["bif_epochs"] * seeds       # relu inputs, all batches
    at_zero = round(result["zeros_per_batch"]["float32"] * result["bifurcation_batches"])
    expected = PAPER_FLOAT32_RATE * evaluated
    if nets["float32"] >= 0.25:
        verdict = "agrees"
    elif _poisson_plausible(at_zero, expected):
        verdict = "consistent per relu input, met less often"
    else:
        verdict = "differs"
    lines.append(f"{verdict}: float32: {nets['float32']:.0%} of the networks in their first epoch, {f32:.2%} of all "
                 f"mini-batches (paper: {PAPER['bifurcation']['float32']}). {at_zero:,.0f} of the {evaluated:,} relu "
                 f"inputs evaluated in float32 were exactly 0. At the rate the paper's figure implies "
                 f"({PAPER_FLOAT32_RATE:.2g} per relu input) one would expect {PAPER_FLOAT32_RATE * evaluated:.2g}: "
                 f"the zone is met in proportion to the relu inputs evaluated, and an epoch here evaluates "
                 f"{s['train'] * s['width'] * s['depth']:,} ({s['train']:,} images x {s['depth']} x {s['width']}) "
                 "against the paper's 30,720,000 (60,000 MNIST images x 512).")
    lines.append(("agrees" if f64 == 0 else "differs") + f": float64: {f64:.2%} of the mini-batches (paper: absent).")
    acc = result["accuracy"]
    gaps = {}
    for config, r in acc.items():
        (m0, se0), (m1, se1) = _mean_se(r["relu'(0)=0"]), _mean_se(r["relu'(0)=1"])
        gaps[config] = (m0 - m1, float(np.hypot(se0, se1)))
    sgd_gap, sgd_se = gaps["sgd"]
    ident, n = acc["sgd"]["identical_runs"], acc["sgd"]["seeds"]
    if ident == n:
        lines.append(f"differs: plain SGD in float32 gave bit-identical weights under both conventions in all {n} "
                     "runs: training never met the bifurcation zone at this size, so relu'(0) could not matter "
                     f"(paper: {PAPER['sgd']}, with 2048 neurons per layer and 60,000 images).")
    elif sgd_gap > 2 * sgd_se:
        lines.append(f"agrees: plain SGD: relu'(0) = 0 ahead by {sgd_gap:+.4f} test accuracy (standard error "
                     f"{sgd_se:.4f}); {ident}/{n} runs bit-identical (paper: {PAPER['sgd']}).")
    else:
        lines.append(f"differs: plain SGD: relu'(0) = 0 minus relu'(0) = 1 = {sgd_gap:+.4f} test accuracy (standard "
                     f"error {sgd_se:.4f}), not a significant gap; {ident}/{n} runs bit-identical "
                     f"(paper: {PAPER['sgd']}).")
    others = [c for c in ("adam", "sgd+batchnorm") if c in gaps]
    buffered = [c for c in others if abs(gaps[c][0]) <= abs(sgd_gap) + 2 * gaps[c][1]]
    detail = ", ".join(f"{c} {gaps[c][0]:+.4f}" for c in gaps)
    if sgd_gap <= 2 * sgd_se:
        lines.append(f"not tested: accuracy gaps (relu'(0) = 0 minus 1) {detail}; with no significant gap under plain "
                     f"SGD there is nothing for Adam or batch norm to buffer (paper: {PAPER['buffer']}).")
    else:
        lines.append(("agrees" if len(buffered) == len(others) else "differs")
                     + f": accuracy gaps (relu'(0) = 0 minus 1) {detail} (paper: {PAPER['buffer']}).")
    return lines


def table(result):
    """The study's numbers as plain-text tables."""
    nets = result["networks_first_epoch"]
    s = result["settings"]
    title = f"ReLU'(0) study on digits ({s['network']}, {s['train']} train / {s['test']} test images"
    out = [f"{title}, mode {result['mode']})", "",
           "(a) bifurcation zone: mini-batches where relu'(0)=0 and relu'(0)=1 give different gradients",
           f"{'precision':<10} {'mini-batches':>13} {'networks, 1st epoch':>20} {'relu inputs at 0 per batch':>27}"]
    for dt in DTYPES:
        out.append(f"{dt:<10} {result['bifurcation'][dt]:>13.2%} {nets[dt]:>20.0%} "
                   f"{result['zeros_per_batch'][dt]:>27.3g}")
    names = list(CONVENTIONS)
    out += ["", f"(b) test accuracy over {result['settings']['acc_seeds']} seeds (mean +- standard error), float32",
            f"{'training':<15} {names[0]:>17} {names[1]:>17} {'identical runs':>15}"]
    for config, r in result["accuracy"].items():
        cells = ["{:.4f} +- {:.4f}".format(*_mean_se(r[name])) for name in CONVENTIONS]
        out.append(f"{config:<15} {cells[0]:>17} {cells[1]:>17} {str(r['identical_runs']) + '/' + str(r['seeds']):>15}")
    out += ["", "Compared with the paper:"] + [f"- {line}" for line in findings(result)]
    return "\n".join(out) + "\n"


def figure(result):
    """Left: the bifurcation fraction per epoch and precision; right: test accuracy per convention."""
    try:
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError('the study\'s figure needs matplotlib: pip install "kinkgrad[plot]"') from e
    fig = Figure(figsize=(11.0, 4.2), layout="constrained")
    ax_b, ax_a = fig.subplots(1, 2)
    for k, dt in enumerate(DTYPES):
        ys = np.asarray(result["bifurcation_per_epoch"][dt]) * 100
        ax_b.plot(np.arange(1, len(ys) + 1), ys, marker="os^"[k], ms=6 - k, ls=("-", "--", ":")[k], color=f"C{k}",
                  label=f"{dt}: {result['bifurcation'][dt]:.1%} overall")      # styles apart: curves may overlap
    ax_b.set_xlabel("epoch")
    ax_b.set_ylabel("% of mini-batches in the bifurcation zone")
    ax_b.set_ylim(-3, 103)
    ax_b.set_title("relu'(0)=0 vs 1: do the gradients differ?")
    ax_b.legend(loc="center right", fontsize="small")
    configs = list(result["accuracy"])
    for j, (name, off) in enumerate(zip(CONVENTIONS, (-0.15, 0.15))):
        for i, config in enumerate(configs):
            accs = np.asarray(result["accuracy"][config][name]) * 100
            ax_a.scatter(np.full(len(accs), i + off), accs, s=14, alpha=0.6, color=f"C{j + 3}",
                         label=name if i == 0 else None)
            ax_a.errorbar([i + off], [accs.mean()], yerr=[accs.std()], fmt="_", ms=16, color=f"C{j + 3}")
    ax_a.set_xticks(range(len(configs)), configs)
    ax_a.set_ylabel("test accuracy (%)")
    ax_a.set_title("test accuracy per seed (float32 training)")
    ax_a.legend(loc="lower right", fontsize="small")
    return fig
