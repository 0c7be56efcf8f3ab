"""Trial records, the ranked results table, curves, and how both live in an Optuna study.

The table follows scikit-learn's ``cv_results_``: one row per trial, a ``rank`` column, failed
trials ranked last and kept. Each finished trial's outcome is one JSON user attribute
(``tw_result``) and its curve is also Optuna's intermediate values, so a sweep in SQLite reloads
in a fresh process with the same table and curves (and opens in optuna-dashboard).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import pandas as pd

from ..objective import Objective, Objectives
from ..statuses import Status

RESULT_ATTR = "tw_result"
SWEEP_ATTR = "tw_sweep"
RETRY_ATTR = "tw_retry_of"  # on a trial that runs an interrupted trial's hyperparameters again
_GROUP = {Status.COMPLETE: 0, Status.PRUNED: 1, Status.STOPPED: 1, Status.RUNNING: 2, Status.FAILED: 3, Status.INTERRUPTED: 3}
INTERRUPTED_CAUSE = "the process running this trial ended before it finished (no heartbeat)"
INTERRUPTED = f"{INTERRUPTED_CAUSE}; resume() runs it again"


@dataclass
class TrialRecord:
    """What the kernel knows about one trial, live or reloaded."""

    number: int
    params: dict[str, Any]
    status: str = Status.RUNNING
    value: float = math.nan
    rows: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    started: float = field(default_factory=time.time)
    extra: dict[str, Any] = field(default_factory=dict)
    reported: set = field(default_factory=set, repr=False)  # epochs already given to Optuna
    values: list[float] = field(default_factory=list)  # one per objective when a sweep has several

    def to_attr(self) -> dict[str, Any]:
        return {"status": self.status, "value": self.value, "error": self.error, "seconds": self.seconds,
                "rows": self.rows, "extra": self.extra, "values": self.values}


    def copy(self) -> "TrialRecord":
        """A snapshot another thread may read while the sweep goes on."""
        return TrialRecord(self.number, dict(self.params), self.status, self.value, list(self.rows), self.error,
                           self.seconds, self.started, dict(self.extra), set(self.reported), list(self.values))


def record_from_trial(trial: Any, metric: str) -> TrialRecord:
    """Rebuild a record from an Optuna ``FrozenTrial`` (finished by a sweep, or still running)."""
    attr = trial.user_attrs.get(RESULT_ATTR)
    started = trial.datetime_start.timestamp() if trial.datetime_start else time.time()
    if attr is not None:
        return TrialRecord(trial.number, dict(trial.params), attr["status"], _float(attr["value"]),
                           [dict(r) for r in attr["rows"]], attr["error"], attr["seconds"], started,
                           dict(attr.get("extra") or {}), set(trial.intermediate_values),
                           [_float(v) for v in attr.get("values") or []])
    # Not finished by a sweep: running elsewhere, or its process died (then failed as stale, with no
    # result written: "interrupted"), or made by other Optuna code.
    state = trial.state.name.lower()  # Optuna's state names
    status = {"complete": Status.COMPLETE, "pruned": Status.PRUNED, "fail": Status.INTERRUPTED}.get(state, Status.RUNNING)
    rows = [{"epoch": int(step), metric: v} for step, v in sorted(trial.intermediate_values.items())]
    value = trial.value if trial.value is not None else math.nan
    return TrialRecord(trial.number, dict(trial.params), status, value, rows,
                       INTERRUPTED if status == Status.INTERRUPTED else None, 0.0, started,
                       reported=set(trial.intermediate_values))


def note_rerun(records: dict[int, TrialRecord], trial: Any) -> None:
    """If ``trial`` runs an interrupted trial again, say so on the interrupted trial's record."""
    original = records.get(trial.user_attrs.get(RETRY_ATTR))
    if original is not None:
        original.error = f"{INTERRUPTED_CAUSE}; run again as trial {trial.number}"


def _float(v: Any) -> float:
    return math.nan if v is None else float(v)


def pareto_fronts(points: list[list[float]], objectives: list[Objective]) -> list[int]:
    """Each point's Pareto front, 1 for the non-dominated ones (0: a point with a missing value).

    A point dominates another when it is at least as good in every objective and better in one. The
    domination matrix is built once, in numpy (a panel ranks its table again as trials finish: pure
    Python took 0.9 s for 1,000 trials).
    """
    keys, complete = [], []
    for i, point in enumerate(points):  # smaller is better in every key; a missing value leaves the point out
        sort_keys = [o.sort_key(v) for o, v in zip(objectives, point)]
        if len(sort_keys) == len(objectives) and all(missing == 0 for missing, _ in sort_keys):
            keys.append([key for _, key in sort_keys])
            complete.append(i)
    fronts = [0] * len(points)
    if not keys:
        return fronts
    k = np.asarray(keys, dtype=float)
    dominates = (k[:, None, :] <= k[None, :, :]).all(-1) & (k[:, None, :] < k[None, :, :]).any(-1)
    left, front = np.ones(len(k), dtype=bool), 1
    while left.any():
        current = left & ~dominates[left].any(axis=0)  # dominated by no point still left
        for i in np.flatnonzero(current):
            fronts[complete[i]] = front
        left &= ~current
        front += 1
    return fronts


