"""Live loss and metric figures: built once, then streamed into.

Each run takes a *slot*: its own pair of ColumnDataSources (per-epoch rows and per-few-batches
rows), its own color and one legend entry per figure (click it to hide the run). Slots are created
with the figures and recycled, so a panel that trains for days neither adds glyphs per update nor
grows its document; ``stream(..., rollover=N)`` bounds the rows of each source.

All document changes go through ``lock`` so that a streaming thread, the notebook thread and
messages from the browser never interleave inside Bokeh.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from bokeh.layouts import row
from bokeh.core.properties import value
from bokeh.models import ColumnDataSource, HoverTool, Legend, LegendItem
from bokeh.palettes import Category10
from bokeh.plotting import figure

from ..guards import require_count

EPOCH_COLUMNS = ("epoch", "train_loss", "val_loss", "metric")
LOSS_TITLE = "loss (solid: train, dashed: validation)"
# Running losses within an epoch come every 0.2 s: only epochs longer than that draw them.
LOSS_TITLE_WITH_BATCHES = LOSS_TITLE[:-1] + ", faint: within an epoch)"
# One marker shape per run, so two runs on the same points (a seeded run repeated) both show.
MARKERS = ("circle", "square", "triangle", "diamond", "inverted_triangle", "hex", "star", "square_pin",
           "triangle_pin", "plus")
BATCH_COLUMNS = ("epoch", "train_loss")
TOOLS = "pan,box_zoom,wheel_zoom,reset,save"


@dataclass
class Slot:
    """The sources, glyphs and legend entries one run draws with."""

    index: int
    color: str
    epochs: ColumnDataSource
    batches: ColumnDataSource
    legend_items: list
    renderers: list
    run_id: str | None = None


def _empty(columns: tuple[str, ...]) -> dict[str, list]:
    return {c: [] for c in columns}


class LiveCurves:
    """Training and validation loss (per epoch and per few batches) and a validation metric.

    Example::

        curves = LiveCurves(metric_label="val accuracy", rollover=2000)
        curves.add_run("a1b2", "run 1")
        curves.stream("a1b2", epochs={"epoch": [1], "train_loss": [.9], "val_loss": [.8], "metric": [.7]})
        curves.layout   # a Bokeh layout to wrap in a BokehView
    """

    def __init__(self, metric_label: str = "val accuracy", rollover: int = 2000, max_runs: int = 10,
                 width: int = 470, height: int = 300) -> None:
        require_count("rollover", rollover)
        require_count("max_runs", max_runs, high=10)
        self.lock = threading.RLock()
        self.rollover = rollover
        self.loss_figure = figure(title=LOSS_TITLE,
                                  width=width, height=height, tools=TOOLS, x_axis_label="epoch",
                                  y_axis_label="loss", name="tw-loss")
        self.metric_figure = figure(title=metric_label, width=width, height=height, tools=TOOLS,
                                    x_axis_label="epoch", y_axis_label=metric_label, name="tw-metric")
        loss_legend = Legend(items=[], click_policy="hide", location="top_right")
        metric_legend = Legend(items=[], click_policy="hide", location="bottom_right")
        self.slots = [self._make_slot(i, loss_legend, metric_legend) for i in range(max_runs)]
        self.loss_figure.add_layout(loss_legend)
        self.metric_figure.add_layout(metric_legend)
        # Where a live knob moved: one dotted vertical line per change on both figures, hover says what.
        self.knobs = ColumnDataSource({"x": [], "label": [], "color": [], "run": []}, name="tw-knobs")
        for fig in (self.loss_figure, self.metric_figure):
            marks = fig.vspan(x="x", source=self.knobs, line_color="color", line_dash="dotted", line_width=1.5)
            fig.add_tools(HoverTool(renderers=[marks], tooltips=[("", "@label")]))
        self.layout = row(self.loss_figure, self.metric_figure, name="tw-curves")
        self._next = 0

    def _make_slot(self, i: int, loss_legend: Legend, metric_legend: Legend) -> Slot:
        color = Category10[10][i % 10]
        epochs = ColumnDataSource(_empty(EPOCH_COLUMNS), name=f"tw-epochs-{i}")
        batches = ColumnDataSource(_empty(BATCH_COLUMNS), name=f"tw-batches-{i}")
        lf, mf = self.loss_figure, self.metric_figure
        loss_renderers = [
            lf.line("epoch", "train_loss", source=batches, color=color, alpha=0.3, line_width=1),
            lf.line("epoch", "train_loss", source=epochs, color=color, line_width=2),
            lf.line("epoch", "val_loss", source=epochs, color=color, line_width=2, line_dash="dashed"),
        ]
        metric_renderers = [
            mf.line("epoch", "metric", source=epochs, color=color, line_width=2),
            mf.scatter("epoch", "metric", source=epochs, color=color, size=7, marker=MARKERS[i % len(MARKERS)],
                       fill_alpha=0.25),
        ]
        items = [LegendItem(label=value(""), renderers=loss_renderers, visible=False),
                 LegendItem(label=value(""), renderers=metric_renderers, visible=False)]
        loss_legend.items.append(items[0])
        metric_legend.items.append(items[1])
        return Slot(i, color, epochs, batches, items, loss_renderers + metric_renderers)

    # ---- runs ------------------------------------------------------------------------------------
    def set_metric_label(self, label: str) -> None:
        """Name the metric figure's values (a training function's first reported metric)."""
        with self.lock:
            self.metric_figure.title.text = self.metric_figure.yaxis.axis_label = label

    def add_run(self, run_id: str, label: str) -> Slot:
        """Give ``run_id`` the next slot (the oldest run's, once all are taken), emptied and labelled."""
        with self.lock:
            slot = self.slots[self._next % len(self.slots)]
            self._next += 1
            self._reset(slot)
            slot.run_id = run_id
            for item in slot.legend_items:
                item.label = value(label)  # a plain string would name a data column
                item.visible = True
            for r in slot.renderers:
                r.visible = True
            return slot

    def slot_of(self, run_id: str) -> Slot | None:
        for slot in self.slots:
            if slot.run_id == run_id:
                return slot
        return None

    def stream(self, run_id: str, epochs: dict[str, list] | None = None,
               batches: dict[str, list] | None = None) -> int:
        """Append rows to a run's sources (bounded by ``rollover``); return how many stream calls it made."""
        slot = self.slot_of(run_id)
        if slot is None:
            return 0
        calls = 0
        with self.lock:
            if batches and batches.get("epoch"):
                slot.batches.stream(batches, rollover=self.rollover)
                calls += 1
                if self.loss_figure.title.text != LOSS_TITLE_WITH_BATCHES:
                    self.loss_figure.title.text = LOSS_TITLE_WITH_BATCHES
            if epochs and epochs.get("epoch"):
                slot.epochs.stream(epochs, rollover=self.rollover)
                calls += 1
        return calls

    def mark(self, run_id: str, epoch: float, label: str) -> int:
        """Mark where a live knob moved in a run (at a fractional ``epoch``), in the run's color; return
        the stream calls made (0 when the run has no curve)."""
        slot = self.slot_of(run_id)
        if slot is None:
            return 0
        with self.lock:
            self.knobs.stream({"x": [epoch], "label": [label], "color": [slot.color], "run": [run_id]},
                              rollover=self.rollover)
        return 1

    def clear(self, keep: tuple[str, ...] = ()) -> None:
        """Remove the curves of all runs except those in ``keep``."""
        with self.lock:
            for slot in self.slots:
                if slot.run_id is not None and slot.run_id not in keep:
                    self._reset(slot)
                    slot.run_id = None
                    for item in slot.legend_items:
                        item.visible = False

    def drop(self, run_id: str) -> None:
        """Remove one run's curves (e.g. a run that failed to start)."""
        self.clear(keep=tuple(s.run_id for s in self.slots if s.run_id not in (None, run_id)))

    def _reset(self, slot: Slot) -> None:
        """Empty a slot's curves and its run's knob marks (the slot may be lent to another run)."""
        marks = self.knobs.data
        if slot.run_id in marks["run"]:
            kept = [i for i, run in enumerate(marks["run"]) if run != slot.run_id]
            self.knobs.data = {k: [v[i] for i in kept] for k, v in marks.items()}
        if slot.epochs.data.get("epoch"):
            slot.epochs.data = _empty(EPOCH_COLUMNS)
        if slot.batches.data.get("epoch"):
            slot.batches.data = _empty(BATCH_COLUMNS)

    def rows(self, run_id: str, kind: str = "epochs") -> int:
        """How many rows a run's 'epochs' or 'batches' source holds."""
        slot = self.slot_of(run_id)
        if slot is None:
            return 0
        return len((slot.epochs if kind == "epochs" else slot.batches).data["epoch"])
