"""Objective: which metric counts, in which direction, and so which value is better.

Every place that ranks, prunes or picks a "best" asks one ``Objective``: a run's best epoch, a
sweep's best trial, the ranked table, the Optuna study's direction. It is a plain value object
(stdlib only) so that the engine, the sweeps and the widgets share it without importing each other.

Example::

    obj = Objective("val_loss")            # direction inferred: minimize
    obj.better(0.2, 0.3)                   # True
    obj.best([0.4, float("nan"), 0.2])     # 0.2
    Objective.default("classification")    # Objective('val_accuracy', 'maximize')
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

DIRECTIONS = ("maximize", "minimize")
# Metric names ending like these are errors to make small; anything else is a score to make large.
MINIMIZED_SUFFIXES = ("loss", "mse", "mae", "seconds", "params")
# The metrics every history row carries, per task (``val_<name>`` columns of custom metrics add to them).
BUILT_IN_METRICS = {"classification": ("val_accuracy", "val_f1", "val_recall", "val_loss", "train_loss"),
                    "regression": ("val_loss", "val_mse", "val_mae", "val_r2", "train_loss")}
DEFAULT_METRIC = {"classification": "val_accuracy", "regression": "val_loss"}
# A training function's metric names whose direction is inferred from a word of the name (its last
# one first: ``val_top1_acc`` is maximized, ``recon_loss`` minimized); any other name needs direction=.
MAXIMIZED_WORDS = ("accuracy", "acc", "f1", "auc", "auroc", "auprc", "r2", "precision", "recall", "score",
                   "iou", "dice", "bleu", "rouge", "map", "reward", "return", "elbo")
MINIMIZED_WORDS = ("loss", "error", "err", "mse", "mae", "rmse", "nll", "perplexity", "ppl", "wer", "cer",
                   "kl", "seconds", "params")
# Objectives that are not history metrics: a trial's model size and its training time (both minimized).
COST_OBJECTIVES = ("params", "seconds")


def is_finite_number(value: Any) -> bool:
    """True for an int or float (not a bool) that is neither NaN nor infinite."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def inferred_direction(metric: str) -> str | None:
    """"maximize" or "minimize" from the words of ``metric`` (the last word first), or None."""
    for word in reversed(metric.lower().replace("-", "_").split("_")):
        if word in MINIMIZED_WORDS:
            return "minimize"
        if word in MAXIMIZED_WORDS:
            return "maximize"
    return None


@dataclass(frozen=True)
class Objective:
    """A metric and its direction; ``direction`` None infers it from the name (``*loss`` minimizes)."""

    metric: str
    direction: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or not self.metric:
            raise ValueError(f"metric={self.metric!r} is not allowed: must be a metric name such as 'val_accuracy'")
        if self.direction is None:
            inferred = "minimize" if self.metric.endswith(MINIMIZED_SUFFIXES) else "maximize"
            object.__setattr__(self, "direction", inferred)
        elif self.direction not in DIRECTIONS:
            raise ValueError(f"direction={self.direction!r} is not allowed: must be 'maximize' or 'minimize'")

    @classmethod
    def default(cls, task: str) -> "Objective":
        """The objective a run or sweep on ``task`` data optimizes unless told otherwise."""
        return cls(DEFAULT_METRIC[task])

    @classmethod
    def for_task(cls, task: str, metric: str | None = None, direction: str | None = None,
                 custom_metrics: Iterable[str] = ()) -> "Objective":
        """The objective of a torch sweep: ``metric`` must be a history column of ``task`` runs (custom
        metrics ``name`` give ``val_<name>``), or ``params`` / ``seconds`` (the model's size, the trial's
        time); a ``ValueError`` lists the allowed ones."""
        objective = cls(metric or DEFAULT_METRIC[task], direction)
        allowed = BUILT_IN_METRICS[task] + tuple(f"val_{name}" for name in custom_metrics) + COST_OBJECTIVES
        if objective.metric not in allowed:
            raise ValueError(f"metric={objective.metric!r} is not allowed for {task}: must be one of {allowed}")
        return objective

    @classmethod
    def named(cls, metric: str, direction: str | None = None) -> "Objective":
        """The objective of a training function's run or sweep: any name it reports. Without
        ``direction`` it is inferred from a word of the name (loss, error: minimize; accuracy, f1:
        maximize) and asked for when no word says."""
        if direction is None and isinstance(metric, str) and metric:
            direction = inferred_direction(metric)
            if direction is None:
                raise ValueError(f"metric={metric!r} needs direction='maximize' or 'minimize': its direction is "
                                 f"inferred only from names such as val_loss, error, accuracy or f1")
        return cls(metric, direction)

    @property
    def maximize(self) -> bool:
        return self.direction == "maximize"

    def better(self, a: float, b: float) -> bool:
        """True when ``a`` is strictly better than ``b`` (a finite value beats NaN)."""
        if not is_finite_number(a):
            return False
        if not is_finite_number(b):
            return True
        return a > b if self.maximize else a < b

    def best(self, values: Iterable[Any]) -> float:
        """The best finite value of ``values``, or NaN when there is none."""
        finite = [float(v) for v in values if is_finite_number(v)]
        if not finite:
            return math.nan
        return max(finite) if self.maximize else min(finite)

    def best_of_rows(self, rows: Iterable[dict[str, Any]]) -> float:
        """The best value of this metric over history rows (one per epoch)."""
        return self.best(row.get(self.metric) for row in rows)

    def trial_value(self, rows: Iterable[dict[str, Any]], seconds: float, costs: dict[str, Any]) -> float:
        """A trial's value: the best over its epochs, or for a cost objective its time (``seconds``)
        or its model's size (``costs["params"]``)."""
        if self.metric == "seconds":
            return seconds
        if self.metric == "params":
            params = costs.get("params")
            return math.nan if params is None else float(params)
        return self.best_of_rows(rows)

    def sort_key(self, value: Any) -> tuple[int, float]:
        """Ascending key: better values first, non-finite values last."""
        if not is_finite_number(value):
            return (1, 0.0)
        return (0, -float(value) if self.maximize else float(value))

    def to_dict(self) -> dict[str, str]:
        return {"metric": self.metric, "direction": str(self.direction)}

    def __repr__(self) -> str:
        return f"Objective({self.metric!r}, {self.direction!r})"


