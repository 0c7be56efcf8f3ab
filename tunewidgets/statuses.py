"""Statuses of runs, trials and sweeps: one definition that every layer uses.

A ``Status`` is a ``str``: it equals, hashes, prints, formats, stores (SQLite, JSON, Optuna's user
attributes) and reprs as its plain word, so a stored ``"completed"`` and ``Status.COMPLETED`` are the
same thing everywhere, and messages and tables read as they always have.
"""

from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    PENDING = "pending"  # made, not started
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"  # a run that trained every epoch asked for
    COMPLETE = "complete"  # a sweep trial that finished and was scored (Optuna's word for it)
    STOPPED = "stopped"  # a person (or a sweep) stopped it
    EARLY_STOPPED = "early_stopped"  # its early-stopping rule ended it
    DIVERGED = "diverged"  # its loss became NaN or infinite
    FAILED = "failed"  # an error ended it
    PRUNED = "pruned"  # a sweep's pruner cut it
    INTERRUPTED = "interrupted"  # a stored trial whose kernel or worker died while it ran
    LOADED = "loaded"  # a sweep read back from storage, not running here

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return repr(self.value)

    __format__ = str.__format__  # f"{status}" and f"{status:>10}" are the word, on every Python


FINAL_STATUSES = (Status.COMPLETED, Status.STOPPED, Status.EARLY_STOPPED, Status.DIVERGED, Status.FAILED,
                  Status.PRUNED)  # a run in one of these has ended
STOP_STATUSES = (Status.STOPPED, Status.PRUNED)  # what ``run.stop(status)`` may end a run as
SWEEP_DONE_STATUSES = (Status.COMPLETED, Status.STOPPED, Status.FAILED, Status.LOADED)  # a sweep not running