def best_record(records: Iterable[TrialRecord], objective: Objective) -> TrialRecord | None:
    """The best complete trial (the lowest number among equals), or None."""
    complete = [r for r in records if r.status == Status.COMPLETE and math.isfinite(r.value)]
    return min(complete, key=lambda r: (objective.sort_key(r.value), r.number)) if complete else None


def rank_order(statuses: list[str], values: list[float], objective: Objective) -> list[int]:
    """1-based ranks: complete trials by value, then pruned/stopped, running, failed; ties share a rank."""
    def key(i: int):
        return (_GROUP.get(statuses[i], 3), *objective.sort_key(values[i]))

    order = sorted(range(len(values)), key=lambda i: (key(i), i))
    ranks = [0] * len(values)
    previous, rank = None, 0
    for position, i in enumerate(order, start=1):
        k = key(i)
        if k != previous:
            rank, previous = position, k
        ranks[i] = rank
    return ranks


def param_columns(param_names: list[str], metric: str) -> dict[str, str]:
    """Table column of each parameter: its name, or ``param_<name>`` where that would clash."""
    fixed = {"rank", "trial", "status", metric, "epochs_trained", "seconds", "error"}
    return {name: f"param_{name}" if name in fixed else name for name in param_names}


def results_table(records: list[TrialRecord], param_names: list[str], objectives: Objectives) -> pd.DataFrame:
    """The ranked table, best first. Running trials show their best value so far. With several
    objectives, each has a column, ``pareto`` marks the non-dominated complete trials, and the rank
    is the Pareto front (then the first objective)."""
    objective = objectives.primary
    metric = objective.metric
    more = [(i, o) for i, o in enumerate(objectives) if i > 0 and o.metric not in ("seconds", metric)]
    now = time.time()
    columns_of = param_columns(param_names, metric)
    rows = []
    for r in records:
        running = r.status == Status.RUNNING
        seconds = r.seconds if not running else now - r.started
        # A finished trial keeps the values the driver gave it (a single objective's is ``r.value``);
        # a running one is valued so far.
        values = objectives.values(r.rows, seconds, r.extra) if running or (more and not r.values) else r.values
        row = {"trial": r.number, "status": r.status, metric: values[0] if running else r.value,
               "epochs_trained": len(r.rows), "seconds": seconds}
        row.update({o.metric: values[i] for i, o in more})
        row.update({columns_of[name]: r.params.get(name) for name in param_names})
        # scalars only: a population member's whole lineage stays in its record
        row.update({k: v for k, v in r.extra.items() if k not in row and not isinstance(v, (list, dict))})
        row["error"] = r.error or ""
        rows.append(row)
    first = ["rank", "trial", "status", metric, *[o.metric for _, o in more]]
    columns = [*first, "epochs_trained", "seconds", *columns_of.values()]
    if not rows:
        return pd.DataFrame(columns=columns + ["error"])
    table = pd.DataFrame(rows)
    ranks = rank_order(list(table["status"]), list(table[metric]), objective)
    if objectives.several:
        points = [[row[o.metric] for o in objectives] if row["status"] == Status.COMPLETE else [math.nan] for row in rows]
        fronts = pareto_fronts(points, objectives)
        table.insert(3, "pareto", [f == 1 for f in fronts])
        first.insert(3, "pareto")
        columns.insert(3, "pareto")
        order = sorted(range(len(rows)), key=lambda i: (fronts[i] == 0, fronts[i], ranks[i]))
        ranks = [0] * len(rows)
        for position, i in enumerate(order, start=1):
            ranks[i] = position
    table.insert(0, "rank", ranks)
    table = table.sort_values(["rank", "trial"], kind="stable").reset_index(drop=True)
    extra = [c for c in table.columns if c not in columns and c != "error"]
    return table[columns + extra + ["error"]]


def curves_table(records: list[TrialRecord]) -> pd.DataFrame:
    """Every trial's epochs in one long frame: ``trial``, ``status`` and the history columns."""
    frames = [pd.DataFrame(r.rows).assign(trial=r.number, status=r.status) for r in records if r.rows]
    if not frames:
        return pd.DataFrame(columns=["trial", "status", "epoch"])
    out = pd.concat(frames, ignore_index=True)
    first = ["trial", "status", "epoch"]
    return out[first + [c for c in out.columns if c not in first]]
