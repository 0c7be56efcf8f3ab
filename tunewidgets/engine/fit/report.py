"""Report: what a training function of yours calls so that its run can be watched, paused and steered.

``fit(p, report)`` trains however it likes and calls ``report.epoch(**metrics)`` once per epoch
(optionally ``report.batch(**metrics)`` within one). Each call is also where the run takes control:

- paused, the call blocks until resumed;
- stopped (or pruned), it raises ``StopTraining``, a ``BaseException`` so that a loop's own
  ``except Exception:`` does not swallow it; ``report.should_stop`` lets a loop end by itself;
- live changes (``run.update(lr=...)``, a moved control) are taken: ``p.<name>`` reads the new value
  from then on, and optimizers, schedulers and modules given to ``report.watch`` get lr, weight
  decay, momentum and dropout applied at once;
- an epoch whose loss (any metric named ``loss`` or ``*_loss``) is NaN or infinite is kept in the
  history and ends the run ``diverged``.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ...objective import is_finite_number
from ..control.callbacks import overrides
from ..control.events import BATCH_EVENT_SECONDS
from ..control.history import as_number
from ..control.knobs import apply_dropout, apply_to_optimizer
from .params import Params
from ...statuses import Status

if TYPE_CHECKING:  # pragma: no cover
    from ..control.run_like import RunLike

RESERVED = ("epoch", "seconds")  # filled in by the report itself


class StopTraining(BaseException):
    """Raised by ``report.epoch``/``report.batch`` when the run is to end: stopped, pruned or diverged.

    Let it propagate out of your function (a ``finally`` still runs); the run ends with ``status``.
    """

    def __init__(self, status: str) -> None:
        super().__init__(f"the run was ended: {status}")
        self.status = status


def innermost(optimizer: Any) -> Any:
    """A torch optimizer out of the wrappers around it (Accelerate's ``AcceleratedOptimizer`` keeps it
    as ``.optimizer``): a scheduler built on the wrapper schedules the same one."""
    while isinstance(getattr(optimizer, "optimizer", None), torch.optim.Optimizer):
        optimizer = optimizer.optimizer
    return optimizer


def is_loss(name: str) -> bool:
    return name == "loss" or name.endswith("_loss")


class Report:
    """The training function's line to its run; see the module's docstring. ``report.params`` is ``p``."""

    def __init__(self, run: "RunLike", params: Params) -> None:
        self._run = run
        self._control = run.control
        self._values = dict(params)  # what ``p`` reads; live changes move into it
        self.params = Params.reading(self._values)
        self.optimizers: list[torch.optim.Optimizer] = []
        self.schedulers: list[Any] = []
        self.modules: list[nn.Module] = []
        self.epoch_number = run.first_epoch  # the last finished epoch (a fork's continue its parent's)
        self.step = 0
        self._changed: list[str] = []
        self._batches_this_epoch = 0
        self._batches_per_epoch: int | None = None
        self._epoch_started = time.perf_counter()
        self._paused = 0.0
        self._last_batch_event = 0.0
        self._batch_hooks = [cb for cb in run.callbacks if overrides(cb, "on_batch_end")]
        self.ended: str | None = None  # the status a StopTraining carried: the run ends with it

    # ---- what a training function calls -------------------------------------------------------
    def watch(self, *objects: Any) -> None:
        """Optimizers, learning-rate schedulers and modules that live changes act on (lr, weight_decay,
        momentum on optimizers, the schedule's base rate, dropout on modules); the first module is
        kept as ``run.model``."""
        for obj in objects:
            if isinstance(obj, torch.optim.Optimizer):
                self.optimizers.append(obj)
            elif isinstance(obj, nn.Module):
                self.modules.append(obj)
                if self._run.model is None:
                    self._run.model = obj
            elif hasattr(obj, "optimizer") and hasattr(obj, "step"):  # a torch.optim.lr_scheduler
                self.schedulers.append(obj)
            else:
                raise ValueError(f"report.watch({type(obj).__name__}) is not allowed: watch torch optimizers, "
                                 f"learning-rate schedulers and modules")

    def start_clock(self) -> None:
        """The current epoch's time counts from now: after a slow set-up (a library's trainer building
        itself), so that the first epoch's ``seconds`` are its own."""
        self._epoch_started, self._paused = time.perf_counter(), 0.0

    @property
    def should_stop(self) -> bool:
        """True once the run was asked to end: a loop may check it and return by itself."""
        return self._control.stop_requested

    def batch(self, **metrics: Any) -> None:
        """Within an epoch: take control (pause, stop, live changes) and, a few times a second, show the
        running values (``loss``) on the live plots. Values are read only then: a loss tensor on a GPU
        is not synchronized every batch."""
        self._take_control()
        self.step += 1
        self._batches_this_epoch += 1
        now = time.perf_counter()
        due = now - self._last_batch_event >= BATCH_EVENT_SECONDS
        if not metrics or not (due or self._batch_hooks):
            return
        values = {name: as_number(name, v) for name, v in metrics.items()}
        loss = values.get("loss", next(iter(values.values())))
        for hook in self._batch_hooks:
            hook.on_batch_end(self._run, self.step, loss)
        if due:
            self._last_batch_event = now
            self._run.report_batch(self.epoch_number + 1, self.step, loss, math.nan, self._at_epoch())

    def epoch(self, **metrics: Any) -> None:
        """One finished epoch: its metrics become a history row (``epoch`` and ``seconds`` are added,
        with the values of knobs moved so far); then control is taken as in ``batch``."""
        if self.ended is not None:  # nothing is recorded after the run was ended
            raise StopTraining(self.ended)
        clash = [name for name in metrics if name in RESERVED]
        if clash:
            raise ValueError(f"report.epoch({clash[0]}=...) is not allowed: {clash[0]!r} is filled in for you")
        values = {name: as_number(name, v) for name, v in metrics.items()}
        self.epoch_number += 1
        seconds = time.perf_counter() - self._epoch_started - self._paused
        row = {"epoch": self.epoch_number, **values}
        row.update({name: self.params[name] for name in self._changed if name not in row})
        row["seconds"] = seconds
        self._run.record_epoch(row)
        self._batches_per_epoch = self._batches_this_epoch or self._batches_per_epoch
        self._batches_this_epoch, self._paused, self._epoch_started = 0, 0.0, time.perf_counter()
        if any(is_loss(name) and not math.isfinite(v) for name, v in values.items()):
            self.ended = Status.DIVERGED
            raise StopTraining(Status.DIVERGED)
        self._take_control()

    def take_values(self, values: dict[str, Any]) -> None:
        """``p`` reads ``values`` from now on, applied to nothing: the watched objects already hold them
        (a population member took another's weights and optimizer state)."""
        self._values.update(values)

    # ---- inside ------------------------------------------------------------------------------
    def _take_control(self) -> None:
        control = self._control
        if self.ended is not None:  # the fit caught a StopTraining and went on: it gets it again
            raise StopTraining(self.ended)
        if control.pause_requested and not control.stop_requested:
            self._paused += control.wait_while_paused()
        if control.stop_requested:
            self.ended = control.stop_status
            raise StopTraining(control.stop_status)
        if control.updates_pending:
            self._apply(control.take_updates())

    def _apply(self, changes: dict[str, Any]) -> None:
        old_lr = self.params.get("lr")
        for optimizer in self.optimizers:
            scheduler = next((s for s in self.schedulers if innermost(s.optimizer) is innermost(optimizer)), None)
            apply_to_optimizer(changes, old_lr if is_finite_number(old_lr) else None, optimizer, scheduler)
        if "dropout" in changes:
            for module in self.modules:
                apply_dropout(changes["dropout"], module)
        self._values.update(changes)
        self._changed += [name for name in changes if name not in self._changed]
        self._run.knob_moved(changes, self._at_epoch(), self.step)

    def _at_epoch(self) -> float:
        """Where training stands, in epochs (2.5: half-way through the third), estimated from the
        previous epoch's batch count."""
        fraction = self._batches_this_epoch / self._batches_per_epoch if self._batches_per_epoch else 0.0
        return self.epoch_number + min(fraction, 0.99)
