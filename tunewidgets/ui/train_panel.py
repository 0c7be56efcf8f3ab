"""TrainPanel: hyperparameter controls, run buttons, live curves and a run history in one widget.

A view over ``tw.Run``: the panel holds no training logic. Start builds a ``Run`` from the
validated controls and trains it in a background thread (the cell returns, the kernel stays
responsive); a ``Pump`` carries its events to the Bokeh curves, the status line and the history.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import ipywidgets as widgets
from bokeh.layouts import column

from ..engine.data import Data
from ..engine.lr_finder import LRFinderResult, lr_find
from ..engine.run import Run
from ..hparams import HParams, as_hparams
from ..plotting import LiveCurves, LRFinderChart
from .bokeh_view import BokehView, load_bokehjs
from .controls import HParamsControls
from .format import format_lr_suggestion, format_status
from .history import RunHistoryTable
from .pump import Pump, split_events

# The validation metric plotted per task (regression's primary metric, val_loss, is on the loss plot).
PLOTTED_METRIC = {"classification": ("val_accuracy", "validation accuracy"),
                  "regression": ("val_r2", "validation R2")}
BAR_STYLES = {"running": "info", "paused": "warning", "stopped": "warning", "pruned": "warning",
              "completed": "success", "early_stopped": "success", "diverged": "danger", "failed": "danger"}
BUTTONS = (("start", "Start", "play", "success"), ("pause", "Pause", "pause", ""), ("stop", "Stop", "stop", "danger"),
           ("reset", "Reset", "undo", ""), ("find_lr", "Find LR", "search", ""), ("clear", "Clear plots", "eraser", ""))


class TrainPanel(widgets.VBox):
    """Train a model interactively: ``tw.TrainPanel(data)`` in a cell, set values, press Start.

    Example::

        panel = tw.TrainPanel(tw.load_dataset("digits"), tw.HParams(lr=3e-3))
        panel                     # shows the panel
        run = panel.start()       # the same as clicking Start; returns the tw.Run
        panel.wait(); panel.runs[-1].history.tail()

    Reset puts the controls back to the hyperparameters the panel was created with; Clear plots
    removes the curves of earlier runs. ``rollover`` bounds the points kept per curve.
    """

    def __init__(self, data: Data, hparams: HParams | dict | None = None, *, rollover: int = 2000,
                 max_runs: int = 10, rate: float = 10.0, **kwargs: Any) -> None:
        if not isinstance(data, Data):
            raise ValueError(f"data={type(data).__name__} is not allowed: must be a tw.Data "
                             f"(tw.load_dataset, tw.Data.from_arrays or tw.Data.from_datasets)")
        self.data = data
        self._initial = as_hparams(hparams)
        self.runs: list[Run] = []
        self.plotted_metric, metric_label = PLOTTED_METRIC[data.task]
        self.controls = HParamsControls(self._initial, data)
        self.curves = LiveCurves(metric_label, rollover=rollover, max_runs=max_runs)
        self.lr_chart = LRFinderChart(visible=False)
        self.plots = BokehView(column(self.curves.layout, self.lr_chart.figure), lock=self.curves.lock)
        self.buttons = {key: self._button(key, text, icon, style) for key, text, icon, style in BUTTONS}
        self.status = widgets.HTML("ready")
        self.status.add_class("tw-status")
        self.progress = widgets.IntProgress(value=0, min=0, max=1, layout=widgets.Layout(width="240px"))
        self.message = widgets.HTML("")
        self.message.add_class("tw-message")
        self.history = RunHistoryTable(metric=_primary_metric(data))
        self.stream_calls = 0
        self._rows: dict[str, int] = {}
        self._rates: dict[str, float] = {}
        self._live: list[Run] = []
        self._paused = False
        self._lr_thread: threading.Thread | None = None
        self._pump = Pump(self._deliver, self._tick, rate=rate)
        title = widgets.HTML(f"<b>TrainPanel</b> &middot; {_escape(repr(data))}")
        super().__init__(children=[
            title, self.controls, widgets.HBox(list(self.buttons.values())),
            widgets.HBox([self.progress, self.status]), self.message, self.plots,
            widgets.HTML("<b>Runs</b> (click a run to load its hyperparameters)"), self.history,
        ], **kwargs)
        self.add_class("tw-train-panel")
        self.controls.observe(lambda _c: self._sync_buttons(), names="valid")
        self.history.observe(self._on_select, names="selected")
        self._sync_buttons()

    def _button(self, key: str, text: str, icon: str, style: str) -> widgets.Button:
        button = widgets.Button(description=text, icon=icon, button_style=style,
                                layout=widgets.Layout(width="auto"))
        button.add_class(f"tw-{key.replace('_', '-')}")
        button.on_click(lambda _b: self._safely(getattr(self, f"_on_{key}")))
        return button

    # ---- the code API --------------------------------------------------------------------------
    @property
    def hparams(self) -> HParams:
        """The controls' validated hyperparameters; ``ValueError`` naming the bad field otherwise."""
        hp = self.controls.hparams
        if hp is None:
            raise ValueError(self.controls.error)
        return hp

    def set_hparams(self, hparams: HParams | dict) -> None:
        """Load hyperparameters into the controls."""
        self.controls.set_hparams(hparams)

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
        if self.active:
            raise RuntimeError(f"{self.run.name} is still running: stop() it or wait() for it first")
        if self._lr_thread is not None and self._lr_thread.is_alive():
            raise RuntimeError("the learning-rate range test is still running: wait() for it first")
        run = Run(self.data, hp)
        self.curves.add_run(run.id, run.name)
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
        self._rows[run.id] = self.history.add_row(run.name, run.status, run.best_metric, 0.0, hp.to_dict())
        self.progress.max = hp.epochs
        self.message.value = ""
        self._show_status(run)
        self._sync_buttons()
        return run

    def stop(self) -> None:
        """Stop the current run after its current batch."""
        if self.active:
            self.run.stop()
            self._paused = False
            self._sync_buttons()

    def pause(self) -> None:
        if self.active:
            self.run.pause()
            self._paused = True
            self._sync_buttons()

    def resume(self) -> None:
        if self.active:
            self.run.resume()
            self._paused = False
            self._sync_buttons()

    def reset(self) -> None:
        """Controls back to the panel's initial hyperparameters."""
        self.controls.set_hparams(self._initial)

    def clear(self) -> None:
        """Remove the curves of finished runs (the current one stays)."""
        self.curves.clear(keep=(self.run.id,) if self.active else ())

    def find_lr(self, **kwargs: Any) -> LRFinderResult:
        """Run ``tw.lr_find`` with the controls' values, plot it and move the lr slider to the suggestion."""
        if self.active:
            raise RuntimeError(f"{self.run.name} is running: stop it before the learning-rate range test")
        hp = self.hparams
        result = lr_find(self.data, hp, **kwargs)
        with self.curves.lock:
            self.lr_chart.update(result)
        if math.isfinite(result.suggestion):
            self.controls.set_hparams(hp.replace(lr=float(result.suggestion)))
        self.message.value = _escape(format_lr_suggestion(result.suggestion, result.lr_min, result.stopped_early))
        return result

    def wait(self, timeout: float | None = None) -> str | None:
        """Block until the current run (and a range test) ended and the plots got every point."""
        if self._lr_thread is not None:
            self._lr_thread.join(timeout)
        status = self.run.wait(timeout) if self.run is not None else None
        self._pump.join(timeout if timeout is not None else 10.0)
        return status

    # ---- buttons -------------------------------------------------------------------------------
    def _on_start(self) -> None:
        self.start()

    def _on_pause(self) -> None:
        self.resume() if self._paused else self.pause()

    def _on_stop(self) -> None:
        self.stop()

    def _on_reset(self) -> None:
        self.reset()

    def _on_clear(self) -> None:
        self.clear()

    def _on_find_lr(self) -> None:
        """In a thread, so the page stays live; buttons are disabled meanwhile."""
        self.message.value = "Find LR: running the learning-rate range test..."
        self._lr_thread = threading.Thread(target=self._safely, args=(self.find_lr,), daemon=True,
                                           name="tunewidgets lr finder")
        self._sync_buttons(busy=True)
        self._lr_thread.start()

    def _safely(self, action) -> None:
        """Run a button's action; show an error in the panel instead of raising into the notebook."""
        try:
            action()
        except Exception as e:  # noqa: BLE001 - any error becomes a message
            self.message.value = f"<span style='color:#c62828'>&#9888; {_escape(str(e))}</span>"
        finally:
            if threading.current_thread() is self._lr_thread:
                self._sync_buttons(busy=False)

    def _on_select(self, change: Any) -> None:
        index = change["new"]
        if 0 <= index < len(self.runs):
            self.controls.set_hparams(self.runs[index].hparams)
            self.message.value = f"loaded the hyperparameters of {_escape(self.runs[index].name)}"

    def _sync_buttons(self, busy: bool | None = None) -> None:
        busy = busy if busy is not None else (self._lr_thread is not None and self._lr_thread.is_alive())
        active, valid = self.active, self.controls.valid
        b = self.buttons
        b["start"].disabled = active or busy or not valid
        b["find_lr"].disabled = active or busy or not valid
        b["pause"].disabled = not active
        b["stop"].disabled = not active
        b["pause"].description = "Resume" if self._paused and active else "Pause"
        b["pause"].icon = "play" if self._paused and active else "pause"

    # ---- fed by the pump (its thread) ------------------------------------------------------------
    def _deliver(self, run: Run, events: list) -> None:
        steps = math.ceil(self.data.n_train / run.hparams.batch_size)
        epochs, batches, _ = split_events(events, steps, self.plotted_metric)
        rates = [e.values["samples_per_sec"] for e in events if "samples_per_sec" in e.values]
        if rates:  # the newest throughput, from a batch or an epoch, whichever came last
            self._rates[run.id] = rates[-1]
        self.stream_calls += self.curves.stream(run.id, epochs=epochs, batches=batches)

    def _tick(self) -> None:
        for run in list(self._live):
            row = self._rows.get(run.id)
            if row is not None:
                self.history.update_row(row, run.name, run.status, run.best_metric, run.elapsed,
                                        run.hparams.to_dict())
            if run.done:
                self._live.remove(run)
        if self.run is not None:
            self._show_status(self.run)
        self._sync_buttons()

    def _show_status(self, run: Run) -> None:
        p = run.progress
        rate = self._rates.get(run.id, p["samples_per_sec"])
        text = format_status(run.device_label, run.status, p["epoch"], p["epochs"], rate,
                             p["eta_seconds"])
        best = run.best_metric
        if best == best:
            text += f" · best {run.metric} {best:.4f}"
        self.status.value = _escape(text)
        self.progress.max = p["epochs"]
        self.progress.value = min(p["epoch"], p["epochs"])
        self.progress.bar_style = BAR_STYLES.get(run.status, "")
        if run.status == "failed" and run.error is not None:
            self.message.value = f"<span style='color:#c62828'>&#9888; {run.name} failed: {_escape(repr(run.error))}</span>"

    # ---- display ---------------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any):
        load_bokehjs()
        self.plots.refresh()  # a view opened now starts from the current data
        return super()._repr_mimebundle_(**kwargs)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        bundle = self._repr_mimebundle_()
        display(bundle, raw=True)


def _primary_metric(data: Data) -> str:
    from ..engine.metrics import PRIMARY_METRIC

    return PRIMARY_METRIC[data.task][0]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
