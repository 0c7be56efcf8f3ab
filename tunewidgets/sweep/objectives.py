"""The torch objective: train one trial's ``HParams`` with the engine and report every epoch.

It runs wherever the executor puts it (kernel thread, pool process, Dask worker), so it is a
picklable dataclass holding the data, and it talks to the kernel only through its ``Channel``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from ..engine.callbacks import Callback
from ..engine.data import Data
from .protocol import Channel, TrialResult


class _Reporting(Callback):
    """Sends each epoch row to the kernel and stops the run when the kernel says so."""

    def __init__(self, number: int, channel: Channel) -> None:
        self.number, self.channel = number, channel

    def on_train_start(self, run) -> None:
        status = self.channel.stop_status(self.number)  # stopped while it waited in a queue
        if status:
            run.stop(status)
        attach = getattr(self.channel, "attach", None)
        if attach is not None:  # in-kernel channels stop the run at once, not at the next epoch
            attach(self.number, run)

    def on_epoch_end(self, run, metrics: dict[str, Any]) -> None:
        self.channel.send(self.number, metrics)
        status = self.channel.stop_status(self.number)
        if status:
            run.stop(status)


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


@dataclass
class TorchObjective:
    """Train ``HParams(**params)`` on ``data``; the value is the best ``metric`` over epochs.

    ``threads`` pins torch's intra-op threads in the worker (1 per worker avoids oversubscription);
    None leaves the process as it is (the in-kernel executor).
    """

    data: Data
    metric: str
    direction: str
    threads: int | None = None

    def __call__(self, number: int, params: dict[str, Any], channel: Channel) -> TrialResult:
        from ..engine.run import Run
        from ..hparams import HParams

        if self.threads:
            import torch

            if torch.get_num_threads() != self.threads:
                torch.set_num_threads(self.threads)
        started = time.perf_counter()
        try:
            run = Run(self.data, HParams.from_dict(params), callbacks=[_Reporting(number, channel)],
                      name=f"trial {number}")
            run.start()
        except Exception as e:  # noqa: BLE001 - bad hparams for this data, model build errors
            return TrialResult("failed", error=error_text(e), seconds=time.perf_counter() - started)
        return trial_result(run, self.metric, self.direction, started)


def trial_result(run: Any, metric: str, direction: str, started: float) -> TrialResult:
    """A finished ``Run`` as a ``TrialResult``: one place, so every executor reports trials alike.
    ``started`` is the ``time.perf_counter()`` reading the trial's seconds count from."""
    rows = [dict(r) for r in run._rows]
    values = [r.get(metric, math.nan) for r in rows]
    values = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    value = (max(values) if direction == "maximize" else min(values)) if values else math.nan
    error = None
    if run.status == "failed":
        error = error_text(run.error) if run.error is not None else "failed"
    elif run.status == "diverged":
        last_ok = bool(rows) and math.isfinite(rows[-1].get("val_loss", math.nan))
        epoch = len(rows) + 1 if last_ok or not rows else len(rows)
        error = f"diverged: the loss became NaN or infinite in epoch {epoch}"
    return TrialResult(run.status, value, rows, error, time.perf_counter() - started)


def run_objective(objective: Any, number: int, params: dict[str, Any], channel: Channel) -> TrialResult:
    """Call ``objective`` and turn anything it raises into a failed result (the sweep goes on)."""
    started = time.perf_counter()
    try:
        return objective(number, params, channel)
    except Exception as e:  # noqa: BLE001
        return TrialResult("failed", error=error_text(e), seconds=time.perf_counter() - started)
