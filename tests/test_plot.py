"""kinkgrad.plot: every figure is rendered with Agg and what it draws is checked against the library's values."""
import io
import sys

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

import kinkgrad as kg
from kinkgrad import nn, plot


def _render(fig):
    assert isinstance(fig, Figure)
    FigureCanvasAgg(fig).draw()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=40)
    assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    return fig


def _scatter_points(ax):
    """{legend label: (x, y)} of every scatter in ``ax``."""
    return {c.get_label(): tuple(c.get_offsets()[0]) for c in ax.collections if isinstance(c, PathCollection)}


def _texts(fig):
    return " | ".join(t.get_text() for ax in fig.axes for t in ax.texts)


def test_kink_draws_f_the_one_sided_rays_the_clarke_interval_and_each_preset():
    fig = _render(plot.kink(kg.abs, 0.0, width=1.0, num=101))
    ax_f, ax_d = fig.axes
    curve, left_ray, right_ray = ax_f.lines[:3]
    xs, ys = curve.get_data()
    np.testing.assert_array_equal(ys, np.abs(xs))                       # f itself, exactly
    assert left_ray.get_label() == "left slope -1" and right_ray.get_label() == "right slope 1"
    (x0l, x1l), (y0l, y1l) = left_ray.get_data()
    assert (y1l - y0l) / (x1l - x0l) == -1.0                             # the ray has the left slope
    deriv_x, deriv_y = ax_d.lines[0].get_data()
    away = deriv_x != 0
    np.testing.assert_array_equal(deriv_y[away], np.sign(deriv_x[away]))
    assert np.isnan(deriv_y[~away]).all()                                # not drawn at the kink itself
    (clarke,) = ax_d.patches
    assert (clarke.get_y(), clarke.get_height()) == (-1.0, 2.0)         # [-1, 1] shaded
    points = _scatter_points(ax_d)
    # torch and tensorflow give 0 at abs'(0), jax gives 1 (measured conventions, see the preset tables)
    by_preset = {p: y for label, (x, y) in points.items() for p in label.split(", ")}
    assert all(x == 0.0 for x, _ in points.values())
    assert by_preset == {"default": 0.0, "torch": 0.0, "tensorflow": 0.0, "mid": 0.0, "jax": 1.0, "right": 1.0,
                         "left": -1.0}
    for p, y in by_preset.items():
        assert y == kg.grad(kg.abs, kinks=p)(0.0).item()
    assert "jax, right: 1" in _texts(fig)


def test_kink_reports_presets_without_a_finite_value_in_text():
    fig = _render(plot.kink(kg.relu, 0.0, presets=("default", "nan", "raise")))
    ax_d = fig.axes[1]
    assert set(_scatter_points(ax_d)) == {"default"}
    assert "nan: nan" in _texts(fig) and "raise: KinkError" in _texts(fig)
    # a reduction (not elementwise) is evaluated point by point; its left slope -0.0 is labelled 0
    fig = _render(plot.kink(lambda x: kg.max(kg.stack([x, 0.0 * x])), 0.0, presets=("default",)))
    assert fig.axes[0].lines[1].get_label() == "left slope 0"
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_ydata(), np.maximum(fig.axes[0].lines[0].get_xdata(), 0))


def test_presets_finds_each_kink_and_plots_every_preset_value():
    fig = _render(plot.presets("relu6"))
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == list(plot.CONVENTIONS) + ["zero"]
    series = {line.get_label(): line.get_ydata() for line in ax.lines}
    assert set(series) == {"relu6'(0)", "relu6'(6)"}
    for x0 in (0.0, 6.0):
        expected = [kg.grad(kg.relu6, kinks=p)(x0).item() for p in list(plot.CONVENTIONS) + ["zero"]]
        np.testing.assert_array_equal(series[f"relu6'({x0:g})"], expected)
    # the two kinks mirror each other: left is 0 at the bottom corner and 1 at the top one
    assert series["relu6'(0)"][4] == 0.0 and series["relu6'(6)"][4] == 1.0
    assert plot.find_kinks(kg.hardtanh) == [-1.0, 1.0]
    with pytest.raises(ValueError, match="no kink of exp"):
        plot.presets(kg.exp)
    with pytest.raises(ValueError, match="no op named 'nope'"):
        plot.presets("nope")


