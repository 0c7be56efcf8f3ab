"""Static comparison figures hold the runs' real data."""

import pytest
from bokeh.models import ColumnDataSource, GlyphRenderer

import tunewidgets as tw
from tunewidgets.plotting.compare import confusion_figure, runs_figure, scatter_figure


def test_runs_figure_draws_one_line_per_run(digits):
    runs = [tw.train(digits, epochs=2, units=16, lr=lr) for lr in (1e-3, 1e-2)]
    fig = runs_figure(runs, "val_accuracy", labels=["slow", "fast"])
    lines = [r for r in fig.renderers if isinstance(r, GlyphRenderer)]
    assert len(lines) == 2
    assert list(lines[1].data_source.data["y"]) == runs[1].history["val_accuracy"].tolist()
    assert [item.label["value"] for item in fig.legend[0].items] == ["slow", "fast"]
    with pytest.raises(ValueError, match="not in the history"):
        runs_figure(runs, "val_top5")


def test_confusion_figure_counts_every_validation_sample(digits):
    run = tw.train(digits, epochs=2, units=16)
    fig = confusion_figure(tw.evaluate(run, digits).confusion)
    source = next(m for m in fig.select(type=ColumnDataSource) if "count" in m.data)
    assert sum(source.data["count"]) == digits.n_val and len(source.data["count"]) == 100


def test_scatter_figure_labels_points():
    fig = scatter_figure([1e3, 1e4], [0.9, 0.95], ["small", "big"], "parameters", "accuracy", x_axis_type="log")
    source = next(m for m in fig.select(type=ColumnDataSource))
    assert source.data["label"] == ["small", "big"]
