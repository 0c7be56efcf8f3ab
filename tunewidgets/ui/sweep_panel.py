"""SweepPanel: edit a search space, launch a sweep, watch every trial live, apply the best.

A view over ``tw.sweep``: the panel holds no search logic. Launch runs the sweep in the background
(the cell returns, the kernel stays responsive); the same ``Pump`` as the TrainPanel drains the
sweep's events at a bounded rate into one streamed Bokeh source, the progress line and the ranked
table. The best trial (or any row clicked) loads into a linked ``TrainPanel``.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from typing import Any

import ipywidgets as widgets

from ..engine.data import Data
from ..hparams import HParams, as_hparams, check_field
from ..plotting.sweep_curves import SweepCurves
from ..space import Space
from ..sweep import Sweep, sweep as run_sweep
from ..sweep.executors import EXECUTORS
from ..sweep.results import param_columns
from .bokeh_view import BokehView, load_bokehjs
from .history import RunHistoryTable
from .pump import Pump, _finite
from .space_editor import SpaceEditor
from .sweep_format import format_best, format_sweep_progress, sweep_cells, sweep_header

STRATEGIES = (("grid", "grid"), ("random", "random"), ("bayes (TPE)", "bayes"), ("bayes (GP)", "gp"))
PRUNERS = ("none", "median", "halving", "hyperband")  # "none": a Dropdown reads None as no selection
BAR_STYLES = {"running": "info", "completed": "success", "stopped": "warning", "failed": "danger"}
TABLE_REFRESH = 1.0  # seconds between refreshes of running rows (finished trials refresh at once)
SETTING = {"style": {"description_width": "90px"}, "layout": widgets.Layout(width="230px")}


class _Feed:
    """What the pump watches for a sweep: its events, and an end that never raises (errors are shown)."""

    def __init__(self, sweep: Sweep) -> None:
        self.sweep, self.events = sweep, sweep.events

    @property
    def done(self) -> bool:
        return self.sweep.done

    def wait(self, timeout: float | None = None) -> None:
        with contextlib.suppress(BaseException):
            self.sweep.wait(timeout)


@contextlib.contextmanager
def _quiet_optuna():
    """Optuna's INFO lines (one per trial) would flood the cell; warnings still show. The quiet level
    stays after the block (the sweep runs on) and the panel restores the yielded one when it ends;
    a failed launch restores it at once."""
    import optuna

    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(max(before, optuna.logging.WARNING))
    try:
        yield before
    except BaseException:
        optuna.logging.set_verbosity(before)
        raise


class SweepPanel(widgets.VBox):
    """Search hyperparameters interactively: ``tw.SweepPanel(data, train_panel=tp)``, press Launch.

    Example::

        tp = tw.TrainPanel(data)
        sp = tw.SweepPanel(data, tw.Space(lr=tw.LogUniform(1e-3, 1e-1)), base=tw.HParams(epochs=5), train_panel=tp)
        sw = sp.launch()          # the same as clicking Launch; returns the tw.Sweep (running)
        sp.wait(); sp.apply_best()  # the best trial's hyperparameters are now in tp's controls

    Fields not in the space come from ``base`` (epochs per trial from the panel's own box).
    ``rollover`` bounds the points kept in the live plot.
    """

    def __init__(self, data: Data, space: Space | dict | None = None, base: HParams | dict | None = None,
                 train_panel: Any = None, *, strategy: str = "random", n_trials: int = 20, pruner: str | None = None,
                 executor: str = "thread", seed: int | None = None, show_charts: bool = True, rollover: int = 5000,
                 rate: float = 10.0, **kwargs: Any) -> None:
        if not isinstance(data, Data):
            raise ValueError(f"data={type(data).__name__} is not allowed: must be a tw.Data "
                             f"(tw.load_dataset, tw.Data.from_arrays or tw.Data.from_datasets)")
        self.data = data
        self.base = as_hparams(base)
        self.seed = seed
        self.show_charts = show_charts
        self.train_panel = None
        self.sweep: Sweep | None = None
        self.sweeps: list[Sweep] = []
        self.metric = _primary_metric(data)
        self.editor = SpaceEditor(Space(**space) if isinstance(space, dict) else space)
        self.settings = {
            "strategy": widgets.Dropdown(options=STRATEGIES, value=strategy, description="strategy", **SETTING),
            "n_trials": widgets.IntText(value=n_trials, description="trials", **SETTING),
            "pruner": widgets.Dropdown(options=PRUNERS, value=pruner or "none", description="pruner", **SETTING),
            "executor": widgets.Dropdown(options=EXECUTORS, value=executor, description="executor", **SETTING),
            "epochs": widgets.IntText(value=self.base.epochs, description="epochs/trial", **SETTING),
        }
        for key, w in self.settings.items():
            w.add_class(f"tw-sweep-{key.replace('_', '-')}")
        self.buttons = {
            "launch": self._button("launch", "Launch", "rocket", "success"),
            "stop": self._button("stop", "Stop", "stop", "danger"),
            "apply_best": self._button("apply_best", "Apply best", "check", "info"),
        }
        self.progress = widgets.IntProgress(value=0, min=0, max=1, layout=widgets.Layout(width="200px"))
        self.status = widgets.HTML("ready")
        self.status.add_class("tw-sweep-status")
        self.best_label = widgets.HTML("")
        self.best_label.add_class("tw-sweep-best")
        self.message = widgets.HTML("")
        self.message.add_class("tw-sweep-message")
        self.settings_message = widgets.HTML("")
        self.settings_message.add_class("tw-sweep-settings-message")
        self.curves = SweepCurves(self.metric, rollover=rollover)
        self.plots = BokehView(self.curves.figure, lock=self.curves.lock)
        self.table = self._new_table([])
        self.table_box = widgets.VBox([self.table])
        self.charts = widgets.VBox([])
        self.charts.add_class("tw-sweep-charts")
        self.stream_calls = self.patch_calls = 0
        self.valid = True
        self._row_trials: list[int] = []
        self._plotted: dict[int, int] = {}  # the last epoch plotted of each trial
        self._table_dirty = False
        self._table_refreshed = 0.0
        self._finalized = True
        self._optuna_level: int | None = None
        self._pump = Pump(self._deliver, self._tick, rate=rate)
        title = widgets.HTML(f"<b>SweepPanel</b> &middot; {_escape(repr(data))}")
        super().__init__(children=[
            title, widgets.HTML("<b>Search space</b> (tick what to search; the rest comes from the base values)"),
            self.editor, widgets.HBox(list(self.settings.values()), layout=widgets.Layout(flex_flow="row wrap")),
            self.settings_message, widgets.HBox(list(self.buttons.values())),
            widgets.HBox([self.progress, self.status]), self.best_label, self.message, self.plots,
            widgets.HTML("<b>Trials</b>, ranked (click a trial to load it into the linked TrainPanel)"),
            self.table_box, self.charts,
        ], **kwargs)
        self.add_class("tw-sweep-panel")
        self.editor.observe(lambda _c: self._validate(), names="valid")
        for w in self.settings.values():
            w.observe(lambda _c: self._validate(), names="value")
        if train_panel is not None:
            self.link(train_panel)
        self._validate()

    def _button(self, key: str, text: str, icon: str, style: str) -> widgets.Button:
        button = widgets.Button(description=text, icon=icon, button_style=style, layout=widgets.Layout(width="auto"))
        button.add_class(f"tw-{key.replace('_', '-')}" if key != "stop" else "tw-sweep-stop")
        button.on_click(lambda _b: self._safely(getattr(self, f"_on_{key}")))
        return button

    def _new_table(self, params: list[str]) -> RunHistoryTable:
        table = RunHistoryTable(header=sweep_header(self.metric, params),
                                columns=f"80px 45px 80px 95px 55px 55px repeat({len(params)}, auto) auto",
                                tooltip="load this trial's hyperparameters into the linked TrainPanel")
        table.add_class("tw-sweep-table")
        table.observe(self._on_select, names="selected")
        return table

    # ---- the code API --------------------------------------------------------------------------
    @property
    def space(self) -> Space:
        """The edited space; ``ValueError`` naming the bad field otherwise."""
        if self.editor.space is None:
            raise ValueError(self.editor.error)
        return self.editor.space

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
        errors = self._settings_errors()
        if errors:
            raise ValueError("; ".join(errors))
        s = {k: w.value for k, w in self.settings.items()}
        pruner = None if s["pruner"] == "none" else s["pruner"]
        with _quiet_optuna() as level:
            sw = run_sweep(self.data, space, strategy=s["strategy"], n_trials=s["n_trials"],
                           base=self.base.replace(epochs=s["epochs"]), pruner=pruner, executor=s["executor"],
                           seed=self.seed, background=True)
        if self._optuna_level is None:  # the level before the first of back-to-back sweeps
            self._optuna_level = level
        self.sweep = sw
        self.sweeps.append(sw)
        self._finalized = False
        self.curves.clear()
        self.charts.children = []
        self.table = self._new_table(list(space.names))
        self.table_box.children = [self.table]
        self._row_trials = []
        self._plotted.clear()
        self.message.value = ""
        self.best_label.value = ""
        self._pump.watch(_Feed(sw))
        self._seed_from(sw)
        self._table_dirty = True
        self._show_progress()
        self._sync_buttons()
        return sw

    def stop(self) -> None:
        """End the running sweep: no new trials, running ones stop within an epoch; finished ones stay."""
        if self.active:
            self.sweep.stop()
            self.message.value = "stopping: running trials end after their current epoch"

    def wait(self, timeout: float | None = None) -> str | None:
        """Block until the sweep ended and the panel showed everything; return its status."""
        if self.sweep is None:
            return None
        _Feed(self.sweep).wait(timeout)
        self._pump.join(timeout if timeout is not None else 10.0)
        return self.sweep.status

    def apply(self, trial: int) -> HParams:
        """Load trial ``trial``'s hyperparameters into the linked TrainPanel; return them."""
        if self.sweep is None:
            raise ValueError("no sweep yet: launch one first")
        record = next((r for r in self.sweep.records() if r.number == trial), None)
        if record is None:
            raise ValueError(f"trial {trial} does not exist in sweep {self.sweep.name!r}")
        return self._load_into_train_panel(self.sweep.base.replace(**record.params), f"trial {trial}")

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
        self.message.value = f"applied the hyperparameters of {_escape(what)} to the TrainPanel"
        return hp

    # ---- buttons and validation ------------------------------------------------------------------
    def _on_launch(self) -> None:
        self.launch()

    def _on_stop(self) -> None:
        self.stop()

    def _on_apply_best(self) -> None:
        self.apply_best()

    def _on_select(self, change: Any) -> None:
        index = change["new"]
        if 0 <= index < len(self._row_trials):
            self._safely(lambda: self.apply(self._row_trials[index]))

    def _safely(self, action) -> None:
        """Run a button's action; show an error in the panel instead of raising into the notebook."""
        try:
            action()
        except Exception as e:  # noqa: BLE001 - any error becomes a message
            self.message.value = f"<span style='color:#c62828'>&#9888; {_escape(str(e))}</span>"

    def _settings_errors(self) -> list[str]:
        errors = []
        n = self.settings["n_trials"].value
        if not isinstance(n, int) or n < 1:
            errors.append(f"trials={n!r} is not allowed: must be an integer >= 1")
        try:
            check_field("epochs", self.settings["epochs"].value)
        except ValueError as e:
            errors.append(str(e))
        return errors

    def _validate(self) -> None:
        errors = self._settings_errors()
        self.settings_message.value = "".join(f"<div style='color:#c62828'>&#9888; {_escape(e)}</div>" for e in errors)
        self.valid = self.editor.valid and not errors
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        active = self.active
        b = self.buttons
        b["launch"].disabled = active or not self.valid
        b["stop"].disabled = not active
        b["apply_best"].disabled = self.train_panel is None or self.sweep is None or self.sweep.best_value is None

    # ---- fed by the pump (its thread) ------------------------------------------------------------
    def _seed_from(self, sw: Sweep) -> None:
        """Plot what the sweep recorded before the pump listened."""
        self._plot_recorded(sw.records(), {})

    def _plot_recorded(self, records: list, points: dict[int, list]) -> None:
        """Add recorded epochs the plot has not shown yet to ``points``, then stream them all at once.

        A worker's last epochs can reach the sweep with its result rather than as events (process and
        Dask executors): a finished trial's record is the complete curve.
        """
        for r in records:
            last = self._plotted.get(r.number, 0)
            extra = [(int(row["epoch"]), _finite(row.get(self.metric))) for row in r.rows if int(row["epoch"]) > last]
            if extra:
                points.setdefault(r.number, []).extend(extra)
                self._plotted[r.number] = extra[-1][0]
        self.stream_calls += self.curves.stream(points)

    def _deliver(self, feed: _Feed, events: list) -> None:
        if feed.sweep is not self.sweep:
            return
        points: dict[int, list] = defaultdict(list)
        finished = []
        for e in events:
            trial = e.values.get("trial")
            if e.kind == "epoch":
                if e.epoch <= self._plotted.get(trial, 0):  # seeded from the record already
                    continue
                points[trial].append((e.epoch, _finite(e.values.get(self.metric))))
                self._plotted[trial] = e.epoch
            elif e.kind == "status":
                self._table_dirty = True
                if e.values.get("status") != "running":
                    finished.append((trial, e.values.get("status")))
        numbers = {trial for trial, _ in finished}
        self._plot_recorded([r for r in feed.sweep.records() if r.number in numbers] if numbers else [], points)
        for trial, status in finished:
            self.patch_calls += self.curves.finish(trial, status)
        if finished:
            self._show_best()

    def _show_best(self) -> None:
        sw = self.sweep
        params, value = sw.best_params, sw.best_value
        records = sw.records()
        best = next((r for r in records if r.status == "complete" and r.value == value and r.params == params), None)
        if best is None:
            return
        if best.number != self.curves.best_trial:
            self.curves.show_best(best.number, [row["epoch"] for row in best.rows],
                                  [_finite(row.get(self.metric)) for row in best.rows])
        self.best_label.value = _escape(format_best(sw.metric, value, best.number))

    def _tick(self) -> None:
        sw = self.sweep
        if sw is None:
            return
        now = time.monotonic()
        if self._table_dirty or (sw.status == "running" and now - self._table_refreshed >= TABLE_REFRESH):
            self._refresh_table()
        self._show_progress()
        self._sync_buttons()
        if sw.done and not self._finalized:
            self._finish_sweep()

    def _refresh_table(self) -> None:
        table = self.sweep.table()
        names = list(self.sweep.space.names)
        columns = param_columns(names, self.sweep.metric)
        rows = table.to_dict("records")
        self._row_trials = [int(r["trial"]) for r in rows]
        self.table.set_rows([sweep_cells(r, self.sweep.metric, names, columns) for r in rows])
        self._table_dirty = False
        self._table_refreshed = time.monotonic()

    def _show_progress(self) -> None:
        sw = self.sweep
        p = sw.progress
        self.status.value = _escape(format_sweep_progress(p, sw.status))
        self.progress.max = max(1, p["n_trials"])
        self.progress.value = min(p["done"], self.progress.max)
        self.progress.bar_style = BAR_STYLES.get(sw.status, "")

    def _finish_sweep(self) -> None:
        """Once per sweep, after its last event: final table, charts, Optuna's logging back."""
        self._finalized = True
        if self._optuna_level is not None:
            import optuna

            optuna.logging.set_verbosity(self._optuna_level)
            self._optuna_level = None
        self._refresh_table()
        self._show_best()
        sw = self.sweep
        if sw.error is not None:
            text = _escape(f"the sweep failed: {sw.error!r}")
            self.message.value = f"<span style='color:#c62828'>&#9888; {text}</span>"
        if self.show_charts and any(r.status == "complete" for r in sw.records()):
            from bokeh.layouts import column, row

            from ..plotting.sweep_charts import sweep_charts

            figures = sweep_charts(sw)
            scatters, parallel = figures[:-1], figures[-1]
            grid = [row(*scatters[i:i + 3]) for i in range(0, len(scatters), 3)]
            self.charts.children = [widgets.HTML("<b>Finished sweep</b>"), BokehView(column(*grid, parallel))]

    # ---- display ---------------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any):
        load_bokehjs()
        self.plots.refresh()  # a view opened now starts from the current data
        return super()._repr_mimebundle_(**kwargs)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)


def _primary_metric(data: Data) -> str:
    from ..engine.metrics import PRIMARY_METRIC

    return PRIMARY_METRIC[data.task][0]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