def test_directional_shows_per_op_conventions_against_the_certified_value():
    fig = _render(plot.directional(lambda x: kg.relu(x) - kg.relu(-x), 0.0, name="relu(x) - relu(-x)"))
    ax_f, ax_b = fig.axes
    ts, ys = ax_f.lines[0].get_data()
    np.testing.assert_allclose(ys, ts)                                   # the composite is the identity
    heights = [r.get_height() for r in ax_b.patches if r.get_width() < 1]
    assert heights == [0.0, 0.0, 0.0, 0.0, 1.0]                          # default/torch/jax/tf 0, certified 1
    assert [t.get_text() for t in ax_b.get_xticklabels()][-1].startswith("directional")
    assert any(line.get_label() == "one-sided derivatives: both 1" for line in ax_b.lines)


def test_directional_in_several_variables_projects_on_the_direction():
    w1, w2 = np.array([[1.0], [-1.0]]), np.array([[1.0, -1.0]])
    fig = _render(plot.directional(lambda x: (w2 @ kg.relu(w1 @ x)).sum(), np.zeros(1), direction=[2.0]))
    heights = [r.get_height() for r in fig.axes[1].patches if r.get_width() < 1]
    assert heights == [0.0, 0.0, 0.0, 0.0, 2.0]                          # <g, d> with d = 2


def test_audit_counts_hits_per_op_site_and_scope():
    X = np.array([[0.0, 1.0], [2.0, 0.0], [-1.0, 3.0]])
    with kg.audit() as report:
        def f(w):
            with kg.name_scope("hidden"):
                h = kg.relu(X @ w)
            with kg.name_scope("out"):
                return kg.sum(kg.abs(h - 1.0))
        kg.grad(f)(np.array([[1.0, 0.0], [0.0, 1.0]]))
    rows = report.to_dict()["rows"]
    by_op = {}
    for r in rows:
        by_op[r["op"]] = by_op.get(r["op"], 0) + r["at_kink"]
    assert by_op["relu"] == 2 and by_op["abs"] == 1   # X @ I = X: two zeros; relu(X) has one entry equal to 1
    fig = _render(plot.audit(report, by="op"))
    (ax,) = fig.axes
    labels = [t.get_text() for t in ax.get_yticklabels()]
    widths = {lab: [] for lab in labels}
    for bar in ax.patches:
        widths[labels[round(bar.get_y() + bar.get_height() / 2)]].append(bar.get_width())
    assert max(widths["relu"]) == 2 and max(widths["abs"]) == 1
    scoped = _render(plot.audit(report, by="scope"))
    assert sorted(t.get_text() for t in scoped.axes[0].get_yticklabels()) == ["hidden", "out"]
    assert "convention-dependent" in scoped.axes[0].get_title()
    with pytest.raises(ValueError, match="by must be"):
        plot.audit(report, by="layer")


def test_audit_without_kinks_says_so():
    with kg.audit() as report:
        kg.grad(lambda x: kg.sum(kg.relu(x)))(np.array([1.0, 2.0]))
    fig = _render(plot.audit(report))
    assert "no element sat on a kink" in _texts(fig)


def test_history_plot_draws_the_logged_values_and_kink_counts():
    X = np.random.default_rng(0).standard_normal((64, 4)).astype("float32")
    y = (X[:, :1] > 0).astype("float32")
    model = nn.Sequential([nn.Dense(8, activation="relu", seed=0), nn.Dense(1, seed=1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    hist = model.fit(X, y, epochs=3, batch_size=16, verbose=0, seed=0)
    fig = _render(hist.plot())
    ax_loss, ax_metrics = fig.axes
    (loss_line,) = ax_loss.lines
    np.testing.assert_array_equal(loss_line.get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(loss_line.get_ydata(), hist.history["loss"])
    assert [line.get_label() for line in ax_metrics.lines] == ["mae"]
    # after fit with the audit, History.kinks holds one dict per epoch (hits, dependent, per-layer counts)
    hist.kinks = [{"hits": 4, "dependent": 1, "layers": {"dense": {"hits": 4}}},
                  {"hits": 2, "dependent": 0, "layers": {"dense": {"hits": 2}}},
                  {"hits": 0, "dependent": 0, "layers": {"dense": {"hits": 0}}}]
    fig = _render(plot.history(hist))
    kinks = {line.get_label(): list(line.get_ydata()) for line in fig.axes[2].lines}
    assert kinks == {"hits": [4, 2, 0], "dependent": [1, 0, 0], "layers [dense]": [4, 2, 0]}
    with pytest.raises(ValueError, match="empty"):
        plot.history({})


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r'pip install "kinkgrad\[plot\]"'):
        plot.kink(kg.relu, 0.0)
