"""Run: one training of one model, in the foreground or in a background thread.

The same object serves a script, a test, a sweep worker and the TrainPanel: it owns the status, the
history and the model, and offers ``pause()``, ``resume()``, ``stop()`` and ``wait()``. What trains it
is its ``trainer`` (``control/trainer.py``): the built-in one (a model from ``HParams`` on a ``Data``) or a
training function of yours (``tw.train(fit, params)``). Whatever loop trains it (the
single-model loop, a batched group, your function's ``report``) speaks to it through one public
training contract: ``begin()``, ``record_epoch(row)``, ``report_batch(...)``, ``end(status)``, and
polls ``run.control`` for pause and stop requests.
"""

from __future__ import annotations

import itertools
import threading
import time
import traceback
import uuid
import warnings
from typing import Any, Callable, Iterable

import pandas as pd
import torch

from ..hparams import HParams
from ..objective import HasObjective
from .builtin.trainer import BuiltInTrainer
from .control.callbacks import Callback
from .control.run_control import RunControl
from .control.state import cpu_copy
from .builtin.data import Data
from .control.events import EventChannel, MetricEvent
from .control.history import epoch_table
from .population.exploit import exploit_count
from .fit.trainer import FitTrainer, is_training_function, not_data_nor_function, refuse_metrics
from .builtin.memory import MemoryMeter
from .builtin.models import count_parameters
from .fit.params import Params
from .control.threads import train_in_background
from .control.trainer import Trainer
from ..statuses import FINAL_STATUSES, STOP_STATUSES, Status

_names = itertools.count(1)


