"""Trainer: what a ``Run`` asks of whatever trains it, so that the run itself knows no model and no loop.

A run owns its status, history, controls and events; its trainer owns the training. Two exist:
``BuiltInTrainer`` (a model built from ``HParams`` on a ``Data``, trained by the engine's loop) and
``FitTrainer`` (a training function of yours, ``fit(p, report)``). Panels, sweeps and executors speak
to the run, never to the trainer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...objective import Objective

if TYPE_CHECKING:  # pragma: no cover
    from .run_like import RunLike


class Trainer:
    """The base: each method says what the run needs; the two trainers fill them in."""

    data: Any = None  # the built-in trainer's ``tw.Data`` (a training function brings its own)
    metrics: dict = {}  # extra validation metrics, by name (the built-in trainer's ``metrics=``)
    objective: Objective = Objective("val_loss")
    forks_because_not: str | None = "this trainer cannot continue a run"  # None: ``run.fork`` works

    def params_of(self, hparams: Any, overrides: dict[str, Any]) -> Any:
        """The run's hyperparameters from what the user passed."""
        raise NotImplementedError

    def check(self, run: "RunLike") -> None:
        """Checks made when the run is created (before anything trains)."""

    def prepare(self, run: "RunLike") -> None:
        """Set up on the run's device before ``on_train_start`` (errors raise from ``run.start``)."""

    def train(self, run: "RunLike") -> str:
        """Train; return the final status ('completed', 'stopped', 'diverged'...). Raising fails the run."""
        raise NotImplementedError

    def checked_changes(self, run: "RunLike", changes: dict[str, Any]) -> Any:
        """The run's hyperparameters with live ``changes``, or a ``ValueError`` saying why not."""
        raise NotImplementedError

    def population_problem(self, run: "RunLike") -> str | None:
        """Why ``run`` cannot take another member's state in population-based training, or None."""
        return "this trainer cannot take another run's weights"

    def take_state_of(self, run: "RunLike", donor: "RunLike", names: list[str]) -> None:
        """Population-based training's exploit, both runs held at an epoch's end: ``run`` continues from
        ``donor``'s weights and optimizer state, and takes its values of ``names`` (without applying
        them: its optimizer now holds them)."""
        raise ValueError(self.population_problem(run))

    def planned_epochs(self, params: Any) -> int | None:
        """How many epochs the run will train, if known (progress and ETA)."""
        epochs = getattr(params, "epochs", None)
        return epochs if isinstance(epochs, int) and not isinstance(epochs, bool) else None
