"""Run: one training of one model, in the foreground or in a background thread.

The same object serves a script, a test, a sweep worker and the TrainPanel: it owns the status,
the history and the model, and offers ``pause()``, ``resume()``, ``stop()`` and ``wait()``.
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

from ..hparams import HParams, as_hparams
from .callbacks import Callback
from .data import Data
from .device import background_cpu_threads, describe_device, pin_training_thread, resolve_device
from .events import EventChannel, MetricEvent
from .metrics import PRIMARY_METRIC
from .models import build_model, count_parameters, require_images

STATUSES = ("pending", "running", "paused", "completed", "stopped", "early_stopped", "diverged", "failed", "pruned")
FINAL_STATUSES = ("completed", "stopped", "early_stopped", "diverged", "failed", "pruned")
STOP_STATUSES = ("stopped", "pruned")
_names = itertools.count(1)


class RunControl:
    """Flags the training thread polls once per batch: cheap attribute reads, no locks."""

    def __init__(self, on_pause, on_resume) -> None:
        self.stop_requested = False
        self.stop_status = "stopped"
        self.pause_requested = False
        self._resumed = threading.Event()
        self._resumed.set()
        self._on_pause, self._on_resume = on_pause, on_resume

    def stop(self, status: str) -> None:
        self.stop_status = status
        self.stop_requested = True
        self._resumed.set()

    def pause(self) -> None:
        self.pause_requested = True
        self._resumed.clear()

    def resume(self) -> None:
        self.pause_requested = False
        self._resumed.set()

    def wait_while_paused(self) -> float:
        """Block the training thread until resumed or stopped; return the seconds spent paused."""
        started = time.perf_counter()
        self._on_pause()
        self._resumed.wait()
        if not self.stop_requested:
            self._on_resume()
        return time.perf_counter() - started


class Run:
    """One training run. Create it with ``tw.train(data, hparams)``.

    Example::

        run = tw.train(data, tw.HParams(epochs=30), background=True)
        run.pause(); run.resume(); run.stop()
        run.wait()                 # -> 'stopped'
        run.history.tail()         # one row per finished epoch

    ``run.model`` holds the weights of the last epoch, or with ``early_stopping`` those of the
    epoch with the lowest validation loss. After a CUDA run ends, the model is moved to the CPU so
    that many runs do not fill GPU memory.
    """

    def __init__(self, data: Data, hparams: HParams | dict | None = None, callbacks: Iterable[Callback] = (),
                 name: str | None = None, metrics: dict[str, Callable] | None = None, **overrides: Any) -> None:
        if not isinstance(data, Data):
            raise ValueError(f"data={type(data).__name__} is not allowed: must be a tw.Data "
                             f"(tw.load_dataset, tw.Data.from_arrays or tw.Data.from_datasets)")
        self.hparams: HParams = as_hparams(hparams, **overrides)
        self.data = data
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise ValueError(f"callbacks must be tw.Callback instances, got {type(cb).__name__}")
        self.extra_metrics = check_metrics(metrics)
        self.id = uuid.uuid4().hex[:12]
        self.name = name or f"run {next(_names)}"
        self.events = EventChannel()
        self.status = "pending"
        self.error: BaseException | None = None
        self.traceback: str | None = None
        self.model: torch.nn.Module | None = None
        self.device: torch.device | None = None
        self.device_label = ""
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.metric, self.direction = PRIMARY_METRIC[data.task]
        self._rows: list[dict[str, Any]] = []
        self._history: pd.DataFrame | None = None
        self._control = RunControl(on_pause=lambda: self._set_status("paused"),
                                   on_resume=lambda: self._set_status("running"))
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self._last_batch: dict[str, float] = {}
        check_against_data(self.hparams, data)

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self, background: bool = False) -> "Run":
        """Build the model on its device (errors raise here), then train; return ``self``."""
        if self.status != "pending":
            raise RuntimeError(f"{self.name} was already started (status {self.status!r}); create a new Run")
        self._prepare(background or threading.current_thread() is not threading.main_thread())
        self._set_status("running")
        self.started_at = time.time()
        if background:
            self._thread = threading.Thread(target=self._train, name=f"tunewidgets {self.name}", daemon=True)
            self._thread.start()
        else:
            self._train()
            if self.status == "failed":
                warnings.warn(f"{self.name} failed: {self.error!r} (see run.traceback)", stacklevel=2)
        return self

    def pause(self) -> None:
        """Pause after the current batch; ``resume()`` continues where it stopped."""
        if not self.done:
            self._control.pause()

    def resume(self) -> None:
        self._control.resume()

    def stop(self, status: str = "stopped") -> None:
        """End the run after the current batch; completed epochs stay in the history.

        ``status`` is 'stopped' (default) or 'pruned' (a sweep's pruner ended it).
        """
        if status not in STOP_STATUSES:
            raise ValueError(f"status={status!r} is not allowed: must be one of {STOP_STATUSES}")
        if not self.done:
            self._control.stop(status)

    def wait(self, timeout: float | None = None) -> str:
        """Block until the run ends (or ``timeout`` seconds pass); return the status."""
        self._done.wait(timeout)
        return self.status

    @property
    def done(self) -> bool:
        return self.status in FINAL_STATUSES

    # ---- results -----------------------------------------------------------------------------
    @property
    def history(self) -> pd.DataFrame:
        """One row per finished epoch: losses, validation metrics, lr, seconds, samples/s."""
        rows = self._rows
        if self._history is None or len(self._history) != len(rows):
            self._history = pd.DataFrame(list(rows)).set_index("epoch", drop=False) if rows else \
                pd.DataFrame(columns=["epoch", "train_loss", "val_loss"])
        return self._history

    @property
    def epochs_done(self) -> int:
        return len(self._rows)

    @property
    def best_metric(self) -> float:
        """The best value of the task's main validation metric (``run.metric``) so far, or NaN."""
        values = [r[self.metric] for r in self._rows if r[self.metric] == r[self.metric]]
        if not values:
            return float("nan")
        return max(values) if self.direction == "maximize" else min(values)

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
        total = self.hparams.epochs
        rate = self._last_batch.get("samples_per_sec")
        if self._rows:
            if self._last_batch.get("epoch", 0) <= self._rows[-1]["epoch"]:
                rate = self._rows[-1]["samples_per_sec"]  # the finished epoch is the newest figure
            per_epoch = sum(r["seconds"] for r in self._rows) / done
            eta = per_epoch * (total - done) if not self.done else 0.0
        else:
            eta = None
        return {"epoch": done, "epochs": total, "step": self._last_batch.get("step", 0),
                "samples_per_sec": rate, "eta_seconds": eta}

    @property
    def n_parameters(self) -> int:
        return count_parameters(self.model) if self.model is not None else 0

    def __repr__(self) -> str:
        best = self.best_metric
        best_text = f", best {self.metric}={best:.4g}" if best == best else ""
        return f"<Run {self.name!r} {self.status}, {len(self._rows)}/{self.hparams.epochs} epochs{best_text}>"

    # ---- used by the training loop -----------------------------------------------------------
    def _prepare(self, background: bool = False) -> None:
        self.device = resolve_device(self.hparams.device)
        threads = background_cpu_threads(self.device) if background else None
        self.device_label = describe_device(self.device, threads)
        torch.manual_seed(self.hparams.seed)
        self.model = build_model(self.hparams, self.data).to(self.device)

    def _train(self) -> None:
        from .trainer import TrainingLoop

        loop = None
        try:
            pin_training_thread(self.device)
            for cb in self.callbacks:
                cb.on_train_start(self)
            loop = TrainingLoop(self)
            status = loop.fit()
            loop.restore_best()
        except Exception as e:  # noqa: BLE001 - any failure becomes status 'failed', history kept
            self.error = e
            self.traceback = traceback.format_exc()
            status = "failed"
        finally:
            if loop is not None:
                loop.release()
        self._finish(status)

    def _finish(self, status: str) -> None:
        """End the run: free device memory, set the final status, call ``on_train_end``, wake waiters."""
        self._release_device_memory()
        self.ended_at = time.time()
        self._set_status(status)
        for cb in self.callbacks:
            try:
                cb.on_train_end(self)
            except Exception as e:  # noqa: BLE001
                warnings.warn(f"{type(cb).__name__}.on_train_end raised {e!r}", stacklevel=1)
        self._done.set()

    def _release_device_memory(self) -> None:
        if self.device is not None and self.device.type == "cuda" and self.model is not None:
            self.model.to("cpu")
            torch.cuda.empty_cache()

    def _set_status(self, status: str) -> None:
        self.status = status
        self.events.publish(MetricEvent(self.id, "status", len(self._rows), self._last_batch.get("step", 0),
                                        {"status": status}, time.time()))

    def _record_epoch(self, row: dict[str, Any]) -> None:
        self._rows.append(row)
        step = self._last_batch.get("step", 0)
        self.events.publish(MetricEvent(self.id, "epoch", row["epoch"], step, dict(row), time.time()))
        for cb in self.callbacks:
            cb.on_epoch_end(self, dict(row))

    def _publish_batch(self, epoch: int, step: int, running_loss: float, samples_per_sec: float) -> None:
        self._last_batch = {"epoch": epoch, "step": step, "samples_per_sec": samples_per_sec}
        self.events.publish(MetricEvent(self.id, "batch", epoch, step,
                                        {"train_loss": running_loss, "samples_per_sec": samples_per_sec},
                                        time.time()))


def check_against_data(hp: HParams, data: Data) -> None:
    """Checks that need both the hyperparameters and the data; raise before any training."""
    if data.n_train == 0 or data.n_val == 0:
        raise ValueError("data is empty: it needs at least one training and one validation sample")
    if hp.batch_size > data.n_train:
        raise ValueError(f"batch_size={hp.batch_size} is not allowed: must be >= 1 and <= the "
                         f"{data.n_train} training samples")
    if isinstance(hp.model, str) and hp.model in ("cnn", "resnet"):
        require_images(hp, data)


def check_metrics(metrics: dict[str, Callable] | None) -> dict[str, Callable]:
    """Extra validation metrics: ``{name: fn(outputs, targets) -> float}`` with identifier names."""
    if metrics is None:
        return {}
    if not isinstance(metrics, dict):
        raise ValueError(f"metrics={metrics!r} is not allowed: must be a dict of name -> fn(outputs, targets)")
    for key, fn in metrics.items():
        if not (isinstance(key, str) and key.isidentifier()) or not callable(fn):
            raise ValueError(f"metrics[{key!r}] is not allowed: keys must be identifiers and values callables "
                             f"fn(outputs, targets) -> float")
    return dict(metrics)


def train(data: Data, hparams: HParams | dict | None = None, *, background: bool = False,
          callbacks: Iterable[Callback] = (), name: str | None = None,
          metrics: dict[str, Callable] | None = None, **overrides: Any) -> Run:
    """Train a model and return its ``Run``.

    Blocks until done, or with ``background=True`` returns at once while a thread trains.
    Keyword overrides change single fields: ``tw.train(data, hp, lr=0.01)``. ``metrics`` adds
    validation metrics of your own, ``{name: fn(outputs, targets) -> float}``, as ``val_<name>``
    history columns.

    Example::

        data = tw.load_dataset("digits")
        run = tw.train(data, tw.HParams(lr=3e-3, epochs=20))
        run.status, run.history["val_accuracy"].max()
    """
    return Run(data, hparams, callbacks=callbacks, name=name, metrics=metrics, **overrides).start(background=background)
