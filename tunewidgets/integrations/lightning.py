"""A Lightning ``Trainer`` inside your ``fit(p, report)``, watched and steered like any run.

    from tunewidgets.integrations.lightning import TuneCallback

    def fit(p, report):
        trainer = L.Trainer(max_epochs=p.epochs, callbacks=[TuneCallback(report)], ...)
        trainer.fit(MyModule(lr=p.lr), train_loader, val_loader)

Each validation (the sanity check aside) is one epoch row of ``trainer.callback_metrics``. A
validation at an epoch's end waits for that epoch's training aggregates (``train_loss_epoch``), which
Lightning computes after validating; a validation within an epoch (``val_check_interval < 1``) is a
row of the validation's own metrics (Lightning still holds the previous epoch's training aggregates,
which would repeat). Without validation, each training epoch is a row. Within an
epoch the training loss streams to the live plots, a paused run holds between two steps, live lr /
weight decay / momentum act on ``trainer.optimizers`` and their schedulers, live dropout on the
module's dropout layers. A stopped, pruned or diverged run ends through ``trainer.should_stop``.

The callback derives from the ``Callback`` of both ``lightning.pytorch`` and ``pytorch_lightning``
when both are installed, so either package's ``Trainer`` takes it.
"""

from __future__ import annotations

import importlib
from typing import Any

from .bridge import ReportBridge, import_extra

WHAT = "tunewidgets.integrations.lightning"


def _callback_bases() -> tuple[type, ...]:
    """The ``Callback`` class of each Lightning package installed (at least one, or an ImportError)."""
    bases = []
    for package in ("lightning.pytorch", "pytorch_lightning"):
        try:
            bases.append(importlib.import_module(package).Callback)
        except ImportError:
            continue
    if not bases:
        import_extra("lightning.pytorch", "lightning", WHAT)  # raises, naming the extra
    return tuple(bases)


def training_loss(outputs: Any) -> Any:
    """The loss a ``training_step`` returned: a tensor, or a mapping's ``loss`` (None for neither)."""
    if isinstance(outputs, dict):
        return outputs.get("loss")
    return outputs if hasattr(outputs, "item") else None


class TuneCallback(*_callback_bases()):
    """Connects a Lightning ``Trainer`` to your run: ``callbacks=[TuneCallback(report)]``."""

    def __init__(self, report: Any) -> None:
        self.bridge = ReportBridge(report)
        self._row_at_epoch_end = False
        self._validation_keys: set[str] = set()  # the metrics validation logs (first seen during one)
        self._keys_before: set[str] = set()

    def _stop_if(self, trainer: Any, stop: bool) -> None:
        if stop:
            trainer.should_stop = True

    def _row(self, trainer: Any, only: set[str] | None = None) -> None:
        metrics = {name: value for name, value in trainer.callback_metrics.items() if only is None or name in only}
        self._stop_if(trainer, self.bridge.row(metrics))

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        schedulers = [config.scheduler for config in trainer.lr_scheduler_configs]
        self._stop_if(trainer, self.bridge.training_starts(*trainer.optimizers, *schedulers, pl_module))

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        self._stop_if(trainer, self.bridge.step(loss=training_loss(outputs)))

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        self._keys_before = set(trainer.callback_metrics)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        self._validation_keys |= set(trainer.callback_metrics) - self._keys_before
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return
        if trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            self._row_at_epoch_end = True  # the epoch's training aggregates exist only at its end
        else:
            self._row(trainer, only=self._validation_keys)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self._row_at_epoch_end or not trainer.enable_validation:
            self._row_at_epoch_end = False
            self._row(trainer)
