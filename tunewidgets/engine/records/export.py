"""Runs as tables and files: one row per run, or one row per (run, epoch), to CSV or JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from ..run import Run


def _hparam_columns(run: Run) -> dict[str, Any]:
    return run.hparams_dict()


def strict_json(value: Any) -> Any:
    """``value`` with NaN and infinities as ``null`` (strict JSON has no such numbers) and anything
    else JSON cannot hold as its text."""
    if isinstance(value, dict):
        return {str(k): strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    item = getattr(value, "item", None)  # numpy scalars
    return strict_json(item()) if callable(item) else str(value)


def summary_frame(runs: Iterable[Run]) -> pd.DataFrame:
    """One row per run: name, status, hyperparameters, best metric, epochs and seconds."""
    rows = []
    for run in runs:
        rows.append({"run": run.name, "status": run.status, **_hparam_columns(run),
                     "metric": run.metric, "best": run.best_metric, "epochs_done": run.epochs_done,
                     "seconds": round(run.elapsed, 3), "error": repr(run.error) if run.error else ""})
    return pd.DataFrame(rows)


def history_frame(runs: Iterable[Run]) -> pd.DataFrame:
    """The histories of many runs in one long table, with each run's name and hyperparameters."""
    parts = []
    for run in runs:
        h = run.history.reset_index(drop=True)
        if len(h):
            parts.append(h.assign(run=run.name, status=run.status,
                                  **{k: [v] * len(h) for k, v in _hparam_columns(run).items()}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def export_runs(runs: Iterable[Run], path: str | Path) -> Path:
    """Write runs to ``.csv`` (long history table) or ``.json`` (runs with nested histories)."""
    runs = list(runs)
    path = Path(path)
    if path.suffix == ".csv":
        history_frame(runs).to_csv(path, index=False)
    elif path.suffix == ".json":
        records = [{"run": r.name, "status": r.status, "hparams": _hparam_columns(r), "metric": r.metric,
                    "best": r.best_metric, "history": r.history_rows()} for r in runs]
        path.write_text(json.dumps(strict_json(records), indent=1, allow_nan=False))
    else:
        raise ValueError(f"path={str(path)!r} is not allowed: the suffix must be .csv or .json")
    return path
