"""Pictures of kinks: a function around a kink with its one-sided derivatives, the Clarke interval
and every preset's value there; one op under every preset; per-op conventions against the certified
directional value for a composite; where an audit met kinks; a training history.

Needs matplotlib (``pip install "kinkgrad[plot]"``). Every function builds a ``matplotlib.figure.Figure``
without pyplot, returns it and never shows it: save it (``fig.savefig("kink.png")``), or let Jupyter
display it. Values come from kinkgrad's public API (``kg.grad(f, kinks=preset)``, ``kg.one_sided``,
``kg.clarke_interval``), so a picture shows exactly what the library computes.
"""
from __future__ import annotations

import contextlib
import warnings

import numpy as np

import kinkgrad as kg

CONVENTIONS = ("default", "torch", "jax", "tensorflow", "left", "right", "mid")
_SEEDED = ("random", "directional")


def _figure(nrows=1, ncols=1, figsize=(7.0, 4.5), **kw):
    """A Figure and its axes, without pyplot's global state (no backend, no show)."""
    try:
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError('kinkgrad.plot needs matplotlib: pip install "kinkgrad[plot]"') from e
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes.ravel()


def _name(f, name=None):
    name = name or getattr(f, "__name__", None) or getattr(f, "name", None)
    return "f" if not name or name.startswith("<") else name


