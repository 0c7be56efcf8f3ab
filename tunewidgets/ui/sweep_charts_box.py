"""The charts under a finished sweep: the metric against each hyperparameter, the parallel
coordinates (all trials, or only the best share of them), and the hyperparameters' importance.

Static figures, built again when the sweep ends or the share changes; they work the same for a live
sweep and for one loaded from storage.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from .bokeh_view import BokehView

# The share of trials the parallel coordinates show (1.0, not None: a Dropdown reads None as no selection).
TOP_CHOICES = (("all trials", 1.0), ("best 50%", 0.5), ("best 25%", 0.25), ("best 10%", 0.1))


class SweepChartsBox(widgets.VBox):
    """``show(sweep)`` draws a finished sweep's charts; the dropdown narrows the parallel coordinates."""

    def __init__(self, **kwargs: Any) -> None:
        self.sweep: Any = None
        self.top = widgets.Dropdown(options=TOP_CHOICES, value=1.0, description="parallel coordinates of",
                                    style={"description_width": "150px"}, layout=widgets.Layout(width="300px"))
        self.top.add_class("tw-sweep-top")
        self.top.observe(lambda _c: self._draw(), names="value")
        super().__init__([], **kwargs)
        self.add_class("tw-sweep-charts")

    def show(self, sweep: Any) -> None:
        self.sweep = sweep
        self._draw()

    def clear(self) -> None:
        self.sweep, self.children = None, []

    def _draw(self) -> None:
        if self.sweep is None or not any(r.status == "complete" for r in self.sweep.records()):
            self.children = []
            return
        from bokeh.layouts import column, row

        from ..plotting.sweep_charts import sweep_charts

        top = None if self.top.value == 1.0 else self.top.value
        figures = {fig.name: fig for fig in sweep_charts(self.sweep, top=top)}
        scatters = [fig for name, fig in figures.items() if name.startswith("tw-sweep-vs-")]
        grid = [row(*scatters[i:i + 3]) for i in range(0, len(scatters), 3)]
        below = [figures[n] for n in ("tw-sweep-parallel", "tw-sweep-importance") if n in figures]
        self.children = [widgets.HTML("<b>Finished sweep</b>"), self.top, BokehView(column(*grid, *below))]
