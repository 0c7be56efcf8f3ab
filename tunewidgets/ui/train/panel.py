"""TrainPanel: hyperparameter controls, run buttons, live curves and a run history in one widget.

A view over ``tw.Run``: the panel holds no training logic. Start builds a ``Run`` from the
validated controls and trains it in a background thread (the cell returns, the kernel stays
responsive); the panel's ``DisplayPump`` carries its events to the curves, the status line and
the history.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping
from html import escape
from typing import Any

import ipywidgets as widgets
from bokeh.layouts import column

from ...engine.builtin.data import Data
from ...engine.fit.trainer import is_training_function
from ...engine.builtin.lr_finder import LRFinderResult, lr_find
from ...engine.run import Run
from ...engine.records.run_store import RunStore
from ...hparams import HParams
from ...plotting import LiveCurves, LRFinderChart
from ...space import Space
from ..base.bokeh_view import BokehView
from ..base.format import format_changes, format_lr_suggestion, format_status, history_cells
from ..base.history import RunHistoryTable
from ..base.panel import Panel
from ..base.points import history_columns, split_events
from .target import BuiltInTraining, FitTraining
from ...statuses import Status
STORED_RUNS_SHOWN = 100  # rows with widgets in the runs table; earlier ones one click away


class TrainPanel(Panel):
    """Train a model interactively: ``tw.TrainPanel(data)`` in a cell, set values, press Start.

    Example::

        panel = tw.TrainPanel(tw.load_dataset("digits"), tw.HParams(lr=3e-3))
        panel                     # shows the panel
        run = panel.start()       # the same as clicking Start; returns the tw.Run
        panel.wait(); panel.runs[-1].history.tail()

    Reset puts the controls back to the hyperparameters the panel was created with; Clear plots
    removes the curves of earlier runs. ``rollover`` bounds the points kept per curve.

    Your own training function gets a control per dimension of ``space`` (``base`` holds the fixed
    values) and curves of what it reports; ``metric`` (and ``direction``) is what a run's best is::

        panel = tw.TrainPanel(fit, tw.Space(lr=tw.LogUniform(1e-4, 1e-1), hidden=[32, 64]), base={"epochs": 10},
                              metric="val_accuracy")
    """

    BUTTONS = (("start", "Start", "play", "success"), ("pause", "Pause", "pause", ""),
               ("stop", "Stop", "stop", "danger"), ("continue", "Continue", "forward", ""),
               ("reset", "Reset", "undo", ""), ("find_lr", "Find LR", "search", ""),
               ("clear", "Clear plots", "eraser", ""))
    CSS_CLASS = "tw-train-panel"

    def __init__(self, data: Data | Any, hparams: HParams | dict | Space | None = None, *, base: Any = None,
                 metric: str | None = None, direction: str | None = None, rollover: int = 2000, max_runs: int = 10,
                 rate: float = 10.0, storage: str | None = None, **kwargs: Any) -> None:
        super().__init__(data, rate=rate, **kwargs)
        if is_training_function(data):
            self.training: BuiltInTraining | FitTraining = FitTraining(data, hparams, base, metric, direction)
        else:
            if base is not None or metric is not None or direction is not None:
                raise ValueError("base=, metric= and direction= are for a training function of yours: a panel on "
                                 "a tw.Data takes tw.HParams, and optimizes its task's metric")
            self.training = BuiltInTraining(self.data, hparams)
        self._initial, self.metric = self.training.initial, self.training.metric
        self.runs: list[Run] = []
        self.controls = self.training.controls()
        self.curves = LiveCurves(self.training.metric_label, rollover=rollover, max_runs=max_runs)
        self.lr_chart = LRFinderChart(visible=False)
        self.plots = BokehView(column(self.curves.layout, self.lr_chart.figure), lock=self.curves.lock)
        self.history = RunHistoryTable(metric=self.metric, shown=STORED_RUNS_SHOWN)
        self.stream_calls = 0
        self._rows: dict[str, int] = {}
        self._rates: dict[str, float] = {}
        self._live: list[Run] = []
        self._paused = False
        self._loading = False  # controls set from code (a loaded run, Reset): a training run keeps its knobs
        self.built_in_only = widgets.HTML(escape(self.training.built_in_only or "")).add_class("tw-built-in-only")
        self._set_body(self.controls, widgets.HBox(list(self.buttons.values())), self.built_in_only,
                       widgets.HBox([self.progress, self.status]), self.message, self.plots,
                       widgets.HTML("<b>Runs</b> (click a run to load its hyperparameters)"), self.history)
        self.controls.observe(lambda _c: self._sync_buttons(), names="valid")
        self.controls.observe(self._move_live_knobs, names="hparams")
        self.store = RunStore(storage) if storage is not None else None  # without storage nothing is written
        if self.store is not None:
            weakref.finalize(self, self.store.close)  # a re-run cell's panel lets its file go
            self._show_stored(self.training.stored_runs(self.store))
        self.history.observe(self._on_select, names="selected")
        self._sync_buttons()

    # ---- the code API --------------------------------------------------------------------------
    @property
    def plotted_metric(self) -> str | None:
        """The metric the second plot shows (a training function's: the first one it reports, unless told)."""
        return self.training.plotted_metric

    @property
    def hparams(self) -> HParams | dict[str, Any]:
        """The controls' validated hyperparameters (a dict for a training function); ``ValueError``
        naming the bad field otherwise."""
        return self.controls.checked()

    def set_hparams(self, hparams: HParams | dict) -> None:
        """Load hyperparameters into the controls (a run that trains keeps its own: ``run.update`` moves
        those)."""
        self._loading = True
        try:
            self.controls.set_hparams(hparams)
        finally:
            self._loading = False

    @property
    def run(self) -> Run | None:
        """The current (or last) run."""
        return self.runs[-1] if self.runs else None

    @property
    def active(self) -> bool:
        return self.run is not None and not self.run.done

    def start(self) -> Run:
        """Train with the current controls in a background thread; return the new ``tw.Run``."""
        hp = self.hparams
        self._check_idle()
        twin = next((r for r in self.runs if r.hparams == hp), None)
        run = self._launch(self._named(self.training.new_run(hp, self._keepers())))
        if twin is not None and run.device is not None and run.device.type == "cpu":
            self.show_info(f"{run.name} repeats the hyperparameters and seed of {twin.name}: on the CPU its "
                           f"curves lie exactly on {twin.name}'s (its markers differ); change the seed for "
                           f"another draw")
        return run

    def continue_run(self, parent: Run | None = None) -> Run:
        """Fork ``parent`` (default: the run selected in the table, else the last): train the controls'
        ``epochs`` more epochs from its weights and optimizer state, with the controls' other values."""
        self._check_built_in("Continue")
        parent = parent or self._selected_run() or self.run
        if parent is None:
            raise ValueError("no run to continue yet: press Start first")
        if parent.data is not self.data and parent.data.signature != self.data.signature:
            raise ValueError(f"{parent.name} trained on {parent.data.name!r}, this panel on {self.data.name!r}: "
                             f"continue it in a panel on its own data (its weights fit that data's shape)")
        self._check_idle()
        hp = self.hparams
        changes = {k: v for k, v in hp.to_dict().items() if v != getattr(parent.hparams, k) and k != "model"}
        return self._launch(self._named(parent.fork(start=False, callbacks=self._keepers(), **changes)))

    def _named(self, run: Run) -> Run:
        """``run`` named ``run N``: numbered within the panel, or within its runs file (which panels may
        share). Named once its checks passed, so a refused run takes no number."""
        run.name = f"run {len(self.runs) + 1}" if self.store is None else \
            self.store.new_name(run.name for run in self.runs)
        return run

    def _keepers(self) -> list:
        return [self.store.keeper()] if self.store is not None else []

    def _show_stored(self, runs: list[Run]) -> None:
        """Runs a panel on the same storage trained before (a kernel restart ago): rows (widgets for
        the latest only, see ``RunHistoryTable``), and curves of the latest as many as the plots hold;
        a note for any run of the file that is not shown."""
        self.runs.extend(runs)
        indices = self.history.extend([history_cells(run.name, run.status, run.best_metric, run.elapsed,
                                                     run.hparams_dict(), _origin(run)) for run in runs])
        self._rows.update((run.id, index) for run, index in zip(runs, indices))
        for run in runs[-len(self.curves.slots):]:
            self._choose_metric(run.history_rows()[:1])
            self.curves.add_run(run.id, run.name)
            self.curves.stream(run.id, epochs=history_columns(run.history_rows(), self.plotted_metric))
        notes = [f"{len(runs)} run(s) from {self.store.path}: click one to load its hyperparameters"] if runs else []
        if notes or self.store.skipped:
            self.show_info("; ".join(notes + self.store.skipped))

    def _check_built_in(self, action: str) -> None:
        if self.training.built_in_only is not None:
            raise RuntimeError(f"{action}: {self.training.built_in_only}")

    def _check_idle(self) -> None:
        if self.active:
            raise RuntimeError(f"{self.run.name} is still running: stop() it or wait() for it first")
        if self.busy:
            raise RuntimeError("the learning-rate range test is still running: wait() for it first")

    def _launch(self, run: Run) -> Run:
        """Show ``run`` (its curve starts at its parent's last epoch), follow it, train it in the background."""
        with self.view_lock:  # the pump sees the run with its curve and its history row
            self.curves.add_run(run.id, run.name)
            if run.parent is not None and run.parent.epochs_done:  # the curve starts where the parent's ended
                self.curves.stream(run.id, epochs=history_columns(run.parent.history_rows()[-1:], self.plotted_metric))
            self._pump.watch(run)
            try:
                run.start(background=True)
            except Exception:
                self._pump.unwatch(run)
                self.curves.drop(run.id)
                raise
            self._paused = False
            self.runs.append(run)
            self._live.append(run)
            self._rows[run.id] = self.history.add_row(run.name, run.status, run.best_metric, 0.0, run.hparams_dict(),
                                                      origin=_origin(run))
            self.message.value = ""
            self.controls.lock(self.training.live, self.training.lock_note(run))
            self._show_run(run)
            self._sync_buttons()
        return run

    def stop(self) -> None:
        """Stop the current run after its current batch."""
        self._steer("stop", paused=False)

    def pause(self) -> None:
        self._steer("pause", paused=True)

    def resume(self) -> None:
        self._steer("resume", paused=False)

    def _steer(self, action: str, paused: bool) -> None:
        if self.active:
            getattr(self.run, action)()
            self._paused = paused
            self._sync_buttons()

    def reset(self) -> None:
        """Controls back to the panel's initial hyperparameters."""
        self.set_hparams(self._initial)

    def clear(self) -> None:
        """Remove the curves of finished runs (the current one stays)."""
        self.curves.clear(keep=(self.run.id,) if self.active else ())

    def find_lr(self, **kwargs: Any) -> LRFinderResult:
        """Run ``tw.lr_find`` with the controls' values, plot it and move the lr slider to the suggestion."""
        self._check_built_in("Find LR")
        if self.active:
            raise RuntimeError(f"{self.run.name} is running: stop it before the learning-rate range test")
        hp = self.hparams
        result = lr_find(self.data, hp, **kwargs)
        with self.curves.lock:
            self.lr_chart.update(result)
        if math.isfinite(result.suggestion):
            self.set_hparams(hp.replace(lr=float(result.suggestion)))
        self.show_info(format_lr_suggestion(result.suggestion, result.lr_min, result.stopped_early))
        return result

    def wait(self, timeout: float | None = None) -> str | None:
        """Block until the current run (and a range test) ended and the plots got every point."""
        self._wait_background(timeout)
        status = self.run.wait(timeout) if self.run is not None else None
        self._join_pump(timeout)
        return status

    # ---- buttons (a click on button ``key`` calls ``_on_<key>``) ---------------------------------
    _on_start, _on_stop, _on_continue, _on_reset, _on_clear = start, stop, continue_run, reset, clear

    def _on_pause(self) -> None:
        self.resume() if self._paused else self.pause()

    def _on_find_lr(self) -> None:
        """In a thread, so the page stays live; buttons are disabled meanwhile."""
        self.show_info("Find LR: running the learning-rate range test...")
        self._in_background(self.find_lr)

    def _selected_run(self) -> Run | None:
        index = self.history.selected
        return self.runs[index] if 0 <= index < len(self.runs) else None

    def _move_live_knobs(self, change: Any) -> None:
        """A person moved a control while a run trains: its live knobs follow (validated; an error is shown)."""
        hp, run = change["new"], self.run
        if hp is None or not self.active or self._loading:
            return
        moved = {k: value_of(hp, k) for k in self.training.live if value_of(hp, k) != value_of(run.hparams, k)}
        if moved:
            self._safely(lambda: (run.update(**moved),
                                  self.show_info(f"{run.name}: {format_changes(moved)} from the next batch")))

    def _on_select(self, change: Any) -> None:
        index = change["new"]
        if 0 <= index < len(self.runs):
            self.set_hparams(self.runs[index].hparams)
            self.show_info(f"loaded the hyperparameters of {self.runs[index].name}")

    def _sync_buttons(self) -> None:
        busy = self.busy
        active, valid = self.active, self.controls.valid
        b = self.buttons
        b["start"].disabled = active or busy or not valid
        built_in = self.training.built_in_only is None
        b["find_lr"].disabled = active or busy or not valid or not built_in
        b["pause"].disabled = not active
        b["stop"].disabled = not active
        b["continue"].disabled = active or busy or not valid or not self.runs or not built_in
        self._show_pause(self._paused and active)

    # ---- fed by the pump (its thread) ------------------------------------------------------------
    def _choose_metric(self, rows: list[dict[str, Any]]) -> None:
        """A training function's second plot shows the first metric it reports that is not a loss
        (unless the panel was given one): named on the plot once the first row arrives."""
        if rows and self.training.plotted_metric is None and self.training.metric_of(rows[0]) is not None:
            self.curves.set_metric_label(self.training.plotted_metric.replace("_", " "))

    def _deliver(self, run: Run, events: list) -> None:
        self._choose_metric([e.values for e in events if e.kind == "epoch"][:1])
        epochs, batches, _ = split_events(events, self.plotted_metric)
        rates = [e.values["samples_per_sec"] for e in events if "samples_per_sec" in e.values]
        if rates:  # the newest throughput, from a batch or an epoch, whichever came last
            self._rates[run.id] = rates[-1]
        self.stream_calls += self.curves.stream(run.id, epochs=epochs, batches=batches)
        for e in events:
            if e.kind == "knob":
                self.stream_calls += self.curves.mark(run.id, e.values["at"], format_changes(e.values["changes"]))

    def _tick(self) -> None:
        for run in list(self._live):
            row = self._rows.get(run.id)
            if row is not None:
                self.history.update_row(row, run.name, run.status, run.best_metric, run.elapsed,
                                        run.hparams_dict(), origin=_origin(run))
            if run.done:
                self._live.remove(run)
                if run is self.run:
                    self.controls.unlock()
        if self.run is not None:
            self._show_run(self.run)
        self._sync_buttons()

    def _show_run(self, run: Run) -> None:
        p = run.progress
        rate = self._rates.get(run.id, p["samples_per_sec"])
        text = format_status(run.device_label, run.status, p["epoch"], p["epochs"], rate, p["eta_seconds"])
        best = run.best_metric
        if best == best:
            text += f" · best {run.metric} {best:.4f}"
        self._show_progress(text, p["epoch"], p["epochs"], run.status)
        if run.status == Status.FAILED and run.error is not None:
            self.show_error(f"{run.name} failed: {run.error!r}")


def value_of(values: Any, name: str) -> Any:
    """``name``'s value in ``HParams`` or in a training function's values (a dict, a ``Params``)."""
    return values[name] if isinstance(values, Mapping) else getattr(values, name)


def _origin(run: Run) -> str:
    """Where a forked run comes from, for its row: ``from run 1 @ 20``."""
    return f"from {run.parent.name} @ {run.first_epoch}" if run.parent is not None else ""