@contextlib.contextmanager
def _quiet():
    """Plots evaluate step functions and kinks on purpose: their warnings are not news here."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", kg.NonDifferentiableWarning)
        yield


def _g(v):
    """A number for a label: -0 prints as 0."""
    return f"{float(v) + 0.0:g}"


def _scalar(v):
    return float(np.asarray(getattr(v, "data", v), dtype=np.float64).reshape(()))


def _f_values(f, xs):
    """f on a grid of scalars; one call when f is elementwise, else one call per point."""
    with kg.no_grad():
        try:
            out = f(xs)
            y = np.asarray(getattr(out, "data", out), dtype=np.float64)
        except (TypeError, ValueError):      # f takes scalars only: one call per point below
            y = None
        if y is not None and y.shape == xs.shape:
            return y
        return np.array([_scalar(f(np.float64(x))) for x in xs])


def preset_value(f, x0, preset):
    """The derivative of ``f`` (summed to a scalar) at ``x0`` under ``preset``, as ``kg.grad(f, kinks=preset)``
    computes it (the seeded presets with seed 0); ``None`` when the preset raises ``KinkError``."""
    seed = 0 if preset in _SEEDED else None
    try:
        return kg.grad(lambda x: kg.sum(f(x)), kinks=preset, seed=seed)(x0)
    except kg.KinkError:
        return None


def _values_by_preset(f, x0, presets):
    out = {}
    with _quiet():
        for p in presets:
            v = preset_value(f, np.float64(x0), p)
            out[p] = None if v is None else _scalar(v)
    return out


def _grouped(values):
    """{value: [presets]} for the finite values, in first-seen order; and the presets left out."""
    groups, other = {}, []
    for p, v in values.items():
        if v is None or not np.isfinite(v):
            other.append(f"{p}: {'KinkError' if v is None else v}")
        else:
            groups.setdefault(v, []).append(p)
    return groups, other


def kink(f, x0=0.0, presets=CONVENTIONS, width=1.0, num=201, name=None):
    """``f`` around ``x0`` (top) and its derivative (bottom): the one-sided derivatives as rays, the
    Clarke interval shaded at ``x0``, and each preset's value there as a marked point.

    >>> from kinkgrad import plot
    >>> fig = plot.kink(kg.abs, 0.0)          # doctest: +SKIP
    """
    x0 = float(x0)
    fig, (ax_f, ax_d) = _figure(2, 1, figsize=(7.0, 6.0), sharex=True)
    name = _name(f, name)
    with _quiet():
        xs = x0 + width * np.linspace(-1.0, 1.0, num)
        ys = _f_values(f, xs)
        f0 = _f_values(f, np.array([x0]))[0]
        left, right = kg.one_sided(f, np.float64(x0), 1.0)
        lo, hi = kg.clarke_interval(f, x0)
        away = np.abs(xs - x0) > 1e-9 * max(1.0, abs(x0))
        ds = np.full(num, np.nan)
        g = kg.grad(lambda x: kg.sum(f(x)))
        ds[away] = [_scalar(g(np.float64(x))) for x in xs[away]]
    ax_f.plot(xs, ys, color="C0", lw=2, label=f"{name}(x)")
    half = width / 2
    ax_f.plot([x0 - half, x0], [f0 - left * half, f0], "--", color="C1", label=f"left slope {_g(left)}")
    ax_f.plot([x0, x0 + half], [f0, f0 + right * half], "--", color="C2", label=f"right slope {_g(right)}")
    ax_f.plot([x0], [f0], "o", color="k", ms=4)
    ax_f.set_ylabel(f"{name}(x)")
    ax_f.set_title(f"{name} around x = {_g(x0)}")
    ax_f.legend(loc="best", fontsize="small")

    ax_d.plot(xs, ds, color="C0", lw=2, label=f"{name}'(x), x != {_g(x0)}")
    ax_d.bar([x0], [hi - lo], bottom=[lo], width=width / 12, color="C4", alpha=0.3,
             label=f"Clarke interval [{_g(lo)}, {_g(hi)}]")
    values = _values_by_preset(f, x0, presets)
    groups, other = _grouped(values)
    for i, (v, names) in enumerate(groups.items()):
        ax_d.scatter([x0], [v], s=45, zorder=3, color=f"C{(i + 5) % 10}", label=", ".join(names))
        ax_d.annotate(f"{', '.join(names)}: {_g(v)}", (x0, v), xytext=(8, 4 - 12 * (i % 2)),
                      textcoords="offset points", fontsize="small")
    if other:
        ax_d.text(0.01, 0.02, "; ".join(other), transform=ax_d.transAxes, fontsize="small", va="bottom")
    ax_d.margins(y=0.15)
    ax_d.set_xlabel("x")
    ax_d.set_ylabel("derivative")
    ax_d.legend(loc="best", fontsize="small")
    return fig


def find_kinks(op, lo=-8.0, hi=8.0, step=0.5, limit=4):
    """Points of a half-integer grid in [lo, hi] where ``op`` sits on a kink, as the audit sees it
    (the ``limit`` closest to 0, sorted)."""
    found = []
    with _quiet():
        for x in np.arange(lo, hi + step / 2, step):
            with kg.audit() as report:
                kg.grad(lambda v: kg.sum(op(v)))(np.float64(x))
            if report.hits:
                found.append(float(x))
    return sorted(sorted(found, key=abs)[:limit])


def presets(op, at=None, presets=CONVENTIONS + ("zero",), name=None):
    """The derivative of ``op`` at each of its kinks under each preset: one marker series per kink
    point, the Clarke interval at that point shaded behind it.

    ``op``: a kinkgrad op or its name (``"relu"``), or any function of one array; ``at``: the kink
    points (found by ``find_kinks`` when omitted)."""
    if isinstance(op, str):
        name = name or op
        try:
            op = getattr(kg, op)
        except AttributeError:
            raise ValueError(f"plot.presets: kinkgrad has no op named {name!r}") from None
    name = name or _name(op)
    points = [float(a) for a in np.atleast_1d(at)] if at is not None else find_kinks(op)
    if not points:
        raise ValueError(f"plot.presets: found no kink of {name} on the half-integers of [-8, 8]; pass at=[...]")
    fig, (ax,) = _figure(figsize=(8.0, 4.5))
    pos = np.arange(len(presets))
    for k, x0 in enumerate(points):
        values = _values_by_preset(op, x0, presets)
        lo, hi = kg.clarke_interval(op, x0)
        color = f"C{k % 10}"
        ax.axhspan(lo, hi, color=color, alpha=0.12, label=f"Clarke interval at {_g(x0)}: [{_g(lo)}, {_g(hi)}]")
        ys = np.array([np.nan if v is None else v for v in values.values()])
        ax.plot(pos + 0.08 * (k - (len(points) - 1) / 2), ys, "o", color=color, ms=7,
                label=f"{name}'({_g(x0)})")
        for j, v in enumerate(values.values()):
            if v is None or not np.isfinite(v):       # nothing to mark: say what came out instead
                ax.annotate("KinkError" if v is None else "nan", (pos[j], lo), fontsize="small", ha="center",
                            color=color)
    ax.set_xticks(pos, list(presets), rotation=30)
    ax.set_ylabel("derivative at the kink")
    ax.set_title(f"{name}: the derivative at its kinks under each preset")
    ax.legend(loc="best", fontsize="small")
    return fig


def directional(f, x0=0.0, direction=None, presets=("default", "torch", "jax", "tensorflow"), seed=0, width=1.0,
                num=201, name=None):
    """For a composite ``f`` (``relu(x) - relu(-x)``): ``f`` along ``x0 + t d`` (left) and its
    derivative along ``d`` at ``x0`` by each per-op convention and by the certified directional mode
    (``kinks="directional"``), against the one-sided derivatives (right).

    Per-op conventions can land outside the generalized derivative of a composite; the certified
    value cannot."""
    x0 = np.asarray(getattr(x0, "data", x0), dtype=np.float64)
    d = np.ones_like(x0) if direction is None else np.broadcast_to(np.asarray(direction, np.float64), x0.shape)
    name = _name(f, name)
    with _quiet():
        ts = width * np.linspace(-1.0, 1.0, num)
        with kg.no_grad():
            ys = np.array([_scalar(kg.sum(f(x0 + t * d))) for t in ts])
            f0 = _scalar(kg.sum(f(x0)))
        left, right = kg.one_sided(lambda x: kg.sum(f(x)), x0, d)
        labels, values = [], []
        for p in presets:
            g = preset_value(f, x0, p)
            labels.append(p)
            values.append(np.nan if g is None else float(np.sum(np.asarray(g.data, np.float64) * d)))
        certified = kg.grad(lambda x: kg.sum(f(x)), kinks="directional", seed=seed)(x0)
        labels.append("directional\n(certified)")
        values.append(float(np.sum(np.asarray(certified.data, np.float64) * d)))
    fig, (ax_f, ax_b) = _figure(1, 2, figsize=(10.0, 4.2))
    ax_f.plot(ts, ys, color="C0", lw=2, label=f"{name}(x0 + t d)")
    half = width / 2
    ax_f.plot([-half, 0.0], [f0 - left * half, f0], "--", color="C1", label=f"left slope {_g(left)}")
    ax_f.plot([0.0, half], [f0, f0 + right * half], "--", color="C2", label=f"right slope {_g(right)}")
    ax_f.set_xlabel("t")
    ax_f.set_title(f"{name} along the direction d")
    ax_f.legend(loc="best", fontsize="small")
    lo, hi = min(left, right), max(left, right)
    if hi > lo:
        ax_b.axhspan(lo, hi, color="C4", alpha=0.2, label=f"between the one-sided derivatives [{_g(lo)}, {_g(hi)}]")
    else:
        ax_b.axhline(lo, color="C4", lw=2, label=f"one-sided derivatives: both {_g(lo)}")
    colors = ["C7"] * (len(values) - 1) + ["C2"]
    bars = ax_b.bar(np.arange(len(values)), values, color=colors)
    for rect, v in zip(bars, values):
        ax_b.annotate(f"{_g(v)}", (rect.get_x() + rect.get_width() / 2, 0 if np.isnan(v) else v),
                      xytext=(0, 3), textcoords="offset points", ha="center", fontsize="small")
    ax_b.set_xticks(np.arange(len(values)), labels)
    ax_b.set_ylabel("derivative along d at x0")
    ax_b.set_title("per-op conventions vs the certified value")
    ax_b.legend(loc="best", fontsize="small")
    return fig


def audit(report, by="op", top=15):
    """Kink hits per op, per call site or per ``kg.name_scope`` label (``by="op" | "site" | "scope"``)
    from a ``kg.audit()`` report: elements found exactly on a kink, and those whose upstream gradient
    was nonzero (the result depended on the convention)."""
    if by not in ("op", "site", "scope"):
        raise ValueError(f"plot.audit: by must be 'op', 'site' or 'scope', got {by!r}")
    data = report.to_dict() if hasattr(report, "to_dict") else dict(report)
    counts = {}
    for row in data["rows"]:
        key = row[by] if row[by] is not None else "(no scope)"
        c = counts.setdefault(str(key), [0, 0])
        c[0] += row["at_kink"]
        c[1] += row["dependent"]
    items = sorted(((k, c) for k, c in counts.items() if c[0]), key=lambda kv: -kv[1][0])[:top]
    fig, (ax,) = _figure(figsize=(8.0, 1.2 + 0.45 * max(len(items), 2)))
    ax.set_title(f"kink audit by {by}: {data['semantics']}")
    if not items:
        ax.text(0.5, 0.5, "no element sat on a kink", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    labels = [k for k, _ in items][::-1]
    hits = np.array([v[0] for _, v in items][::-1], dtype=float)
    dep = np.array([v[1] for _, v in items][::-1], dtype=float)
    pos = np.arange(len(items))
    ax.barh(pos + 0.2, hits, height=0.4, color="C0", label="at a kink")
    ax.barh(pos - 0.2, dep, height=0.4, color="C3", label="convention-dependent (upstream != 0)")
    ax.set_yticks(pos, labels)
    ax.set_xlabel("elements")
    ax.legend(loc="best", fontsize="small")
    return fig


def _kink_series(kinks):
    """From ``History.kinks`` (one dict per epoch): {"hits": [...], "dependent": [...]} and any per-layer
    counts ({name: number} or {name: {"hits": ...}} entries) as "hits [name]"."""
    series = {}
    n = len(kinks)
    for e, entry in enumerate(kinks):
        for key, value in entry.items():
            if key in ("epoch", "evaluated", "rate"):      # bookkeeping, not counts of kinks
                continue
            if isinstance(value, dict):
                for layer, v in value.items():
                    v = v.get("hits") if isinstance(v, dict) else v
                    if isinstance(v, (int, float, np.number)):
                        series.setdefault(f"{key} [{layer}]", [np.nan] * n)[e] = float(v)
            elif isinstance(value, (int, float, np.number)):
                series.setdefault(key, [np.nan] * n)[e] = float(value)
    return series


def history(history):
    """Loss (and validation loss) per epoch, the other metrics, and the kink counts when ``fit`` ran
    with the audit (``History.kinks``): one panel each."""
    logs = getattr(history, "history", history)
    if not logs:
        raise ValueError("plot.history: the history is empty; train for at least one epoch first")
    n = max(len(v) for v in logs.values())
    epochs = np.asarray(getattr(history, "epoch", None) or range(n), dtype=float) + 1
    losses = {k: v for k, v in logs.items() if "loss" in k}
    metrics = {k: v for k, v in logs.items() if "loss" not in k and k not in ("lr", "kink_rate")}   # not metrics
    kinks = _kink_series(getattr(history, "kinks", None) or [])
    panels = [p for p in (("loss", losses), ("metrics", metrics), ("kink counts", kinks)) if p[1]]
    fig, axes = _figure(len(panels), 1, figsize=(7.0, 2.6 * len(panels) + 0.6), sharex=True)
    for ax, (title, series) in zip(axes, panels):
        for key, values in series.items():
            ax.plot(epochs[:len(values)], np.asarray(values, dtype=float), marker="o", ms=3, label=key)
        ax.set_ylabel(title)
        ax.legend(loc="best", fontsize="small")
    axes[-1].set_xlabel("epoch")
    return fig
