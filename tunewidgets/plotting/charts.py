"""Static views: the learning-rate range test (loss against lr on a log axis).

The chart is built once and its data replaced after each test, like the live curves.
"""

from __future__ import annotations

import math
from typing import Any

from bokeh.models import ColumnDataSource, Range1d, Span
from bokeh.plotting import figure


class LRFinderChart:
    """Raw and smoothed loss against the learning rate, with the suggested rate marked.

    ``update(result)`` takes anything with ``lrs``, ``losses``, ``smoothed`` and ``suggestion``
    (a ``tw.lr_find`` result).
    """

    def __init__(self, width: int = 470, height: int = 260, visible: bool = True) -> None:
        self.source = ColumnDataSource({"lr": [], "loss": [], "smoothed": []}, name="tw-lr-finder")
        self.figure = figure(title="learning-rate range test", width=width, height=height, x_axis_type="log",
                             x_axis_label="learning rate (log)", y_axis_label="loss",
                             x_range=Range1d(1e-6, 1.0), y_range=Range1d(0, 1),
                             tools="pan,box_zoom,wheel_zoom,reset,save", visible=visible, name="tw-lr-chart")
        self.figure.line("lr", "loss", source=self.source, color="#aaaaaa", legend_label="loss")
        self.figure.line("lr", "smoothed", source=self.source, color="#1f77b4", line_width=2,
                         legend_label="smoothed")
        self.marker = Span(location=1e-3, dimension="height", line_color="#d62728", line_dash="dashed",
                           visible=False)
        self.figure.add_layout(self.marker)
        self.figure.legend.location = "top_left"

    def update(self, result: Any) -> None:
        """Show a finished range test (call under the document's lock when it is displayed)."""
        self.source.data = {"lr": list(result.lrs), "loss": list(result.losses),
                            "smoothed": list(result.smoothed)}
        lrs, smoothed = list(result.lrs), [x for x in result.smoothed if math.isfinite(x)]
        if lrs and smoothed:  # explicit ranges: auto-ranging a hidden log axis misplaces it
            self.figure.x_range.start, self.figure.x_range.end = min(lrs), max(lrs)
            low, first = min(smoothed), smoothed[0]
            self.figure.y_range.start = max(0.0, low - 0.1 * (first - low))
            self.figure.y_range.end = first + 0.3 * (first - low) + 1e-9  # the explosion runs off the top
        suggestion = float(result.suggestion)
        if math.isfinite(suggestion) and suggestion > 0:
            self.marker.location = suggestion
            self.marker.visible = True
        else:
            self.marker.visible = False
        self.figure.visible = True
