"""The built-in trainer: a model built from ``HParams`` (seeded, on the run's device) and trained by
the engine's loop (``trainer.TrainingLoop``) on a ``Data``, with its validation metrics."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Callable

from ...hparams import HParams, as_hparams
from ...objective import Objective
from .checks import check_against_data, check_metrics, require_data
from ..control.state import copy_states, cpu_copy
from .recipe import seeded_model
from .data import Data
from .device import describe_device, resolve_device
from ..control.knobs import check_knob_names, check_live_changes
from .memory import MemoryMeter
from .loop import TrainingLoop
from ..control.trainer import Trainer

if TYPE_CHECKING:  # pragma: no cover
    from ..control.run_like import RunLike


class BuiltInTrainer(Trainer):
    """Trains ``tw.train(data, hp)``'s model; ``start_weights`` are a fork's first weights."""

    forks_because_not = None

    def __init__(self, data: Data, metrics: dict[str, Callable] | None = None,
                 start_weights: dict | None = None) -> None:
        self.data = require_data(data)
        self.metrics = check_metrics(metrics)
        self.objective = Objective.default(data.task)
        self.start_weights = start_weights
        self.loop: TrainingLoop | None = None  # while it trains (a paused run's waits at a batch boundary)

    def params_of(self, hparams: Any, overrides: dict[str, Any]) -> HParams:
        return as_hparams(hparams, **overrides)

    def check(self, run: "RunLike") -> None:
        check_against_data(run.hparams, self.data)

    def prepare(self, run: "RunLike") -> None:
        run.device = resolve_device(run.hparams.device)
        run.device_label = describe_device(run.device)
        run.memory_meter = MemoryMeter(run.device)
        run.model = seeded_model(run.hparams, self.data, run.device)
        if self.start_weights is not None:  # a fork starts from its parent's weights
            run.model.load_state_dict(self.start_weights)

    def train(self, run: "RunLike") -> str:
        loop = None
        try:
            loop = self.loop = TrainingLoop(run)
            status = loop.fit()
            loop.restore_best()
            return status
        finally:
            if loop is not None:
                loop.release()
            self.loop = None

    def checked_changes(self, run: "RunLike", changes: dict[str, Any]) -> HParams:
        check_knob_names(changes)
        if run.control.knobs_fixed_because:
            raise RuntimeError(f"{run.name} cannot change {', '.join(sorted(changes))} while it trains: "
                               f"{run.control.knobs_fixed_because}; fork it when it ends to train on with other "
                               f"values")
        return check_live_changes(run.hparams, changes, run.model)

    def population_problem(self, run: "RunLike") -> str | None:
        return None if self.loop is not None else f"{run.name} is not training"

    def take_state_of(self, run: "RunLike", donor: "RunLike", names: list[str]) -> None:
        mine, theirs = self.loop, donor.trainer.loop
        if mine is None or theirs is None:
            raise RuntimeError(f"{run.name} can take {donor.name}'s weights only while both train")
        copy_states([(mine.model, theirs.model), (mine.optimizer, theirs.optimizer),
                     (mine.scheduler, theirs.scheduler), (mine.scaler, theirs.scaler)])
        mine.early_stopping = copy.deepcopy(theirs.early_stopping)
        # the values its loop applied (a user's update it has not reached yet is not in its optimizer)
        mine.hp = run.hparams = run.hparams.replace(**{name: getattr(theirs.hp, name) for name in names})

    def optimizer_state(self, run: "RunLike") -> dict | None:
        """A copy of the optimizer's state now (a paused run's), or the one its run kept at its end."""
        loop = self.loop
        if loop is not None and loop.optimizer is not None:
            return cpu_copy(loop.optimizer.state_dict())
        return run.optimizer_state
