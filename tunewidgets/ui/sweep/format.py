"""Pure text for the sweep panel: the progress line, its ETA, and the ranked table's cells.

Kept apart from widgets and sweeps (plain dicts in, strings out) so every string is unit-tested.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from ..base.format import SEP, format_duration, format_eta, format_value
from ...statuses import Status


def sweep_eta(progress: Mapping[str, Any]) -> float | None:
    """Seconds left, from the average wall time per finished trial so far; None before the first ends.

    Parallel executors finish several trials per wall interval, which this average already holds.
    """
    done, total = int(progress.get("done", 0)), int(progress.get("n_trials", 0))
    elapsed = progress.get("elapsed") or 0.0
    if total <= done:
        return 0.0
    if done <= 0 or not math.isfinite(elapsed) or elapsed <= 0:
        return None
    return elapsed / done * (total - done)


def format_sweep_progress(progress: Mapping[str, Any], status: str) -> str:
    """E.g. ``3/6 trials · 1 running · 1 pruned · 0 failed · ETA 0:12``.

    A sweep that is not running shows its status (completed, stopped, failed) instead of the ETA, and
    one still getting ready says what it does (``starting 2 Dask workers``).
    """
    parts = [f"{progress.get('done', 0)}/{progress.get('n_trials', 0)} trials",
             f"{progress.get('running', 0)} running", f"{progress.get('pruned', 0)} pruned",
             f"{progress.get('failed', 0)} failed"]
    for ended in (Status.STOPPED, Status.INTERRUPTED):
        if progress.get(ended):
            parts.append(f"{progress[ended]} {ended}")
    if status == Status.RUNNING:
        parts.append(progress.get("note") or f"ETA {format_eta(sweep_eta(progress))}")
    else:
        parts.append(status)
    return SEP.join(parts)


def format_best(metric: str, value: float | None, trial: int | None) -> str:
    """``best val_accuracy 0.9611 (trial 3)``, or nothing before a trial completes."""
    if value is None or not math.isfinite(value):
        return ""
    return f"best {metric} {value:.4f}" + (f" (trial {trial})" if trial is not None else "")


def sweep_header(metric: str, params: Sequence[str]) -> list[str]:
    """Column titles of the ranked table; the first column is the row's button."""
    return ["trial", "rank", "status", metric, "epochs", "time", *[p.replace("_", " ") for p in params], "error"]


def sweep_cells(row: Mapping[str, Any], metric: str, params: Sequence[str],
                param_columns: Mapping[str, str] | None = None) -> list[str]:
    """One row of the ranked table (a row of ``Sweep.table()`` as a dict), in the order of ``sweep_header``.

    ``param_columns`` maps a parameter to its table column where they differ (``param_<name>``).
    """
    columns = param_columns or {}
    value = row.get(metric)
    value_text = f"{value:.4f}" if isinstance(value, (int, float)) and math.isfinite(value) else ""
    error = str(row.get("error") or "")
    if len(error) > 80:
        error = error[:77] + "..."
    cells = [f"trial {row['trial']}", str(row.get("rank", "")), str(row.get("status", "")), value_text,
             str(row.get("epochs_trained", "")), format_duration(row.get("seconds"))]
    return cells + param_texts(row, params, columns) + [error]


def param_texts(row: Mapping[str, Any], params: Sequence[str], param_columns: Mapping[str, str] | None = None
                ) -> list[str]:
    """A table row's hyperparameter values, each as the table shows it."""
    columns = param_columns or {}
    return [format_value(_plain(row.get(columns.get(p, p)))) for p in params]


def _plain(value: Any) -> Any:
    """numpy scalars from a DataFrame row as Python numbers (so floats format as floats)."""
    item = getattr(value, "item", None)
    return item() if callable(item) and not isinstance(value, (str, bytes)) else value


def format_space_error(field: str, message: str) -> str:
    """The space editor's message for a bad row: the field first, then what is allowed."""
    message = message.strip()
    return message if message.startswith(f"{field}:") or message.startswith(f"{field}=") else f"{field}: {message}"
