"""Tuning scikit-learn estimators with cross-validation, into the same ``Sweep`` as torch models.

Each trial clones the estimator, sets its parameters and scores it fold by fold on the same splits
``GridSearchCV`` uses; every fold is reported (so pruning and live curves work), and a parameter
combination the estimator rejects becomes a failed trial with the estimator's own message.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from ..objective import Objective, Objectives
from ..space import Dimension, Space
from .launch import launch
from .protocol import Channel, Trial, TrialResult
from .spec import ESTIMATOR, LaunchPlan, SweepSpec
from .study import Sweep
from ..statuses import Status

METRIC = "mean_test_score"


@dataclass
class CVTrial(Trial):
    """Cross-validate ``estimator`` with a trial's parameters; the value is the mean test score."""

    estimator: Any
    X: Any
    y: Any
    cv: Any = 5
    scoring: Any = None

    def __call__(self, number: int, params: dict[str, Any], channel: Channel) -> TrialResult:
        import numpy as np
        from sklearn.base import clone, is_classifier
        from sklearn.metrics import check_scoring
        from sklearn.model_selection import check_cv
        from sklearn.utils import _safe_indexing

        started = time.perf_counter()
        estimator = clone(self.estimator).set_params(**params)
        cv = check_cv(self.cv, self.y, classifier=is_classifier(estimator))
        scorer = check_scoring(estimator, scoring=self.scoring)
        scores: list[float] = []
        rows: list[dict[str, Any]] = []
        for fold, (train, test) in enumerate(cv.split(self.X, self.y), start=1):
            stop = channel.stop_status(number)
            if stop:
                return TrialResult(stop, float(np.mean(scores)) if scores else math.nan, rows,
                                   seconds=time.perf_counter() - started)
            t0 = time.perf_counter()
            model = clone(estimator).fit(_safe_indexing(self.X, train), _safe_indexing(self.y, train))
            fit_time = time.perf_counter() - t0
            scores.append(float(scorer(model, _safe_indexing(self.X, test), _safe_indexing(self.y, test))))
            row = {"epoch": fold, "test_score": scores[-1], METRIC: float(np.mean(scores)), "fit_time": fit_time}
            rows.append(row)
            channel.send(number, row)
        return TrialResult(Status.COMPLETED, float(np.mean(scores)), rows, seconds=time.perf_counter() - started,
                           extra={"std_test_score": float(np.std(scores))})


def _as_space(estimator: Any, grid: Any) -> Space:
    if isinstance(grid, Space):
        space = grid
    elif isinstance(grid, dict):
        space = Space.free(**grid)
    else:
        raise ValueError(f"param_grid_or_space={type(grid).__name__} is not allowed: must be a dict of "
                         f"parameter -> list of values (or tw dimensions), or a tw.Space.free(...)")
    known = estimator.get_params(deep=True)
    for name in space.names:
        if name not in known:
            raise ValueError(f"{name!r} is not a parameter of {type(estimator).__name__}: "
                             f"its parameters are {sorted(known)}")
    for name, dim in space.dims.items():
        if not isinstance(dim, Dimension):  # pragma: no cover - Space guarantees it
            raise ValueError(f"{name}: not a dimension")
    return space


def sweep_estimator(estimator: Any, param_grid_or_space: Any, X: Any, y: Any, cv: Any = 5, scoring: Any = None,
                    strategy: Any = "grid", n_trials: int | None = None, pruner: Any = None,
                    executor: Any = "thread", storage: Any = None, name: str | None = None,
                    seed: int | None = None, background: bool = False) -> Sweep:
    """Tune a scikit-learn estimator with cross-validation; returns a ``Sweep`` (metric ``mean_test_score``).

    Example::

        sw = tw.sweep_estimator(LogisticRegression(solver="liblinear"),
                                {"C": [0.01, 0.1, 1, 10], "penalty": ["l1", "l2"]}, X, y, cv=5)
        sw.table()          # invalid combinations are failed rows with the estimator's message
        sw.best             # {'C': 1, 'penalty': 'l2'}
    """
    if not (hasattr(estimator, "fit") and hasattr(estimator, "get_params")):
        raise ValueError(f"estimator={estimator!r} is not allowed: must be a scikit-learn estimator (fit, get_params)")
    space = _as_space(estimator, param_grid_or_space)
    spec = SweepSpec(space, Objectives.of(Objective(METRIC, "maximize")), ESTIMATOR, seed=seed,
                     about={"estimator": repr(estimator), "cv": repr(cv), "scoring": repr(scoring)})
    plan = LaunchPlan(strategy, n_trials, pruner, executor, storage=storage, name=name, background=background)
    return launch(CVTrial(estimator, X, y, cv, scoring), spec, plan)