class HasObjective:
    """``metric`` and ``direction`` of whatever holds an ``objective`` (a run, a sweep)."""

    objective: Objective

    @property
    def metric(self) -> str:
        """The metric that decides what is best (e.g. ``val_accuracy``)."""
        return self.objective.metric

    @property
    def direction(self) -> str:
        return str(self.objective.direction)


@dataclass(frozen=True)
class Objectives:
    """A sweep's objectives, in order: the first (``primary``) ranks the table, feeds the pruner and
    names the best; with more than one the sweep also keeps a Pareto front. Built once, so every
    place that values a trial values it the same way.

    Example::

        objs = Objectives.of([Objective("val_accuracy"), Objective("params")])
        objs.primary.metric        # 'val_accuracy'
        objs.several               # True: Optuna takes one direction per objective
        objs.values(rows, seconds=3.2, costs={"params": 1200})   # [0.93, 1200.0]
    """

    items: tuple[Objective, ...]

    def __post_init__(self) -> None:
        if not self.items:
            raise ValueError("objectives is empty: a sweep needs at least one objective")

    @classmethod
    def of(cls, objectives: "Objectives | Objective | Iterable[Objective]") -> "Objectives":
        if isinstance(objectives, Objectives):
            return objectives
        return cls((objectives,) if isinstance(objectives, Objective) else tuple(objectives))

    @classmethod
    def from_dicts(cls, stored: list[dict[str, str]]) -> "Objectives":
        return cls(tuple(Objective(o["metric"], o["direction"]) for o in stored))

    @property
    def primary(self) -> Objective:
        return self.items[0]

    @property
    def several(self) -> bool:
        return len(self.items) > 1

    @property
    def directions(self) -> list[str]:
        return [str(o.direction) for o in self.items]

    @property
    def reported_each_epoch(self) -> bool:
        """Whether a trial's epochs give Optuna intermediate values (for pruners): one objective that
        is a history metric. Optuna takes none with several objectives; costs have none."""
        return not self.several and self.primary.metric not in COST_OBJECTIVES

    def values(self, rows: Iterable[dict[str, Any]], seconds: float, costs: dict[str, Any]) -> list[float]:
        """A finished trial's value for each objective, from its history rows and its costs."""
        rows = list(rows)
        return [o.trial_value(rows, seconds, costs) for o in self.items]

    def to_dicts(self) -> list[dict[str, str]]:
        return [o.to_dict() for o in self.items]

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Objective:
        return self.items[index]
