"""Training one trial with the engine, wherever an executor runs it, and reporting every epoch.

A ``TorchTrial`` runs in a kernel thread, a pool process or on a Dask worker, so it is a picklable
dataclass holding the data, and it talks to the kernel only through its ``Channel``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..engine.batched import GroupLoop, can_batch
from ..engine.batched.check import structure_key
from ..engine.batched.sizing import fitting_group_size
from ..engine.control.callbacks import Callback
from ..engine.builtin.data import Data
from ..engine.population.decide import PBT
from ..engine.population.exploit import exploit_count
from ..engine.run import Run
from ..hparams import HParams
from .protocol import Channel, Trial, TrialResult, error_text
from ..statuses import Status

PAUSE_POLL_SECONDS = 0.1


class ReportEpochs(Callback):
    """Sends each epoch row to the kernel and stops the run when the kernel says so."""

    def __init__(self, number: int, channel: Channel) -> None:
        self.number, self.channel = number, channel

    def on_train_start(self, run) -> None:
        run.trial_number = self.number  # a population member's lineage names its parents by it (exploit.py)
        # A remote trial can start while its sweep is paused (a Dask worker steals a queued task from a
        # busy one): it waits before its first epoch, as a running trial waits at an epoch's end.
        self._wait_while_paused()
        status = self.channel.stop_status(self.number)  # stopped while it waited in a queue
        if status:
            run.stop(status)
        self.channel.attach(self.number, run)  # in-kernel channels stop the run at once, not at an epoch's end

    def on_epoch_end(self, run, metrics: dict[str, Any]) -> None:
        self.channel.send(self.number, metrics)
        self._wait_while_paused()
        status = self.channel.stop_status(self.number)
        if status:
            run.stop(status)

    def _wait_while_paused(self) -> None:
        while self.channel.paused(self.number) and not self.channel.stop_status(self.number):
            time.sleep(PAUSE_POLL_SECONDS)  # a remote trial waits here while its sweep is paused


@dataclass
class TorchTrial(Trial):
    """Train ``HParams(**params)`` on ``data``; the sweep values the trial from its history rows.

    ``metrics`` are the user's extra validation metrics (``val_<name>`` columns, any of which may be
    the objective). Worker processes set their own thread count when they start (``executors.warm``).
    """

    data: Data
    metrics: dict[str, Callable] = field(default_factory=dict)
    population: PBT | None = None  # strategy="pbt": a group trains as one population (engine/population/decide.py)

    def new_run(self, number: int, params: dict[str, Any], callbacks: list[Callback]) -> Run:
        """The (pending) run of trial ``number``; bad hyperparameters for this data raise here."""
        run = Run(self.data, HParams.from_dict(params), callbacks=callbacks, name=TRIAL_NAME.format(number),
                  metrics=self.metrics)
        run.keeps_optimizer_state = False  # the sweep keeps a trial's history and scores, never the run
        return run

    def __call__(self, number: int, params: dict[str, Any], channel: Channel) -> TrialResult:
        return train_alone(self.new_run, number, params, channel)[1]

    # ---- training as a group (the batched executor) --------------------------------------------
    def plan_group(self, params: list[dict[str, Any]]) -> tuple[list[int], str]:
        """Trials whose network structure agrees train as one group. Hyperparameters this data
        refuses stay out of it: trained alone, they fail with the error the thread executor gives."""
        valid = [i for i, p in enumerate(params) if _valid_hparams(p)]
        if len(valid) < 2:
            return [], ""
        ok, why = can_batch([params[i] for i in valid], self.data)
        return (valid, "") if ok else ([], why)

    def group_key(self, params: dict[str, Any]) -> Any:
        return structure_key(params)

    def group_size_for(self, params: dict[str, Any], limit: int) -> int:
        """The most members of this structure that fit the device's memory budget (the CPU's cache,
        half the free GPU memory), at most ``limit``."""
        try:
            hp = HParams.from_dict(params)
        except ValueError:
            return limit  # the trial fails on its own, as on the thread path
        return fitting_group_size(hp, self.data, limit)

    def train_group(self, runs: list[Run]) -> None:
        # plan_group asked can_batch already, and the sweep checked the population: train_batched would ask again
        GroupLoop(self.data, runs, self.population).train()

    def result_of(self, run: Run, started: float) -> TrialResult:
        return trial_result(run, started)



TRIAL_NAME = "trial {}"  # a trial's run is named so


def lineage_columns(run: Run) -> dict[str, Any]:
    """A population member's table columns: how many times it took another member's weights, from which
    trials (``parents``), and the whole ``lineage`` (epoch, parent trial, values) for its schedule. Each
    jump holds its parent's trial number, taken from the parent run when the jump was made."""
    lineage = [{"epoch": jump["epoch"], "parent": jump["parent_trial"], "values": dict(jump["values"])}
               for jump in run.lineage]
    return {"exploits": exploit_count(run), "parents": ", ".join(str(jump["parent"]) for jump in lineage),
            "lineage": lineage}


def _valid_hparams(params: dict[str, Any]) -> bool:
    try:
        HParams.from_dict(params)
        return True
    except ValueError:
        return False


def train_alone(new_run: Callable[..., Run], number: int, params: dict[str, Any],
                channel: Channel) -> tuple[Run | None, TrialResult]:
    """Build trial ``number``'s run with ``new_run`` and train it, each epoch sent through ``channel``:
    the run and its result, or no run and a failed result when it cannot be built (bad values)."""
    started = time.perf_counter()
    try:
        run = new_run(number, params, [ReportEpochs(number, channel), *channel.callbacks(number)])
        run.start()
    except Exception as e:  # noqa: BLE001 - bad hparams for this data, model build errors
        return None, TrialResult.failed(e, started)
    return run, trial_result(run, started)


def trial_result(run: Run, started: float) -> TrialResult:
    """A finished ``Run`` as a ``TrialResult``: one place, so every executor reports trials alike.
    ``started`` is the ``time.perf_counter()`` reading the trial's seconds count from."""
    rows = run.history_rows()
    error = None
    if run.status == Status.FAILED:
        error = error_text(run.error) if run.error is not None else "failed"  # the error text, not a status
    elif run.status == Status.DIVERGED:
        last_ok = bool(rows) and math.isfinite(rows[-1].get("val_loss", math.nan))
        epoch = len(rows) + 1 if last_ok or not rows else len(rows)
        error = f"diverged: the loss became NaN or infinite in epoch {epoch}"
    seconds, costs = time.perf_counter() - started, cost_columns(rows, run.peak_memory_bytes, run.n_parameters)
    if run.in_population:
        costs.update(lineage_columns(run))
    return TrialResult(run.status, rows=rows, error=error, seconds=seconds, extra=costs)


def cost_columns(rows: list[dict[str, Any]], peak_bytes: int, params: int) -> dict[str, float]:
    """What a trial cost, for the table: its model's size, seconds per epoch and the memory it added
    at its peak (MiB)."""
    per_epoch = sum(r.get("seconds", 0.0) for r in rows) / len(rows) if rows else math.nan
    return {"params": params, "seconds_per_epoch": per_epoch, "peak_memory_mib": peak_bytes / 2**20}


def run_trial(train_trial: Any, number: int, params: dict[str, Any], channel: Channel) -> TrialResult:
    """Call ``train_trial`` and turn anything it raises into a failed result (the sweep goes on)."""
    started = time.perf_counter()
    try:
        return train_trial(number, params, channel)
    except Exception as e:  # noqa: BLE001
        return TrialResult.failed(e, started)
