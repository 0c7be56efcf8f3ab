"""Static comparison figures hold the runs' real data."""

from types import SimpleNamespace

import pandas as pd
import pytest
from bokeh.embed import file_html
from bokeh.models import ColumnDataSource, GlyphRenderer, HoverTool, Legend, Line, Scatter
from bokeh.resources import CDN

import tunewidgets as tw
from tunewidgets.plotting.compare import MAX_LEGEND, confusion_figure, runs_figure, scatter_figure


def glyphs(fig, kind):
    return [r for r in fig.renderers if isinstance(r, GlyphRenderer) and isinstance(r.glyph, kind)]


def fake_run(name, values):
    """What runs_figure reads of a run: a name and a history with an epoch column."""
    return SimpleNamespace(name=name, history=pd.DataFrame({"epoch": range(1, len(values) + 1),
                                                            "val_accuracy": values}))


def test_runs_figure_draws_one_line_per_run(digits):
    runs = [tw.train(digits, epochs=2, units=16, lr=lr) for lr in (1e-3, 1e-2)]
    fig = runs_figure(runs, "val_accuracy", labels=["slow", "fast"])
    lines = glyphs(fig, Line)
    assert len(lines) == 2
    assert list(lines[1].data_source.data["y"]) == runs[1].history["val_accuracy"].tolist()
    assert list(lines[1].data_source.data["x"]) == runs[1].history["epoch"].tolist()
    assert [item.label["value"] for item in fig.legend[0].items] == ["slow", "fast"]
    with pytest.raises(ValueError, match="not in the history"):
        runs_figure(runs, "val_top5")
    with pytest.raises(ValueError, match="1 labels for 2 runs"):
        runs_figure(runs, labels=["one"])


def test_every_epoch_has_a_visible_marker_so_a_one_epoch_run_shows():
    """A line through one point draws nothing: a trial pruned after its first epoch needs a marker."""
    runs = [fake_run("complete", [0.5, 0.8, 0.9]), fake_run("pruned", [0.3])]
    fig = runs_figure(runs, "val_accuracy")
    markers = glyphs(fig, Scatter)
    assert len(markers) == 2
    one_epoch = markers[1]
    assert one_epoch.data_source.data["x"] == [1] and one_epoch.data_source.data["y"] == [0.3]
    assert one_epoch.visible and one_epoch.glyph.marker == "circle" and one_epoch.glyph.size >= 4
    assert one_epoch.glyph.fill_alpha > 0 and one_epoch.glyph.fill_color == glyphs(fig, Line)[1].glyph.line_color
    # a legend entry hides a run's line and markers together
    assert fig.legend[0].items[1].renderers == [glyphs(fig, Line)[1], one_epoch]
    # hovering a point names its run
    hover = fig.select_one({"type": HoverTool})
    assert hover.renderers == markers and ("run", "@run") in hover.tooltips
    assert one_epoch.data_source.data["run"] == ["pruned"]


def test_many_runs_have_no_legend_over_the_plot():
    runs = [fake_run(f"trial {n}", [0.1 * (n % 9 + 1)] * (1 + n % 3)) for n in range(16)]
    fig = runs_figure(runs, "val_accuracy", width=640)
    assert len(runs) > MAX_LEGEND
    assert not fig.select({"type": Legend})  # 16 entries would cover the plot
    assert len(glyphs(fig, Scatter)) == 16 and fig.width == 640
    assert sorted(m.data_source.data["run"][0] for m in glyphs(fig, Scatter)) == sorted(r.name for r in runs)
    file_html(fig, CDN)  # the document is valid and serializes


def test_the_legend_goes_to_the_corner_the_curves_leave_empty():
    rising = [fake_run(f"run {n}", [0.3 + 0.01 * n, 0.8, 0.9, 0.95, 0.96]) for n in range(3)]
    assert runs_figure(rising, "val_accuracy").legend[0].location == "bottom_right"
    falling = [SimpleNamespace(name=f"run {n}", history=pd.DataFrame({"epoch": [1, 2, 3, 4, 5],
                                                                      "val_loss": [2.0 + n, 0.5, 0.2, 0.1, 0.08]}))
               for n in range(3)]
    assert runs_figure(falling, "val_loss").legend[0].location == "top_right"
    assert runs_figure(falling, "val_loss", y_axis_type="log").legend[0].location == "top_right"


def test_legend_beside_the_plot_or_in_a_corner():
    runs = [fake_run(f"run {n}", [0.5, 0.6 + 0.01 * n]) for n in range(MAX_LEGEND)]
    inside = runs_figure(runs, "val_accuracy", legend_location="bottom_right")
    assert inside.legend[0] in inside.center and inside.legend[0].location == "bottom_right"
    beside = runs_figure(runs, "val_accuracy", legend_location="right")
    legend = beside.select_one({"type": Legend})
    assert legend in beside.right and legend not in beside.center
    assert len(legend.items) == MAX_LEGEND and legend.click_policy == "hide"
    assert runs_figure(runs + [fake_run("one more", [0.7])], "val_accuracy", max_legend=20).legend


def test_confusion_figure_counts_every_validation_sample(digits):
    run = tw.train(digits, epochs=2, units=16)
    fig = confusion_figure(tw.evaluate(run, digits).confusion)
    source = next(m for m in fig.select(type=ColumnDataSource) if "count" in m.data)
    assert sum(source.data["count"]) == digits.n_val and len(source.data["count"]) == 100


def test_scatter_figure_labels_points():
    fig = scatter_figure([1e3, 1e4], [0.9, 0.95], ["small", "big"], "parameters", "accuracy", x_axis_type="log")
    source = next(m for m in fig.select(type=ColumnDataSource))
    assert source.data["label"] == ["small", "big"]
