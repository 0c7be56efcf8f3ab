"""SweepPanel: edit a search space, launch a sweep, watch every trial live, apply the best.

A view over ``tw.sweep``: the panel holds no search logic. Launch builds the sweep, subscribes to
its events and only then starts it in the background (so no event is missed, and the cell returns);
the panel's ``DisplayPump`` drains the events at a bounded rate into one streamed Bokeh source, the
progress line and the ranked table. The best trial (or any row clicked) loads into a linked
``TrainPanel``.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from html import escape
from typing import Any

import ipywidgets as widgets

from ...engine.builtin.data import Data
from ...engine.fit.trainer import is_training_function
from ...engine.builtin.lr_finder import lr_find
from ...hparams import HParams, as_hparams
from ...plotting.pareto import ParetoChart
from ...plotting.sweep_curves import SweepCurves
from ...space import LogUniform, Space
from ...sweeps import Sweep, sweep as new_sweep
from ...sweeps.results import param_columns
from ..base.bokeh_view import BokehView
from ..base.panel import Panel
from ..base.points import epoch_points, finite_or_nan
from .space_editor import SpaceEditor
from .charts_box import SweepChartsBox
from .format import format_best, format_sweep_progress, param_texts
from .settings import SweepSettings
from .table import SweepTable
from .target import SweptFunction
from ...statuses import Status


class SweepFeed:
    """What the pump watches for a sweep: its events, and an end that never raises (errors are shown)."""

    def __init__(self, sweep: Sweep) -> None:
        self.sweep, self.events = sweep, sweep.events

    @property
    def done(self) -> bool:
        return self.sweep.done

    def wait(self, timeout: float | None = None) -> None:
        with contextlib.suppress(Exception):  # the panel shows the error; Ctrl-C still interrupts
            self.sweep.wait(timeout)


class SweepPanel(Panel):
    """Search hyperparameters interactively: ``tw.SweepPanel(data, train_panel=tp)``, press Launch.

    Example::

        tp = tw.TrainPanel(data)
        sp = tw.SweepPanel(data, tw.Space(lr=tw.LogUniform(1e-3, 1e-1)), base=tw.HParams(epochs=5), train_panel=tp)
        sw = sp.launch()          # the same as clicking Launch; returns the tw.Sweep (running)
        sp.wait(); sp.apply_best()  # the best trial's hyperparameters are now in tp's controls

    Fields not in the space come from ``base`` (epochs per trial from the panel's own box).
    ``rollover`` bounds the points kept in the live plot.

    Your own training function is swept the same way: ``tw.SweepPanel(fit, space, base={...},
    metric="val_accuracy", train_panel=tw.TrainPanel(fit, space, base={...}))``; the editor has a
    row per dimension of ``space``, and epochs per trial appear when ``base`` has ``epochs``.
    """

    BUTTONS = (("launch", "Launch", "rocket", "success"), ("pause", "Pause", "pause", "", "tw-sweep-pause"),
               ("stop", "Stop", "stop", "danger", "tw-sweep-stop"),
               ("apply_best", "Apply best", "check", "info"), ("lr_range", "Range from LR finder", "search", ""))
    CSS_CLASS = "tw-sweep-panel"
    STATUS_CLASS = "tw-sweep-status"
    MESSAGE_CLASS = "tw-sweep-message"
    PROGRESS_WIDTH = "200px"

    def __init__(self, data: Data | Any, space: Space | dict | None = None, base: HParams | dict | None = None,
                 train_panel: Any = None, *, strategy: str = "random", n_trials: int = 20, pruner: str | None = None,
                 executor: str = "thread", seed: int | None = None, show_charts: bool = True, rollover: int = 5000,
                 rate: float = 10.0, objectives: tuple[str, ...] = (), metric: str | None = None,
                 direction: str | None = None, **kwargs: Any) -> None:
        super().__init__(data, rate=rate, **kwargs)
        space = Space(**space) if isinstance(space, dict) else space
        self.swept = SweptFunction(data, space, base, metric, direction, executor) if is_training_function(data) \
            else None
        self.fit = self.swept.fit if self.swept is not None else None
        if self.swept is not None:
            self.base: HParams | dict[str, Any] = self.swept.base
            self.metric, epochs = self.swept.metric, self.swept.epochs
        elif metric is not None or direction is not None:
            raise ValueError("metric= and direction= are for a training function of yours: a panel on a tw.Data "
                             "optimizes its task's metric (choose others under optimize)")
        else:
            self.base = as_hparams(base)
            epochs = self.base.epochs
        self.seed = seed
        self.show_charts = show_charts
        self.train_panel = None
        self.sweep: Sweep | None = None
        self.sweeps: list[Sweep] = []
        self.editor = SpaceEditor(space, fields=self.fit is None)
        self.settings_form = SweepSettings(strategy, n_trials, pruner, executor, epochs, self.metric, objectives)
        self.settings = self.settings_form.fields
        if self.swept is not None:
            self.swept.adapt(self.settings, self.buttons["lr_range"])
        self.best_label = widgets.HTML("").add_class("tw-sweep-best")
        self.curves = SweepCurves(self.metric, rollover=rollover)
        self.plots = BokehView(self.curves.figure, lock=self.curves.lock)
        self.table = self._new_table([])
        self.table_box = widgets.VBox([self.table])
        self.charts = SweepChartsBox()
        self.pareto = ParetoChart(visible=False)
        self.pareto_view = BokehView(self.pareto.figure, lock=self.pareto.lock)
        self.stream_calls = self.patch_calls = 0
        self._plotted: dict[int, int] = {}  # the last epoch plotted of each trial
        self._finalized = True
        self._set_body(
            widgets.HTML("<b>Search space</b> (tick what to search; the rest comes from the base values)"),
            self.editor, self.settings_form, widgets.HBox(list(self.buttons.values())),
            widgets.HBox([self.progress, self.status]), self.best_label, self.message, self.plots, self.pareto_view,
            widgets.HTML("<b>Trials</b>, ranked (click a trial to load it into the linked TrainPanel)"),
            self.table_box, self.charts)
        for form in (self.editor, self.settings_form):
            form.observe(lambda _c: self._sync_buttons(), names="valid")
        if train_panel is not None:
            self.link(train_panel)
        self._sync_buttons()

    def _new_table(self, params: list[str]) -> SweepTable:
        table = SweepTable(self.metric, params)
        table.observe(self._on_select, names="selected")
        return table

    # ---- the code API --------------------------------------------------------------------------
    @property
    def space(self) -> Space:
        """The edited space; ``ValueError`` naming the bad field otherwise."""
        return self.editor.checked()

    @property
    def valid(self) -> bool:
        """Whether the space and the settings are both valid (Launch is enabled then)."""
        return self.editor.valid and self.settings_form.valid

    @property
    def settings_message(self) -> widgets.HTML:
        return self.settings_form.message

    @property
    def active(self) -> bool:
        return self.sweep is not None and not self.sweep.done

    def link(self, train_panel: Any) -> None:
        """Send applied hyperparameters (Apply best, a clicked trial) into ``train_panel``."""
        if not callable(getattr(train_panel, "set_hparams", None)):
            raise ValueError(f"train_panel={type(train_panel).__name__} is not allowed: must be a tw.TrainPanel")
        self.train_panel = train_panel
        self._sync_buttons()

    def launch(self) -> Sweep:
        """Start a sweep with the panel's space and settings in the background; return the ``tw.Sweep``."""
        if self.active:
            raise RuntimeError(f"sweep {self.sweep.name!r} is still running: stop() it or wait() for it first")
        space = self.space
        s = self.settings_form.checked()
        how = {"n_trials": s["n_trials"], "pruner": s["pruner"], "executor": s["executor"]}
        if s["strategy"] == "pbt":  # the trials are the population, trained in the kernel, no pruner
            how = {"population": s["n_trials"], "interval": s["interval"], "executor": s["executor"]}
        sw = new_sweep(self.fit or self.data, space, strategy=s["strategy"], seed=self.seed, quiet=True, start=False,
                       **how, **self._what_it_sweeps(s))
        feed = SweepFeed(sw)
        with self.view_lock:  # the pump shows the new sweep's events only once the view is set up for it
            self._pump.watch(feed)
            try:
                sw.start(background=True)
            except BaseException:
                self._pump.unwatch(feed)
                raise
            self._show_new(sw)
        return sw

    def _what_it_sweeps(self, s: dict[str, Any]) -> dict[str, Any]:
        """``tw.sweep``'s base and objectives from the settings ``s``."""
        if self.swept is not None:
            return self.swept.arguments(s)
        return {"base": self.base.replace(epochs=s["epochs"]), "objectives": list(s["objectives"]) or None}

    def _show_new(self, sw: Sweep) -> None:
        """Point the view at a sweep that just started: empty plot, table and charts."""
        self.sweep = sw
        self.sweeps.append(sw)
        self._finalized = False
        self.curves.clear()
        self.charts.clear()
        self.pareto.update([], [], [], [], [])  # the last sweep's points go
        with self.pareto.lock:
            self.pareto.figure.visible = len(sw.objectives) > 1
        if len(sw.objectives) > 1:
            self.pareto.set_axes(sw.objectives[0].metric, sw.objectives[1].metric)
        self.table = self._new_table(list(sw.space.names))
        self.table_box.children = [self.table]
        self._plotted.clear()
        self.message.value = ""
        self.best_label.value = ""
        self._show_sweep_progress()
        self._sync_buttons()

    def pause(self) -> None:
        """Hold the running sweep: its trials pause where they are and no new one starts."""
        if self.active and self.sweep.status == Status.RUNNING:
            self.sweep.pause()
            self.show_info("paused: running trials hold where they are (workers: at their epoch's end)")
            self._sync_buttons()

    def resume(self) -> None:
        """Carry on a paused sweep."""
        if self.sweep is not None and self.sweep.status == Status.PAUSED:
            self.sweep.resume()
            self.show_info("")
            self._sync_buttons()

    def stop(self) -> None:
        """End the running sweep: no new trials, running ones stop within an epoch; finished ones stay."""
        if self.active:
            self.sweep.stop()
            self.show_info("stopping: running trials end after their current epoch")

    def wait(self, timeout: float | None = None) -> str | None:
        """Block until the sweep ended and the panel showed everything; return its status."""
        self._wait_background(timeout)
        if self.sweep is None:
            return None
        SweepFeed(self.sweep).wait(timeout)
        self._join_pump(timeout)
        return self.sweep.status

    def apply(self, trial: int) -> HParams:
        """Load trial ``trial``'s hyperparameters into the linked TrainPanel; return them."""
        if self.sweep is None:
            raise ValueError("no sweep yet: launch one first")
        record = next(iter(self.sweep.records([trial])), None)
        if record is None:
            raise ValueError(f"trial {trial} does not exist in sweep {self.sweep.name!r}")
        return self._load_into_train_panel(self.sweep.spec.full_params(record.params), f"trial {trial}")

    def apply_best(self) -> HParams:
        """Load the best trial's hyperparameters into the linked TrainPanel; return them."""
        best = self.sweep.best if self.sweep is not None else None
        if best is None:
            raise ValueError("no trial has completed yet: nothing to apply")
        return self._load_into_train_panel(best, "the best trial")

    def _load_into_train_panel(self, hp: HParams, what: str) -> HParams:
        if self.train_panel is None:
            raise ValueError("no TrainPanel is linked: pass train_panel= or call panel.link(train_panel)")
        self.train_panel.set_hparams(hp)
        self.show_info(f"applied the hyperparameters of {what} to the TrainPanel")
        return hp

    def lr_range(self, **kwargs: Any) -> LogUniform:
        """Run the learning-rate range test on the base hyperparameters and put the useful range it
        finds (``LRFinderResult.space()``) into the lr row of the space; return it."""
        if self.fit is not None:
            raise RuntimeError("the LR finder needs the built-in trainer (it builds the model to sweep its rate): "
                               "give lr a LogUniform range in the space instead")
        result = lr_find(self.data, self.base, **kwargs)
        dim = result.space()
        self.editor.rows["lr"].set_dimension(dim, included=True)
        self.show_info(f"lr range from the LR finder: {dim.low:.2e} to {dim.high:.2e} (suggestion "
                       f"{result.suggestion:.2e}, blow-up {result.blow_up:.2e})")
        return dim

    # ---- buttons (a click on button ``key`` calls ``_on_<key>``) ---------------------------------
    _on_launch, _on_stop, _on_apply_best = launch, stop, apply_best

    def _on_pause(self) -> None:
        self.resume() if self.sweep is not None and self.sweep.status == Status.PAUSED else self.pause()

    def _on_lr_range(self) -> None:
        """In a training thread, so the page stays live; Launch and the button wait meanwhile."""
        self.show_info("running the learning-rate range test...")
        self._in_background(self.lr_range)

    def _on_select(self, change: Any) -> None:
        index = change["new"]
        if 0 <= index < len(self.table.trials):
            self._safely(lambda: self.apply(self.table.trials[index]))

    def _sync_buttons(self) -> None:
        active = self.active
        b = self.buttons
        b["launch"].disabled = active or self.busy or not self.valid
        b["lr_range"].disabled = active or self.busy or self.fit is not None
        b["stop"].disabled = not active
        paused = active and self.sweep.status == Status.PAUSED
        b["pause"].disabled = not active
        self._show_pause(paused)
        b["apply_best"].disabled = self.train_panel is None or self.sweep is None or self.sweep.best_value is None

    # ---- fed by the pump (its thread) ------------------------------------------------------------
    def _deliver(self, feed: SweepFeed, events: list) -> None:
        if feed.sweep is not self.sweep:
            return
        points: dict[int, list] = defaultdict(list)
        finished = []
        for e in events:
            trial = e.values.get("trial")
            if e.kind == "epoch":
                if e.epoch <= self._plotted.get(trial, 0):  # plotted from the trial's record already
                    continue
                points[trial].append((e.epoch, finite_or_nan(e.values.get(self.metric)), e.values.get("exploits")))
                self._plotted[trial] = e.epoch
            elif e.kind == "status":
                self.table.stale = True
                if e.values.get("status") != Status.RUNNING:
                    finished.append((trial, e.values.get("status")))
        numbers = {trial for trial, _ in finished}
        self._plot_recorded(feed.sweep.records(sorted(numbers)) if numbers else [], points)
        for trial, status in finished:
            self.patch_calls += self.curves.finish(trial, status)
        if finished:
            self._show_best()

    def _show_table(self, sw: Sweep) -> None:
        """The ranked table, and with several objectives the trade-off chart, from one ``sw.table()``."""
        table = self.table.show(sw)
        if len(sw.objectives) > 1:
            self._show_pareto(sw, table)

    def _show_pareto(self, sw: Sweep, table: Any) -> None:
        """Every complete trial a point of the first two objectives; the front in red, joined."""
        done = table[table["status"] == Status.COMPLETE]
        x, y = (o.metric for o in sw.objectives[:2])
        names = list(sw.space.names)
        columns = param_columns(names, sw.metric)
        labels = [" · ".join(f"{n} {text}" for n, text in zip(names, param_texts(row, names, columns)))
                  for row in done.to_dict("records")]
        self.pareto.update(done["trial"].tolist(), done[x].tolist(), done[y].tolist(), labels,
                           done["pareto"].tolist())

    def _plot_recorded(self, records: list, points: dict[int, list]) -> None:
        """Add recorded epochs the plot has not shown yet to ``points``, then stream them all at once.

        A worker's last epochs can reach the sweep with its result rather than as events (process and
        Dask executors): a finished trial's record is the complete curve.
        """
        for r in records:
            extra = epoch_points(r.rows, self.metric, after=self._plotted.get(r.number, 0))
            if extra:
                points.setdefault(r.number, []).extend(extra)
                self._plotted[r.number] = extra[-1][0]
        self.stream_calls += self.curves.stream(points)

    def _show_best(self) -> None:
        sw = self.sweep
        best = sw.best_trial
        if best is None:
            return
        if best.number != self.curves.best_trial:
            curve = epoch_points(best.rows, self.metric)
            self.curves.show_best(best.number, [e for e, _ in curve], [v for _, v in curve])
        self.best_label.value = escape(format_best(sw.metric, best.value, best.number))

    def _tick(self) -> None:
        sw = self.sweep
        if sw is None:
            return
        if self.table.due(running=sw.status == Status.RUNNING):
            self._show_table(sw)
        self._show_sweep_progress()
        self._sync_buttons()
        if sw.done and not self._finalized:
            self._finish_sweep()

    def _show_sweep_progress(self) -> None:
        sw = self.sweep
        p = sw.progress
        self._show_progress(format_sweep_progress(p, sw.status), p["done"], p["n_trials"], sw.status)

    def _finish_sweep(self) -> None:
        """Once per sweep, after its last event: final table, best trial and charts."""
        self._finalized = True
        sw = self.sweep
        self._show_table(sw)
        self._show_best()
        if sw.error is not None:
            self.show_error(f"the sweep failed: {sw.error!r}")
        if self.show_charts:
            self.charts.show(sw)
