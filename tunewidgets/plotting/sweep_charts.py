"""Static views of a finished sweep's table: the metric against each hyperparameter, and parallel
coordinates. Built from plain columns (a ``Sweep.table()`` DataFrame or anything indexable by
column name), so this imports bokeh only.

Example::

    from tunewidgets.plotting.sweep_charts import sweep_charts
    tw.show(*sweep_charts(sw), ncols=3)
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from bokeh.models import (BasicTicker, ColorBar, ColumnDataSource, FixedTicker, HoverTool, LinearColorMapper,
                          Range1d)
from bokeh.palettes import Viridis256
from bokeh.plotting import figure
from ..statuses import Status

TOOLS = "pan,box_zoom,wheel_zoom,reset,save"
STATUS_COLORS = {Status.COMPLETE: "#1f77b4", Status.PRUNED: "#9e9e9e", Status.STOPPED: "#9e9e9e", Status.RUNNING: "#ff7f0e"}


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) and not isinstance(value, (str, bytes)) else value


def _column(table: Any, name: str) -> list:
    return [_plain(v) for v in list(table[name])]


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_categorical(values: Sequence[Any]) -> bool:
    return any(not _finite(v) for v in values if v is not None)


def _factors(values: Sequence[Any], order: Sequence[Any] | None) -> list[str]:
    seen = [str(v) for v in (order or [])]
    for v in values:
        if str(v) not in seen:
            seen.append(str(v))
    return seen


def _rows(table: Any, metric: str, params: Sequence[str]) -> list[dict[str, Any]]:
    """Trials with a finite metric (failed and unfinished ones have nothing to show)."""
    columns = {name: _column(table, name) for name in ("trial", "status", metric, *params)}
    rows = [dict(zip(columns, values)) for values in zip(*columns.values())]
    return [r for r in rows if _finite(r[metric])]


def metric_figures(table: Any, metric: str, params: Sequence[str], log: Sequence[str] = (),
                   categorical: dict[str, Sequence[Any]] | Sequence[str] = (), width: int = 280,
                   height: int = 240) -> list:
    """One scatter per hyperparameter of the metric against its values.

    ``log`` names log-scaled dimensions (a log x axis); ``categorical`` names choice dimensions (a
    dict gives each one's values in order); columns holding strings are categorical anyway.
    """
    rows = _rows(table, metric, params)
    order = categorical if isinstance(categorical, dict) else {name: None for name in categorical}
    figures = []
    for name in params:
        xs = [r[name] for r in rows]
        data = {"y": [r[metric] for r in rows], "trial": [r["trial"] for r in rows],
                "status": [r["status"] for r in rows],
                "color": [STATUS_COLORS.get(r["status"], "#1f77b4") for r in rows]}
        kwargs: dict[str, Any] = {}
        if name in order or _is_categorical(xs):
            data["x"] = [str(x) for x in xs]
            kwargs["x_range"] = _factors(xs, order.get(name))
        else:
            data["x"] = xs
            if name in log:
                kwargs["x_axis_type"] = "log"
        fig = figure(title=f"{metric} vs {name}", width=width, height=height, tools=TOOLS, x_axis_label=name,
                     y_axis_label=metric, name=f"tw-sweep-vs-{name}", **kwargs)
        source = ColumnDataSource(data, name=f"tw-sweep-vs-{name}-data")
        fig.scatter("x", "y", source=source, color="color", size=9, alpha=0.8)
        fig.add_tools(HoverTool(tooltips=[("trial", "@trial"), (name, "@x"), (metric, "@y{0.0000}"),
                                          ("status", "@status")]))
        figures.append(fig)
    return figures


def _normalize(values: list, kind: str, factors: list[str] | None) -> tuple[list[float], str, str]:
    """Values on [0, 1], with the axis' end labels."""
    if kind == "categorical":
        k = len(factors)
        return ([factors.index(str(v)) / (k - 1) if k > 1 else 0.5 for v in values], factors[0], factors[-1])
    scale = (lambda x: math.log10(x)) if kind == "log" else (lambda x: x)
    scaled = [scale(v) for v in values]
    low, high = min(scaled), max(scaled)
    span = high - low
    return ([(s - low) / span if span > 0 else 0.5 for s in scaled], f"{min(values):.3g}", f"{max(values):.3g}")


def parallel_coordinates_figure(table: Any, metric: str, params: Sequence[str], log: Sequence[str] = (),
                                categorical: dict[str, Sequence[Any]] | Sequence[str] = (),
                                direction: str = "maximize", width: int = 720, height: int = 320,
                                top: float | None = None):
    """One line per trial across normalized axes (each hyperparameter, then the metric), colored by the
    metric; the best trials are drawn last, on top. Axis ends are labelled with their real values;
    ``log`` axes are spaced by decades and named so. ``top`` (e.g. 0.25) keeps only that best fraction
    of the trials, so the good region stands out."""
    rows = _rows(table, metric, params)
    if top is not None:
        if not (isinstance(top, (int, float)) and 0 < top <= 1):
            raise ValueError(f"top={top!r} is not allowed: must be a fraction > 0 and <= 1, e.g. 0.25")
        rows.sort(key=lambda r: -r[metric] if direction == "maximize" else r[metric])
        rows = rows[:max(1, math.ceil(top * len(rows)))]
    order = categorical if isinstance(categorical, dict) else {name: None for name in categorical}
    axes = [*params, metric]
    columns, lows, highs = {}, [], []
    for name in axes:
        values = [r[name] for r in rows]
        if name != metric and (name in order or _is_categorical(values)):
            norm, low, high = _normalize(values, "categorical", _factors(values, order.get(name)))
        elif values:
            norm, low, high = _normalize(values, "log" if name in log else "linear", None)
        else:
            norm, low, high = [], "", ""
        columns[name], lows, highs = norm, lows + [low], highs + [high]
    metrics = [r[metric] for r in rows]
    # axes are scaled in table order (categories keep it); lines are drawn best last, on top
    drawn = sorted(range(len(rows)), key=lambda i: metrics[i] if direction == "maximize" else -metrics[i])
    data = {"xs": [list(range(len(axes))) for _ in rows],
            "ys": [[columns[name][i] for name in axes] for i in drawn],
            "trial": [rows[i]["trial"] for i in drawn], "value": [metrics[i] for i in drawn],
            "status": [rows[i]["status"] for i in drawn]}
    palette = Viridis256 if direction == "maximize" else tuple(reversed(Viridis256))
    mapper = LinearColorMapper(palette=palette, low=min(metrics, default=0.0), high=max(metrics, default=1.0))
    shown = f", best {round(100 * top)}% of trials" if top is not None else ""
    fig = figure(title=f"parallel coordinates (color: {metric}{shown})", width=width, height=height, tools=TOOLS,
                 x_range=Range1d(-0.3, len(axes) - 0.7), y_range=Range1d(-0.12, 1.12), name="tw-sweep-parallel")
    source = ColumnDataSource(data, name="tw-sweep-parallel-lines")
    lines = fig.multi_line("xs", "ys", source=source, line_color={"field": "value", "transform": mapper},
                           line_width=2, line_alpha=0.8)
    fig.add_tools(HoverTool(renderers=[lines], tooltips=[("trial", "@trial"), (metric, "@value{0.0000}"),
                                                         ("status", "@status")]))
    ends = ColumnDataSource({"x": list(range(len(axes))) * 2, "y": [-0.06] * len(axes) + [1.06] * len(axes),
                             "text": lows + highs}, name="tw-sweep-parallel-ends")
    fig.text("x", "y", text="text", source=ends, text_align="center", text_baseline="middle",
             text_font_size="8pt", text_color="#555555")
    fig.xaxis.ticker = FixedTicker(ticks=list(range(len(axes))))
    fig.xaxis.major_label_overrides = {i: f"{name} (log)" if name in log else name for i, name in enumerate(axes)}
    fig.yaxis.visible = False
    fig.ygrid.visible = False
    fig.xgrid.ticker = FixedTicker(ticks=list(range(len(axes))))
    fig.xgrid.grid_line_color = "#888888"
    fig.add_layout(ColorBar(color_mapper=mapper, ticker=BasicTicker(desired_num_ticks=5), width=10,
                            title=metric), "right")
    return fig


def space_hints(space: Any) -> tuple[list[str], dict[str, list]]:
    """``(log dims, {choice dim: values})`` of a ``tw.Space``, read by class name (no import needed)."""
    log = [n for n, d in space.dims.items() if type(d).__name__ == "LogUniform"]
    choices = {n: list(d.values) for n, d in space.dims.items() if type(d).__name__ == "Choice"}
    return log, choices


def importance_figure(importances: dict[str, float], width: int = 420, height: int | None = None):
    """A bar per hyperparameter: how much of the metric's variation it explains (e.g. Optuna's fANOVA
    importances, ``Sweep.importances()``), the most important on top."""
    names = list(importances)[::-1]
    source = ColumnDataSource({"name": names, "importance": [importances[n] for n in names]},
                              name="tw-sweep-importance-data")
    fig = figure(title="hyperparameter importance", y_range=names or [""], width=width,
                 height=height or 90 + 28 * max(1, len(names)), tools="save", x_axis_label="share of variation",
                 name="tw-sweep-importance")
    fig.hbar(y="name", right="importance", height=0.6, source=source, color="#1f77b4")
    fig.add_tools(HoverTool(tooltips=[("", "@name"), ("importance", "@importance{0.000}")]))
    fig.x_range.start = 0
    return fig


def chart_columns(sweep: Any) -> dict[str, Any]:
    """What the charts of ``sweep`` are drawn from: its table (built once) and how to read its columns."""
    table = sweep.table()
    log, choices = space_hints(sweep.space)
    params = _table_params(table, sweep.space.names, sweep.metric)
    column = dict(zip(sweep.space.names, params))
    return {"table": table, "metric": sweep.metric, "params": params, "log": [column[n] for n in log],
            "categorical": {column[n]: values for n, values in choices.items()}, "direction": sweep.direction}


def sweep_charts(sweep: Any, width: int = 280, height: int = 240, top: float | None = None,
                 columns: dict[str, Any] | None = None, importances: dict[str, float] | None = None) -> list:
    """The metric against each hyperparameter, the parallel coordinates (``top``: only the best fraction)
    and, once trials completed, the hyperparameters' importance, of ``sweep`` (a ``tw.Sweep``, live or
    loaded). ``tw.show(*sweep_charts(sw))`` puts them in the notebook. ``columns`` (``chart_columns``)
    and ``importances`` (``sweep.importances()``, seconds of fANOVA) where the caller has them already."""
    columns = columns or chart_columns(sweep)
    figures = metric_figures(columns["table"], columns["metric"], columns["params"], log=columns["log"],
                             categorical=columns["categorical"], width=width, height=height)
    figures.append(parallel_coordinates_figure(columns["table"], columns["metric"], columns["params"],
                                               log=columns["log"], categorical=columns["categorical"],
                                               direction=columns["direction"], top=top))
    importances = sweep.importances() if importances is None else importances
    if importances:
        figures.append(importance_figure(importances))
    return figures


def _table_params(table: Any, names: Sequence[str], metric: str) -> list[str]:
    """The table column of each dimension (``param_<name>`` where the name clashes with a fixed column)."""
    columns = set(table.columns)
    return [name if name in columns and name not in ("rank", "trial", "status", metric, "epochs_trained",
                                                      "seconds", "error") else f"param_{name}" for name in names]
