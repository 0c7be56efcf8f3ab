"""RunLike: what a run offers the code that trains it and watches it.

The training loops, the trainers, ``Report`` and the callbacks are handed a run; they speak to this
protocol, not to ``Run``, so none of them imports the module that builds runs (which imports them).
"""

from __future__ import annotations

from typing import Any, Protocol

import pandas as pd

from .run_control import RunControl
from ...statuses import Status


class RunLike(Protocol):
    """One training of one model, as its trainer, its loop and its hooks see it."""

    name: str
    status: str
    hparams: Any  # the built-in trainer's HParams, or a training function's Params
    data: Any  # the built-in trainer's Data; None for a training function (it brings its own)
    model: Any  # the module being trained, once built (or watched)
    device: Any  # the torch device it trains on
    device_label: str
    control: RunControl
    callbacks: list  # the run's Callback objects, called by its loop at fixed points
    trainer: Any  # the trainer this run asks to train (see ``control/trainer.py``)
    extra_metrics: dict
    first_epoch: int  # epochs trained before this run (a fork continues its parent's count)
    optimizer_state: dict | None
    keeps_optimizer_state: bool
    memory_meter: Any

    @property
    def history(self) -> pd.DataFrame: ...

    def record_epoch(self, row: dict[str, Any]) -> None: ...

    def report_batch(self, epoch: int, step: int, running_loss: float, samples_per_sec: float,
                     at_epoch: float | None = None) -> None: ...

    def knob_moved(self, changes: dict[str, Any], at_epoch: float, step: int) -> None: ...

    def update(self, **changes: Any) -> None: ...

    def stop(self, status: str = Status.STOPPED) -> None: ...
