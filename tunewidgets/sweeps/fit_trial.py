"""One trial of a sweep of your own training function, ``fit(p, report)``, wherever it runs.

Like ``TorchTrial`` it is a picklable dataclass (the process and Dask executors ship the function
with cloudpickle, so a fit defined in a notebook cell travels too) and talks to the kernel only
through its ``Channel``. A trial whose fit never reports the sweep's metric fails with the names it
did report, so a typo reads as one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from ..engine.control.callbacks import Callback
from ..engine.fit.trainer import FitTrainer
from ..engine.run import Run
from ..objective import COST_OBJECTIVES, Objectives
from .protocol import Channel, Trial, TrialResult
from .trials import train_alone
from ..statuses import Status

ADDED_COLUMNS = ("epoch", "seconds")  # what a report adds to every row: not metrics the fit reported
ONLY_BUILT_IN = ("executor='batched' trains the built-in models only (it stacks their weights into one "
                 "vectorized pass); sweep a training function with executor='thread', 'process' or 'dask'")


@dataclass
class FitTrial(Trial):
    """Run ``fit`` with one trial's values; the sweep values the trial from the rows it reports."""

    fit: Callable
    objectives: Objectives

    def new_run(self, number: int, params: dict[str, Any], callbacks: list[Callback]) -> Run:
        primary = self.objectives.primary
        reported = primary.metric not in COST_OBJECTIVES  # a cost is no history column: the run ranks by val_loss
        trainer = FitTrainer(self.fit, *((primary.metric, primary.direction) if reported else (None, None)))
        run = Run(trainer, params, callbacks=callbacks, name=f"trial {number}")
        run.keeps_optimizer_state = False
        return run

    def __call__(self, number: int, params: dict[str, Any], channel: Channel) -> TrialResult:
        run, result = train_alone(self.new_run, number, params, channel)
        if run is None:
            return result
        if run.model is None:
            result.extra["params"] = math.nan  # the fit kept its model to itself: its size is unknown
        if result.status in (Status.COMPLETED, Status.EARLY_STOPPED) and result.error is None:
            result.error = self.missing(result.rows, run)
        return result

    def plan_group(self, params: list[dict[str, Any]]) -> tuple[list[int], str]:
        return [], ONLY_BUILT_IN

    def missing(self, rows: list[dict[str, Any]], run: Run) -> str | None:
        """Why a finished trial has no value for an objective, in words, or None."""
        name = getattr(self.fit, "__name__", "the training function")
        for objective in self.objectives:
            if objective.metric == "params" and run.model is None:
                return (f"objective 'params' needs the model: return it from {name} or pass it to "
                        f"report.watch(optimizer, model)")
            if objective.metric in COST_OBJECTIVES or any(objective.metric in row for row in rows):
                continue
            reported = sorted({key for row in rows for key in row} - set(ADDED_COLUMNS))
            said = ", ".join(repr(m) for m in reported) if reported else "nothing (report.epoch was never called)"
            return f"{name} never reported metric {objective.metric!r}: it reported {said}"
        return None
