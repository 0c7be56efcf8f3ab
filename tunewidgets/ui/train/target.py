"""What a TrainPanel trains: the built-in trainer on a ``tw.Data``, or a training function of yours.

The panel is the same view either way (buttons, live curves, the runs table, storage); these two
classes hold what differs: the controls, how a run is built, which controls stay live while it
trains, what the plots show, and which buttons need the built-in trainer.
"""

from __future__ import annotations

from typing import Any, Callable

from ...engine.builtin.data import Data
from ...engine.fit.trainer import FitTrainer, check_fit
from ...engine.control.knobs import LIVE_FIELDS
from ...engine.fit.params import plain_values
from ...engine.run import Run
from ...engine.records.run_store import RunStore
from ...hparams import as_hparams
from ...objective import Objective
from ...space import Space
from .controls import HParamsControls
from .space_controls import SpaceControls, first_value

# The validation metric plotted per task (regression's primary metric, val_loss, is on the loss plot).
PLOTTED_METRIC = {"classification": ("val_accuracy", "validation accuracy"),
                  "regression": ("val_r2", "validation R2")}
NOT_PLOTTED = ("epoch", "seconds", "lr")  # columns of a row that are not a metric to plot


class BuiltInTraining:
    """The built-in trainer on ``data``, from ``HParams`` controls."""

    built_in_only: str | None = None  # every button works

    def __init__(self, data: Data, hparams: Any) -> None:
        self.data, self.initial = data, as_hparams(hparams)
        self.metric = Objective.default(data.task).metric
        self.plotted_metric, self.metric_label = PLOTTED_METRIC[data.task]
        self.live = LIVE_FIELDS

    def controls(self) -> HParamsControls:
        return HParamsControls(self.initial, self.data)

    def new_run(self, values: Any, callbacks: list) -> Run:
        return Run(self.data, values, callbacks=callbacks)

    def lock_note(self, run: Run) -> str:
        return (f"while {run.name} trains only {', '.join(LIVE_FIELDS)} change it (from the next batch); the "
                f"other fields shape the model and its batches and apply to the next run (Continue forks a run "
                f"with them)")

    def stored_runs(self, store: RunStore) -> list[Run]:
        model = self.initial.model
        return store.load(self.data, {self.initial.model_name: model} if callable(model) else None)

    def metric_of(self, row: dict[str, Any]) -> str | None:
        return self.plotted_metric


class FitTraining:
    """A training function ``fit(p, report)``, from a control per dimension of ``space`` over ``base``;
    ``metric`` (and ``direction``) is what a run's best is (default val_loss)."""

    def __init__(self, fit: Callable, space: Space | dict | None, base: Any, metric: str | None,
                 direction: str | None) -> None:
        self.fit, self.name = check_fit(fit), getattr(fit, "__name__", "fit")
        self.space = Space(**space) if isinstance(space, dict) else space if space is not None else Space()
        if not isinstance(self.space, Space):
            raise ValueError(f"space={space!r} is not allowed: must be a tw.Space (or a dict of dimensions)")
        base = plain_values(base)
        self.initial = {**{name: first_value(dim) for name, dim in self.space.dims.items()}, **base}  # what Reset loads
        self.trainer = FitTrainer(fit, metric, direction)
        self.metric = self.trainer.objective.metric
        self.plotted_metric = None if self.metric.endswith("loss") else self.metric  # else the first one reported
        self.metric_label = (self.plotted_metric or "metric").replace("_", " ")
        self.live = tuple(self.space.names)
        self.built_in_only = (f"Find LR and Continue need the built-in trainer (it builds the model, so it can "
                              f"sweep its rate or restart it from a run's weights); {self.name} is your "
                              f"own loop: move a control while it trains instead")

    def controls(self) -> SpaceControls:
        return SpaceControls(self.space, self.initial)

    def new_run(self, values: dict[str, Any], callbacks: list) -> Run:
        return Run(self.trainer.again(), values, callbacks=callbacks)

    def lock_note(self, run: Run) -> str:
        return (f"while {run.name} trains, a moved control reaches it at its next report: p.<name> reads the new "
                f"value, and watched optimizers and modules take lr, momentum, weight decay and dropout")

    def stored_runs(self, store: RunStore) -> list[Run]:
        return store.load(self.trainer)

    def metric_of(self, row: dict[str, Any]) -> str | None:
        """The metric the second plot shows: the panel's metric, else the first reported that is not a loss."""
        if self.plotted_metric is None:
            values = set(self.initial)  # a row also carries the values of knobs moved so far
            self.plotted_metric = next((k for k in row if k not in NOT_PLOTTED and k not in values
                                        and not k.endswith("loss")), None)
        return self.plotted_metric
