"""Optuna's log lines while sweeps run quietly.

Optuna prints one INFO line per finished trial; under a widget they would flood the cell. A quiet
sweep lowers Optuna's verbosity to WARNING while it runs (warnings still show) and puts it back when
the last quiet sweep ends. Optuna's verbosity is process-wide, hence the count.
"""

from __future__ import annotations

import threading

import optuna

_lock = threading.Lock()
_quiet_sweeps = 0
_level_before: int | None = None


def quiet_begin() -> None:
    """A quiet sweep starts: at most WARNING from Optuna until the matching ``quiet_end()``."""
    global _quiet_sweeps, _level_before
    with _lock:
        if _quiet_sweeps == 0:
            _level_before = optuna.logging.get_verbosity()
            optuna.logging.set_verbosity(max(_level_before, optuna.logging.WARNING))
        _quiet_sweeps += 1


def quiet_end() -> None:
    """A quiet sweep ended: the last one restores the verbosity seen before the first."""
    global _quiet_sweeps, _level_before
    with _lock:
        if _quiet_sweeps == 0:
            return
        _quiet_sweeps -= 1
        if _quiet_sweeps == 0 and _level_before is not None:
            optuna.logging.set_verbosity(_level_before)
            _level_before = None
