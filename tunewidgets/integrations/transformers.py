"""A Hugging Face ``Trainer`` inside your ``fit(p, report)``, watched and steered like any run.

    from tunewidgets.integrations.transformers import TuneCallback

    def fit(p, report):
        args = TrainingArguments(..., learning_rate=p.lr, eval_strategy="epoch")
        Trainer(model, args, ..., callbacks=[TuneCallback(report)]).train()

Each evaluation during training is one epoch row: Hugging Face's ``eval_*`` metrics under the names
the panels use (``eval_loss`` is ``val_loss``, ``eval_accuracy`` is ``val_accuracy``; its timings
are left out), with ``loss``, the mean of the training losses logged since the previous row. Without
evaluation (``eval_strategy="no"``) each training log is a row. Between two steps a paused run holds,
live lr / weight decay / momentum act on the optimizer, live dropout on the model's dropout layers;
a new lr rescales the scheduler's base rates, so its next step keeps the new rate (decayed as the
schedule goes on) instead of overwriting it. A stopped, pruned or diverged run ends through
``control.should_training_stop``.
"""

from __future__ import annotations

import statistics
from typing import Any

from .bridge import ReportBridge, import_extra

transformers = import_extra("transformers", "transformers", "tunewidgets.integrations.transformers")

TIMINGS = ("runtime", "samples_per_second", "steps_per_second", "jit_compilation_time")


def panel_names(metrics: dict[str, Any]) -> dict[str, Any]:
    """An evaluation's metrics as row values: ``eval_x`` as ``val_x``, timings and ``epoch`` dropped."""
    row = {}
    for name, value in metrics.items():
        if name == "epoch" or name.endswith(TIMINGS):
            continue
        row["val_" + name[len("eval_"):] if name.startswith("eval_") else name] = value
    return row


def unwrapped(obj: Any, attribute: str) -> Any:
    """The torch optimizer or scheduler inside Accelerate's wrapper (the scheduler holds the inner
    optimizer, so both must be the inner ones for a live lr to reach the schedule)."""
    return getattr(obj, attribute, obj) if obj is not None else None


class TuneCallback(transformers.TrainerCallback):
    """Connects a Hugging Face ``Trainer`` to your run: ``callbacks=[TuneCallback(report)]``."""

    def __init__(self, report: Any) -> None:
        self.bridge = ReportBridge(report)
        self._losses: list[float] = []  # training losses logged since the last row
        self._latest_loss: float | None = None  # shown on the live plots at the next step
        self._training = False

    def _row(self, control: Any, row: dict[str, Any]) -> None:
        if self._losses:
            row = {"loss": statistics.fmean(self._losses), **row}
            self._losses = []
        if self.bridge.row(row):
            control.should_training_stop = True

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, optimizer: Any = None,
                       lr_scheduler: Any = None, **kwargs: Any) -> None:
        self._training = True
        if self.bridge.training_starts(unwrapped(optimizer, "optimizer"), unwrapped(lr_scheduler, "scheduler"), model):
            control.should_training_stop = True

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._training = False

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        loss, self._latest_loss = self._latest_loss, None
        if self.bridge.step(loss=loss):
            control.should_training_stop = True

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if not self._training or not logs or "loss" not in logs:
            return
        self._latest_loss = logs["loss"]
        self._losses.append(logs["loss"])
        if args.eval_strategy == "no":
            self._row(control, {})

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict[str, Any] | None = None,
                    **kwargs: Any) -> None:
        if self._training:  # an evaluation after training (trainer.evaluate()) is no epoch
            self._row(control, panel_names(metrics or {}))
