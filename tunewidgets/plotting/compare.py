"""Static figures for finished runs: curves of several runs overlaid, a metric against a size, and
the confusion matrix. Built from plain values (histories, tables), so they import bokeh only."""

from __future__ import annotations

from typing import Any, Sequence

from bokeh.models import ColumnDataSource, HoverTool, LinearColorMapper
from bokeh.palettes import Blues256, Category10_10
from bokeh.plotting import figure

TOOLS = "pan,box_zoom,wheel_zoom,reset,save"


def runs_figure(runs: Sequence[Any], metric: str = "val_loss", labels: Sequence[str] | None = None,
                title: str | None = None, width: int = 560, height: int = 300, y_axis_type: str = "linear"):
    """One line per run of ``metric`` against the epoch; click a legend entry to hide a run.

    ``runs`` are ``tw.Run`` objects (anything with ``.history`` and ``.name``).
    """
    fig = figure(title=title or metric, width=width, height=height, x_axis_label="epoch",
                 y_axis_label=metric, tools=TOOLS, y_axis_type=y_axis_type)
    labels = list(labels) if labels is not None else [r.name for r in runs]
    for i, (run, label) in enumerate(zip(runs, labels)):
        h = run.history
        if metric not in h.columns:
            raise ValueError(f"metric={metric!r} is not in the history: columns are {list(h.columns)}")
        fig.line(h["epoch"].tolist(), h[metric].tolist(), color=Category10_10[i % 10], line_width=2,
                 legend_label=str(label))
    if fig.legend:
        fig.legend.click_policy = "hide"
        fig.legend.location = "top_right"
    return fig


def scatter_figure(x: Sequence[float], y: Sequence[float], labels: Sequence[str], x_label: str, y_label: str,
                   title: str = "", x_axis_type: str = "linear", width: int = 560, height: int = 300):
    """Labelled points, e.g. parameter count against accuracy."""
    source = ColumnDataSource({"x": list(x), "y": list(y), "label": [str(v) for v in labels]})
    fig = figure(title=title, width=width, height=height, x_axis_label=x_label, y_axis_label=y_label,
                 x_axis_type=x_axis_type, tools=TOOLS)
    fig.scatter("x", "y", source=source, size=10, color=Category10_10[0])
    fig.text("x", "y", text="label", source=source, x_offset=6, y_offset=-6, text_font_size="9pt")
    fig.add_tools(HoverTool(tooltips=[("", "@label"), (x_label, "@x"), (y_label, "@y")]))
    return fig


def confusion_figure(confusion: Any, title: str = "confusion matrix (validation)", size: int = 380):
    """A heat map of a true x predicted count table (``tw.evaluate(run, data).confusion``)."""
    names = [str(c) for c in confusion.index]
    rows = [(t, p, int(confusion.iloc[i, j])) for i, t in enumerate(names) for j, p in enumerate(names)]
    true, pred, count = zip(*rows)
    source = ColumnDataSource({"true": list(true), "predicted": list(pred), "count": list(count),
                               "text": [str(c) if c else "" for c in count]})
    mapper = LinearColorMapper(palette=list(reversed(Blues256)), low=0, high=max(count) or 1)
    fig = figure(title=title, width=size + 40, height=size, x_range=names, y_range=list(reversed(names)),
                 x_axis_label="predicted", y_axis_label="true", tools="hover,save",
                 tooltips=[("true", "@true"), ("predicted", "@predicted"), ("count", "@count")])
    fig.rect("predicted", "true", 1, 1, source=source, fill_color={"field": "count", "transform": mapper},
             line_color=None)
    fig.text("predicted", "true", text="text", source=source, text_align="center", text_baseline="middle",
             text_font_size="8pt")
    fig.grid.visible = False
    return fig
