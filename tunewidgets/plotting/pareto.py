"""The trade-off of a sweep with two objectives: every trial a point, the Pareto front joined.

Built once and updated in place (two small sources whose data is replaced as trials finish), like
the other live figures. Hover names a trial's hyperparameters.
"""

from __future__ import annotations

import threading
from typing import Sequence

from bokeh.models import ColumnDataSource, HoverTool
from bokeh.plotting import figure

FRONT_COLOR, OTHER_COLOR = "#d62728", "#9e9e9e"


class ParetoChart:
    """Trials as points of (first objective, second objective); the non-dominated ones in red, joined.

    Example::

        chart = ParetoChart("val_accuracy", "params")
        chart.update([0, 1, 2], [0.95, 0.97, 0.90], [2410, 17290, 610], ["units 32", "units 128", "units 8"],
                     [True, True, True])
    """

    def __init__(self, x_label: str = "objective 1", y_label: str = "objective 2", width: int = 520,
                 height: int = 320, visible: bool = True) -> None:
        self.lock = threading.RLock()
        self.points = ColumnDataSource({"trial": [], "x": [], "y": [], "label": [], "color": []},
                                       name="tw-pareto-points")
        self.front = ColumnDataSource({"x": [], "y": []}, name="tw-pareto-front")
        self.figure = figure(title=self._title(x_label, y_label), width=width, height=height, x_axis_label=x_label,
                             y_axis_label=y_label, tools="pan,box_zoom,wheel_zoom,reset,save", visible=visible,
                             name="tw-pareto")
        self.figure.line("x", "y", source=self.front, color=FRONT_COLOR, line_width=2, legend_label="Pareto front")
        dots = self.figure.scatter("x", "y", source=self.points, color="color", size=9, alpha=0.85)
        self.figure.add_tools(HoverTool(renderers=[dots], tooltips=[("trial", "@trial"), ("", "@label"),
                                                                    (x_label, "@x"), (y_label, "@y")]))
        self.figure.legend.location = "bottom_right"

    @staticmethod
    def _title(x_label: str, y_label: str) -> str:
        return f"trade-off: {x_label} against {y_label} (red: the Pareto front)"

    def set_axes(self, x_label: str, y_label: str) -> None:
        with self.lock:
            self.figure.xaxis.axis_label, self.figure.yaxis.axis_label = x_label, y_label
            self.figure.title.text = self._title(x_label, y_label)

    def update(self, trials: Sequence[int], xs: Sequence[float], ys: Sequence[float], labels: Sequence[str],
               on_front: Sequence[bool]) -> None:
        """Show these trials; the front's points are joined in order of the first objective."""
        front = sorted((x, y) for x, y, f in zip(xs, ys, on_front) if f)
        with self.lock:
            self.points.data = {"trial": list(trials), "x": list(xs), "y": list(ys), "label": list(labels),
                                "color": [FRONT_COLOR if f else OTHER_COLOR for f in on_front]}
            self.front.data = {"x": [x for x, _ in front], "y": [y for _, y in front]}