class Run(HasObjective):
    """One training run. Create it with ``tw.train(data, hparams)``, or for a training function of
    yours ``tw.train(fit, {"lr": 1e-3, ...})`` (``run.data`` is then None and ``run.hparams`` a
    ``tw.Params``).

    Example::

        run = tw.train(data, tw.HParams(epochs=30), background=True)
        run.pause(); run.resume(); run.stop()
        run.wait()                 # -> 'stopped'
        run.history.tail()         # one row per finished epoch

    ``run.metric`` is the task's main validation metric (``val_accuracy``, or ``val_loss`` for regression).
    ``run.model`` holds the weights of the last epoch, or with ``early_stopping`` those of the epoch with
    the lowest validation loss; after a CUDA run ends it is moved to the CPU (many runs fill no GPU).
    """

    def __init__(self, data: Data | Callable | Trainer, hparams: HParams | dict | None = None,
                 callbacks: Iterable[Callback] = (), name: str | None = None,
                 metrics: dict[str, Callable] | None = None, parent: "Run | None" = None,
                 start_weights: dict | None = None, optimizer_state: dict | None = None, **overrides: Any) -> None:
        self.trainer = trainer_of(data, metrics, start_weights)
        self.data = self.trainer.data  # None for a training function of yours (it brings its own)
        self.hparams: HParams | Params = self.trainer.params_of(hparams, overrides)
        self.initial_hparams = self.hparams  # what it started with (live knobs change ``hparams``)
        self.parent = parent  # the run this one continues (``run.fork``), or None
        # population-based training: each time this run took another member's weights (the epoch, that
        # member as ``parent``, ``parent_id`` and ``parent_trial``, the values it trained on with); its rows
        # count them
        self.lineage: list[dict[str, Any]] = []
        self.trial_number: int | None = None  # the sweep trial this run trains, set when a sweep starts it
        self.in_population = False
        self.first_epoch = parent.first_epoch + parent.epochs_done if parent is not None else 0
        self.optimizer_state = optimizer_state  # a fork starts from it; kept when the run ends, for forks
        self.keeps_optimizer_state = True  # False where nobody forks the run (a sweep's trial): no copy at its end
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise ValueError(f"callbacks must be tw.Callback instances, got {type(cb).__name__}")
        self.extra_metrics = self.trainer.metrics
        self.id = uuid.uuid4().hex[:12]
        self.name = name or f"run {next(_names)}"
        self.events = EventChannel()
        self.status = Status.PENDING
        self.error: BaseException | None = None
        self.traceback: str | None = None
        self.model: torch.nn.Module | None = None
        self.device: torch.device | None = None
        self.device_label = ""
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.peak_memory_bytes = 0  # what the run added at its peak (see engine/builtin/memory.py)
        self.memory_shared_by = 1  # members of a batched group share one peak: each reports its share
        self.memory_meter: MemoryMeter | None = None  # set up by the trainer on the run's device
        self.objective = self.trainer.objective
        self.control = RunControl(on_pause=lambda: self._set_status(Status.PAUSED),
                                  on_resume=lambda: self._set_status(Status.RUNNING))
        self._rows: list[dict[str, Any]] = []
        self._history: pd.DataFrame | None = None
        self._done = threading.Event()
        self._last_batch: dict[str, float] = {}
        self._update_lock = threading.Lock()
        self.trainer.check(self)

    def load_history(self, rows: list[dict[str, Any]], status: str) -> None:
        """Give a run that never trained here the history and final status it had (from storage)."""
        if self.status != Status.PENDING:
            raise RuntimeError(f"{self.name} has trained here ({self.status}): its history is its own")
        self._rows = [dict(row) for row in rows]
        self.status = status
        self._done.set()

    # ---- what a user calls ---------------------------------------------------------------------
    def start(self, background: bool = False) -> "Run":
        """Build the model on its device (errors raise here), then train; return ``self``."""
        if self.status != Status.PENDING:
            raise RuntimeError(f"{self.name} was already started (status {self.status!r}); create a new Run")
        if not self.begin():
            return self  # an on_train_start hook failed: the run ended 'failed'
        if background:
            train_in_background(self._train)
        else:
            self._train()
            if self.status == Status.FAILED:
                warnings.warn(f"{self.name} failed: {self.error!r} (see run.traceback)", stacklevel=2)
        return self

    def pause(self) -> None:
        """Pause after the current batch; ``resume()`` continues where it stopped."""
        if not self.done:
            self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    def stop(self, status: str = Status.STOPPED) -> None:
        """End the run after the current batch; completed epochs stay in the history.

        ``status`` is 'stopped' (default) or 'pruned' (a sweep's pruner ended it).
        """
        if status not in STOP_STATUSES:
            raise ValueError(f"status={status!r} is not allowed: must be one of {STOP_STATUSES}")
        if not self.done:
            self.control.stop(status)

    def wait(self, timeout: float | None = None) -> str:
        """Block until the run ends (or ``timeout`` seconds pass); return the status."""
        self._done.wait(timeout)
        return self.status

    def update(self, **changes: Any) -> None:
        """Move live knobs while the run trains: ``lr``, ``momentum``, ``weight_decay``, ``l1``, ``dropout``.

        Validated now, applied from the next batch; the history records the values in force each
        epoch, and the event feed a ``knob`` event (plots mark it). Example: ``run.update(lr=1e-3)``.
        A training function of yours may have any of its names moved: ``p.<name>`` reads the new value
        from its next ``report`` call, and watched optimizers and modules take lr, momentum, weight
        decay and dropout.
        """
        if self.done:
            raise RuntimeError(f"{self.name} has ended ({self.status}): fork it to train on with other values")
        with self._update_lock:  # callers on several threads each move their own knob: none is lost
            self.hparams = self.trainer.checked_changes(self, changes)
            if self.status != Status.PENDING:
                self.control.request_update(changes)

    def fork(self, epochs: int | None = None, *, background: bool = False, start: bool = True,
             name: str | None = None, callbacks: Iterable[Callback] = (), **changes: Any) -> "Run":
        """A new run that continues this one, from its weights and optimizer state, with ``changes``
        (any field but the network's shape) for ``epochs`` more epochs, numbered after this run's.

        Works on a completed, stopped or paused run; ``child.parent is run``. Trains like ``tw.train``
        (blocks, or returns at once with ``background=True``; ``start=False`` returns it pending). With
        another optimizer kind, or after a batched group (whose optimizer is shared), the child's
        optimizer starts fresh.

        Example::

            child = run.fork(epochs=10, lr=run.hparams.lr / 3)
        """
        if self.trainer.forks_because_not:
            raise ValueError(f"{self.name} cannot be forked: {self.trainer.forks_because_not}")
        fixed = sorted(set(changes) & {"model", "layers", "units", "activation"})
        if fixed:
            raise ValueError(f"{', '.join(fixed)} cannot change in a fork: the weights it continues from have "
                             f"the parent's shape")
        weights, optimizer_state = self._training_state()
        hp = self.hparams.replace(**changes, **({"epochs": epochs} if epochs is not None else {}))
        child = Run(self.data, hp, callbacks=callbacks, name=name or f"{self.name}, continued",
                    metrics=self.extra_metrics, parent=self, start_weights=weights,
                    optimizer_state=optimizer_state if hp.optimizer == self.hparams.optimizer else None)
        return child.start(background=background) if start else child

    def _training_state(self) -> tuple[dict, dict | None]:
        """Copies of the weights and the optimizer's state, at a batch boundary."""
        if self.status in (Status.PENDING, Status.RUNNING):
            raise RuntimeError(f"{self.name} is {self.status}: pause or stop it first (its weights change every batch)")
        if self.model is None:
            raise ValueError(f"{self.name} has no weights to continue from (a run loaded from storage keeps only its "
                             f"history): train a new run with its hyperparameters")
        if not all(torch.isfinite(t).all() for t in self.model.state_dict().values() if t.is_floating_point()):
            raise ValueError(f"{self.name} has weights that are not finite ({self.status}): a fork would diverge at "
                             f"once; fork an earlier run, or train a new one with a lower lr than {self.hparams.lr:g}")
        return cpu_copy(self.model.state_dict()), self.trainer.optimizer_state(self)

    @property
    def done(self) -> bool:
        return self.status in FINAL_STATUSES

    # ---- results -----------------------------------------------------------------------------
    @property
    def history(self) -> pd.DataFrame:
        """One row per finished epoch: losses, validation metrics, lr, seconds, samples/s."""
        rows = self._rows
        if self._history is None or len(self._history) != len(rows):
            self._history = epoch_table(rows)
        return self._history

    @property
    def last_row(self) -> dict[str, Any]:
        """The last finished epoch's row (a copy), or an empty dict before the first."""
        return dict(self._rows[-1]) if self._rows else {}

    def history_rows(self) -> list[dict[str, Any]]:
        """The history as plain dicts (copies), one per finished epoch: what crosses processes."""
        return [dict(row) for row in self._rows]

    @property
    def epochs_done(self) -> int:
        return len(self._rows)

    @property
    def best_metric(self) -> float:
        """The best value of ``run.metric`` so far, or NaN."""
        return self.objective.best_of_rows(self._rows)

    @property
    def elapsed(self) -> float:
        """Seconds since start (until the end, once ended)."""
        if self.started_at is None:
            return 0.0
        return (self.ended_at or time.time()) - self.started_at

    @property
    def progress(self) -> dict[str, Any]:
        """Epoch, step, throughput and an ETA: what a status line shows."""
        done = len(self._rows)
        total = self.trainer.planned_epochs(self.hparams)
        rate = self._last_batch.get("samples_per_sec")
        if self._rows:
            if self._last_batch.get("epoch", 0) <= self._rows[-1]["epoch"]:
                rate = self._rows[-1].get("samples_per_sec")  # the finished epoch is the newest figure
            per_epoch = sum(r["seconds"] for r in self._rows) / done
            eta = 0.0 if self.done else per_epoch * (total - done) if total is not None else None
        else:
            eta = None
        return {"epoch": done, "epochs": total, "step": self._last_batch.get("step", 0),
                "samples_per_sec": rate, "eta_seconds": eta}

    def hparams_dict(self) -> dict[str, Any]:
        """The hyperparameters as plain values, for tables and files (a model factory by its name)."""
        values = self.hparams.to_dict()
        if isinstance(self.hparams, HParams):
            values["model"] = self.hparams.model_name
        return values

    @property
    def n_parameters(self) -> int:
        return count_parameters(self.model) if self.model is not None else 0

    def __repr__(self) -> str:
        best = self.best_metric
        best_text = f", best {self.metric}={best:.4g}" if best == best else ""
        planned = self.trainer.planned_epochs(self.hparams)
        return f"<Run {self.name!r} {self.status}, {len(self._rows)}/{planned or '?'} epochs{best_text}>"

    # ---- the training contract: what a loop calls -----------------------------------------------
    def begin(self) -> bool:
        """Let the trainer set up (the built-in one builds the seeded model on its device) and mark the
        run running, then call the ``on_train_start`` hooks. A bad device or model raises; a failing
        hook ends the run 'failed' and returns False."""
        self.trainer.prepare(self)
        self._set_status(Status.RUNNING)
        self.started_at = time.time()
        try:
            for cb in self.callbacks:
                cb.on_train_start(self)
        except Exception as e:  # noqa: BLE001 - a user's hook failing fails this run only
            self.end(Status.FAILED, e)
            return False
        return True

    def record_epoch(self, row: dict[str, Any]) -> None:
        """Append a finished epoch's row to the history; publish it; call ``on_epoch_end``."""
        if self.in_population:
            row.setdefault("exploits", exploit_count(self))
        self._rows.append(row)
        if self.memory_meter is not None:
            self.memory_meter.sample()
        step = self._last_batch.get("step", 0)
        self.events.publish(MetricEvent(self.id, "epoch", row["epoch"], step, dict(row), time.time()))
        for cb in self.callbacks:
            cb.on_epoch_end(self, dict(row))

    def knob_moved(self, changes: dict[str, Any], at_epoch: float, step: int) -> None:
        """The loop applied live changes at ``at_epoch`` (fractional): earlier rows get the values they were
        trained with, so each changed field is a full history column; the change is published."""
        for name in changes:
            for row in self._rows:
                row.setdefault(name, getattr(self.initial_hparams, name))
        self._history = None
        self.events.publish(MetricEvent(self.id, "knob", len(self._rows), step,
                                        {"changes": dict(changes), "at": at_epoch}, time.time()))

    def report_batch(self, epoch: int, step: int, running_loss: float, samples_per_sec: float,
                     at_epoch: float | None = None) -> None:
        """Publish the running train loss within an epoch (a few times a second, not every batch).
        ``at_epoch`` is where in training it stands, a fraction (2.5: half-way through epoch 3), so a
        chart places the point without knowing the loop's batches; it defaults to the epoch's start."""
        self._last_batch = {"epoch": epoch, "step": step, "samples_per_sec": samples_per_sec}
        at = float(epoch - 1) if at_epoch is None else float(at_epoch)
        self.events.publish(MetricEvent(self.id, "batch", epoch, step,
                                        {"train_loss": running_loss, "samples_per_sec": samples_per_sec, "at": at},
                                        time.time()))

    def end(self, status: str, error: BaseException | None = None) -> None:
        """End the run: free device memory, set the final status ('failed' with ``error``), call
        ``on_train_end`` and wake whoever waits. Ending twice changes nothing."""
        if self.done:
            return
        if error is not None:
            self.error, status = error, Status.FAILED
            self.traceback = "".join(traceback.format_exception(error))
        if self.model is not None:
            self.model.eval()
        if self.memory_meter is not None:
            self.peak_memory_bytes = self.memory_meter.peak_bytes() // self.memory_shared_by
        self._release_device_memory()
        self.ended_at = time.time()
        self._set_status(status)
        for cb in self.callbacks:
            try:
                cb.on_train_end(self)
            except Exception as e:  # noqa: BLE001
                warnings.warn(f"{type(cb).__name__}.on_train_end raised {e!r}", stacklevel=1)
        self._done.set()

    # ---- inside ----------------------------------------------------------------------------------
    def _train(self) -> None:
        error, status = None, Status.FAILED
        try:
            status = self.trainer.train(self)
        except Exception as e:  # noqa: BLE001 - any failure becomes status 'failed', history kept
            error = e
        except BaseException as e:  # Ctrl-C, sys.exit in a fit: the run still ends, then it goes on up
            self.end(Status.STOPPED) if isinstance(e, KeyboardInterrupt) else self.end(Status.FAILED, e)
            raise
        self.end(status, error)

    def _release_device_memory(self) -> None:
        if self.device is not None and self.device.type == "cuda" and self.model is not None:
            self.model.to("cpu")
            torch.cuda.empty_cache()

    def _set_status(self, status: str) -> None:
        self.status = status
        self.events.publish(MetricEvent(self.id, "status", len(self._rows), self._last_batch.get("step", 0),
                                        {"status": status}, time.time()))


def trainer_of(target: Any, metrics: dict[str, Callable] | None = None, start_weights: dict | None = None) -> Trainer:
    """The trainer for what a run was given: a ``tw.Data`` (the built-in trainer), a training function
    ``fit(p, report)``, or a ``Trainer`` itself. The one place that knows the concrete trainers."""
    if isinstance(target, Trainer):
        return target
    if isinstance(target, Data):
        return BuiltInTrainer(target, metrics, start_weights)
    if is_training_function(target):
        refuse_metrics(metrics)
        return FitTrainer(target)
    raise not_data_nor_function(target)
