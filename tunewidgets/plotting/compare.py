"""Static figures for finished runs: curves of several runs overlaid, a metric against a size, and
the confusion matrix. Built from plain values (histories, tables), so they import bokeh only."""

from __future__ import annotations

import math
from typing import Any, Sequence

from bokeh.models import ColumnDataSource, HoverTool, LinearColorMapper
from bokeh.palettes import Blues256, Category10_10
from bokeh.plotting import figure

TOOLS = "pan,box_zoom,wheel_zoom,reset,save"


MAX_LEGEND = 8  # with more runs than this, a legend's column of entries would hide the plot: none is drawn
OUTSIDE = ("right", "left", "above", "below")  # legend locations beside the plot rather than on it
CORNERS = ("top_right", "bottom_right", "top_left", "bottom_left")  # the order of preference among equals


def runs_figure(runs: Sequence[Any], metric: str = "val_loss", labels: Sequence[str] | None = None,
                title: str | None = None, width: int = 560, height: int = 300, y_axis_type: str = "linear",
                max_legend: int = MAX_LEGEND, legend_location: str = "auto"):
    """One line per run of ``metric`` against the epoch, with a small circle on every epoch, so that a
    run of a single epoch (say a trial pruned after its first) still shows, as a point.

    ``runs`` are ``tw.Run`` objects (anything with ``.history`` and ``.name``); ``labels`` name them
    (default: the runs' names). Hovering over a point shows its run, epoch and value.

    Up to ``max_legend`` runs get a legend (click an entry to hide that run), at ``legend_location``:
    ``"auto"``, the corner of the plot that holds the fewest points (bottom right for rising accuracy
    curves, top right for falling losses); a corner by name (``"top_right"``, ``"bottom_left"``, ...),
    drawn half transparent; or ``"right"``, ``"left"``, ``"above"``, ``"below"`` to put it beside the
    plot (which then gets that much narrower or shorter: ``width`` and ``height`` are the figure's).
    With more runs there is no legend, and hovering is how a run is told apart.
    """
    runs = list(runs)
    labels = [str(v) for v in labels] if labels is not None else [str(r.name) for r in runs]
    if len(labels) != len(runs):
        raise ValueError(f"{len(labels)} labels for {len(runs)} runs")
    fig = figure(title=title or metric, width=width, height=height, x_axis_label="epoch",
                 y_axis_label=metric, tools=TOOLS, y_axis_type=y_axis_type)
    named = len(runs) <= max_legend
    points = []
    for i, (run, label) in enumerate(zip(runs, labels)):
        h = run.history
        if metric not in h.columns:
            raise ValueError(f"metric={metric!r} is not in the history: columns are {list(h.columns)}")
        source = ColumnDataSource({"x": h["epoch"].tolist(), "y": h[metric].tolist(), "run": [label] * len(h)})
        color = Category10_10[i % 10]
        legend = {"legend_label": label} if named else {}
        fig.line("x", "y", source=source, color=color, line_width=2, **legend)
        points.append(fig.scatter("x", "y", source=source, marker="circle", size=6, color=color, **legend))
    fig.add_tools(HoverTool(renderers=points, tooltips=[("run", "@run"), ("epoch", "@x"), (metric, "@y{0.0000}")]))
    if fig.legend:
        legend_model = fig.legend[0]
        legend_model.click_policy = "hide"
        legend_model.background_fill_alpha = 0.6
        if legend_location in OUTSIDE:
            fig.center.remove(legend_model)
            fig.add_layout(legend_model, legend_location)
        else:
            legend_model.location = (emptiest_corner(points, log_y=y_axis_type == "log")
                                     if legend_location == "auto" else legend_location)
    return fig


def emptiest_corner(renderers: Sequence[Any], log_y: bool = False, share: float = 0.45) -> str:
    """The corner of the plot whose box (``share`` of the data's x and y ranges) holds the least of the
    curves: their points, and points along the lines between them."""
    xs, ys = [], []
    for r in renderers:
        data = r.data_source.data
        curve = [(x, math.log10(y) if log_y else y) for x, y in zip(data["x"], data["y"])
                 if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)
                 and not (log_y and y <= 0)]
        for (xa, ya), (xb, yb) in zip(curve, curve[1:]):
            for t in (0.25, 0.5, 0.75):
                xs.append(xa + t * (xb - xa))
                ys.append(ya + t * (yb - ya))
        xs.extend(x for x, _ in curve)
        ys.extend(y for _, y in curve)
    if not xs:
        return CORNERS[0]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    right, top = x1 - share * (x1 - x0), y1 - share * (y1 - y0)
    left, bottom = x0 + share * (x1 - x0), y0 + share * (y1 - y0)
    inside = {"top_right": lambda x, y: x >= right and y >= top,
              "bottom_right": lambda x, y: x >= right and y <= bottom,
              "top_left": lambda x, y: x <= left and y >= top,
              "bottom_left": lambda x, y: x <= left and y <= bottom}
    counts = {corner: sum(inside[corner](x, y) for x, y in zip(xs, ys)) for corner in CORNERS}
    return min(CORNERS, key=lambda corner: (counts[corner], CORNERS.index(corner)))


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
