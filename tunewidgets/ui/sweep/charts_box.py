"""The charts under a finished sweep: the metric against each hyperparameter, the parallel
coordinates (all trials, or only the best share of them), and the hyperparameters' importance.

Static figures, built again when the sweep ends or the share changes; they work the same for a live
sweep and for one loaded from storage.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from ...statuses import Status
from ..base.bokeh_view import BokehView

# The share of trials the parallel coordinates show (1.0, not None: a Dropdown reads None as no selection).
TOP_CHOICES = (("all trials", 1.0), ("best 50%", 0.5), ("best 25%", 0.25), ("best 10%", 0.1))


class SweepChartsBox(widgets.VBox):
    """``show(sweep)`` draws a finished sweep's charts; the dropdown narrows the parallel coordinates
    (drawn again from the table and importances of ``show``: fANOVA's importances take seconds)."""

    def __init__(self, **kwargs: Any) -> None:
        self.sweep: Any = None
        self.top = widgets.Dropdown(options=TOP_CHOICES, value=1.0, description="parallel coordinates of",
                                    style={"description_width": "150px"}, layout=widgets.Layout(width="300px"))
        self.top.add_class("tw-sweep-top")
        self.top.observe(lambda _c: self._draw(), names="value")
        self._computed: dict[str, Any] | None = None  # the sweep's chart columns and importances
        self._view: BokehView | None = None
        super().__init__([], **kwargs)
        self.add_class("tw-sweep-charts")

    def show(self, sweep: Any) -> None:
        self.sweep, self._computed = sweep, None
        self._draw()

    def clear(self) -> None:
        self.sweep, self.children, self._computed = None, [], None
        self._close_view()

    def _draw(self) -> None:
        self._close_view()
        if self.sweep is None or not any(r.status == Status.COMPLETE for r in self.sweep.records()):
            self.children = []
            return
        from bokeh.layouts import column, row

        from ...plotting.sweep_charts import chart_columns, sweep_charts

        if self._computed is None:
            self._computed = {"columns": chart_columns(self.sweep), "importances": self.sweep.importances()}
        top = None if self.top.value == 1.0 else self.top.value
        figures = {fig.name: fig for fig in sweep_charts(self.sweep, top=top, **self._computed)}
        scatters = [fig for name, fig in figures.items() if name.startswith("tw-sweep-vs-")]
        grid = [row(*scatters[i:i + 3]) for i in range(0, len(scatters), 3)]
        below = [figures[n] for n in ("tw-sweep-parallel", "tw-sweep-importance") if n in figures]
        self._view = BokehView(column(*grid, *below))
        self.children = [widgets.HTML("<b>Finished sweep</b>"), self.top, self._view]

    def _close_view(self) -> None:
        """The replaced view's widget goes (it held the figures of the last draw)."""
        if self._view is not None:
            self._view.close()
            self._view = None
