"""What both trainer callbacks share: a ``Report`` whose "the run is over" becomes a flag, not an exception.

A report call raises ``StopTraining`` when the run was stopped, pruned or diverged. Raised inside a
library's callback it would tear the library's trainer down mid-step; the callbacks ask the trainer to
stop instead (Lightning's ``trainer.should_stop``, Hugging Face's ``control.should_training_stop``),
so it ends the way its own early stopping does, and the run's status says why.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from ..engine.fit.report import RESERVED, Report, StopTraining


def import_extra(module: str, extra: str, what: str) -> ModuleType:
    """``module`` imported, or an ``ImportError`` naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(f"{what} needs {module.split('.')[0]}, which tunewidgets does not install by itself: "
                          f"pip install 'tunewidgets[{extra}]'") from error


class ReportBridge:
    """A ``Report`` as a trainer callback uses it: each call answers whether training is to stop."""

    def __init__(self, report: Report) -> None:
        if not isinstance(report, Report):
            raise ValueError(f"TuneCallback(report) takes the report your fit(p, report) was given, "
                             f"not a {type(report).__name__}")
        self.report = report

    @property
    def ended(self) -> bool:
        return self.report.ended is not None

    def training_starts(self, *objects: Any) -> bool:
        """Watch the trainer's optimizers, schedulers and model (those not watched yet: a second
        ``trainer.fit`` in the same function brings the same ones again) and start the epoch clock.
        True: the run already ended, stop at once."""
        self.report.start_clock()
        watched = self.report.optimizers + self.report.schedulers + self.report.modules
        new = [obj for obj in objects if obj is not None and not any(obj is seen for seen in watched)]
        if new:
            self.report.watch(*new)
        return self.ended

    def step(self, **metrics: Any) -> bool:
        """One training step done: pause, live changes, the running loss. True: stop training."""
        if self.ended:
            return True
        try:
            self.report.batch(**{name: value for name, value in metrics.items() if value is not None})
        except StopTraining:
            return True
        return False

    def row(self, metrics: dict[str, Any]) -> bool:
        """One evaluation's metrics as an epoch row. True: stop training (stopped, pruned, diverged)."""
        if self.ended:
            return True
        try:
            self.report.epoch(**{name: value for name, value in metrics.items() if name not in RESERVED})
        except StopTraining:
            return True
        return False
