"""The live sweep plot: one line per trial of the sweep metric per epoch, built once, then streamed.

Bounded whatever the number of trials: every trial's points go into ONE ColumnDataSource as line
segments (previous epoch -> this epoch) with a per-row color and alpha, streamed with
``rollover``. A finished trial is restyled with one ``patch`` of its own rows (pruned and stopped
trials fade); the best trial is redrawn on top from a small second source whose data is replaced
only when the best changes. Where a population member took another's weights (its row's
``exploits`` count grew), a triangle marks the point. No glyph or source is added after construction.
"""

from __future__ import annotations

import math
import threading
from typing import Iterable

from bokeh.models import ColumnDataSource, HoverTool
from bokeh.palettes import Category20
from bokeh.plotting import figure

from ..guards import require_count
from ..statuses import Status

COLUMNS = ("trial", "x0", "y0", "x1", "y1", "color", "alpha")
PALETTE = Category20[20]
FADED = ("#9e9e9e", 0.25)
FAILED = ("#c62828", 0.35)
LIVE_ALPHA = 0.85
BEST_COLOR = "#111111"
TOOLS = "pan,box_zoom,wheel_zoom,reset,save"


def _empty() -> dict[str, list]:
    return {c: [] for c in COLUMNS}


class SweepCurves:
    """The sweep metric per epoch, one line per trial; best highlighted, pruned faded.

    Example::

        curves = SweepCurves("val_accuracy")
        curves.stream({0: [(1, 0.8), (2, 0.9)], 1: [(1, 0.5)]})
        curves.finish(1, "pruned")
        curves.show_best(0, [1, 2], [0.8, 0.9])
        curves.figure     # wrap in a BokehView
    """

    def __init__(self, metric: str = "val_accuracy", rollover: int = 5000, width: int = 640, height: int = 300) -> None:
        require_count("rollover", rollover)
        self.lock = threading.RLock()
        self.metric, self.rollover = metric, rollover
        self.source = ColumnDataSource(_empty(), name="tw-sweep-points")
        self.best_source = ColumnDataSource({"epoch": [], "value": []}, name="tw-sweep-best")
        self.figure = figure(title=self._title(None), width=width, height=height, tools=TOOLS, x_axis_label="epoch",
                             y_axis_label=metric, name="tw-sweep-curves")
        segments = self.figure.segment("x0", "y0", "x1", "y1", source=self.source, line_color="color",
                                       line_alpha="alpha", line_width=1.5)
        self.figure.scatter("x1", "y1", source=self.source, color="color", alpha="alpha", size=4)
        self.figure.line("epoch", "value", source=self.best_source, color=BEST_COLOR, line_width=3.5,
                         legend_label="best trial")
        self.figure.scatter("epoch", "value", source=self.best_source, color=BEST_COLOR, size=6)
        self.jumps = ColumnDataSource({"trial": [], "x": [], "y": []}, name="tw-sweep-jumps")
        # no legend entry: a sweep that is no population would list a mark it never shows; hover says it
        jumps = self.figure.scatter("x", "y", source=self.jumps, marker="triangle", size=9, color=BEST_COLOR,
                                    fill_alpha=0.0)
        jump_tips = [("trial", "@trial"), ("took weights after epoch", "@x{0}")]
        self.figure.add_tools(HoverTool(renderers=[jumps], tooltips=jump_tips))
        self.figure.add_tools(HoverTool(renderers=[segments], tooltips=[("trial", "@trial"), ("epoch", "@x1"),
                                                                        (metric, "@y1{0.0000}")]))
        self.figure.legend.location = "bottom_right"
        self._total = 0  # rows streamed since the last clear (rows rolled out included)
        self._rows_of: dict[int, list[int]] = {}
        self._last: dict[int, tuple[float, float]] = {}
        self._style: dict[int, tuple[str, float]] = {}
        self._exploits: dict[int, int] = {}
        self.best_trial: int | None = None

    def _title(self, best: int | None) -> str:
        return f"{self.metric} per epoch, one line per trial" + (f" (best: trial {best})" if best is not None else "")

    def stream(self, points: dict[int, Iterable[tuple]]) -> int:
        """Append ``{trial: [(epoch, value), ...]}`` in one stream call; return the calls made (0 or 1).
        A point may carry a third value, its row's ``exploits`` count (population-based training)."""
        rows, jumps = _empty(), {"trial": [], "x": [], "y": []}
        with self.lock:
            for trial, pairs in points.items():
                color, alpha = self._style.get(trial, (PALETTE[trial % len(PALETTE)], LIVE_ALPHA))
                for epoch, value, *exploits in pairs:
                    if value is None or not math.isfinite(value):
                        continue  # a gap: the next finite point connects to the last one
                    if exploits and (exploits[0] or 0) > self._exploits.get(trial, 0):  # marked where it jumped
                        self._exploits[trial] = exploits[0]
                        before = self._last.get(trial, (epoch - 1, value))
                        for key, v in zip(("trial", "x", "y"), (trial, *before)):
                            jumps[key].append(v)
                    last = self._last.get(trial)
                    if last is None or epoch <= last[0]:  # first point, or a retried trial starting over
                        last = (epoch, value)
                    for key, v in zip(COLUMNS, (trial, last[0], last[1], epoch, value, color, alpha)):
                        rows[key].append(v)
                    self._last[trial] = (epoch, value)
                    self._rows_of.setdefault(trial, []).append(self._total + len(rows["trial"]) - 1)
            if jumps["trial"]:
                self.jumps.stream(jumps, rollover=self.rollover)
            if not rows["trial"]:
                return 0
            self._total += len(rows["trial"])
            self.source.stream(rows, rollover=self.rollover)
            return 1

    def finish(self, trial: int, status: str) -> int:
        """Restyle a finished trial's rows (pruned/stopped fade, failed in faint red); return patches sent."""
        style = FAILED if status == Status.FAILED else FADED if status in (Status.PRUNED, Status.STOPPED) else None
        if style is None:
            return 0
        with self.lock:
            self._style[trial] = style
            dropped = max(0, self._total - self.rollover)
            indices = [g - dropped for g in self._rows_of.get(trial, []) if g >= dropped]
            self._rows_of[trial] = [g for g in self._rows_of.get(trial, []) if g >= dropped]
            if not indices:
                return 0
            self.source.patch({"color": [(i, style[0]) for i in indices], "alpha": [(i, style[1]) for i in indices]})
            return 1

    def show_best(self, trial: int | None, epochs: list[float], values: list[float]) -> None:
        """Draw ``trial``'s curve on top as the best (None removes it)."""
        with self.lock:
            if trial is None:
                self.best_source.data = {"epoch": [], "value": []}
            else:
                pairs = [(e, v) for e, v in zip(epochs, values) if v is not None and math.isfinite(v)]
                self.best_source.data = {"epoch": [e for e, _ in pairs], "value": [v for _, v in pairs]}
            self.best_trial = trial
            self.figure.title.text = self._title(trial)

    def clear(self) -> None:
        """Empty the plot for a new sweep."""
        with self.lock:
            if self.source.data["trial"]:
                self.source.data = _empty()
            self.show_best(None, [], [])
            if self.jumps.data["trial"]:
                self.jumps.data = {"trial": [], "x": [], "y": []}
            self._exploits.clear()
            self._total = 0
            self._rows_of.clear()
            self._last.clear()
            self._style.clear()

    def rows(self, trial: int | None = None) -> int:
        """Rows (points) held now, of one trial or of all."""
        trials = self.source.data["trial"]
        return len(trials) if trial is None else sum(1 for t in trials if t == trial)
