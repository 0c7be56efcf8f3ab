"""Helpers the benchmarks share, one copy each, so every benchmark times and compares the same way.

Imported as ``from common import ...``: the benchmarks run as scripts (``python benchmarks/bench_x.py``),
which puts this folder first on ``sys.path``.
"""

from __future__ import annotations

import time

import optuna

import tunewidgets as tw


def timed(fn):
    """``(seconds, result)`` of calling ``fn()``, on the wall clock (``time.perf_counter``): every
    benchmark reports the same kind of seconds."""
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def plain_optuna(data, space, base, suggest):
    """What one writes by hand with Optuna, the reference a sweep's overhead is measured against: a
    grid study over ``space`` whose objective trains ``base`` with the values ``suggest(trial)`` asks
    for (a dict of HParams fields). Returns the best value."""
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.GridSampler(space.grid_values()))

    def objective(trial):
        return tw.train(data, base.replace(**suggest(trial))).best_metric

    study.optimize(objective, n_trials=space.grid_size)
    return study.best_value
