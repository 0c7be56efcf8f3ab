"""Pure conversions of run events and history rows into plot points (no widgets, no Bokeh).

Bokeh draws NaN as a gap and JSON cannot carry infinity, so every value is made finite or NaN here.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

from ...engine.control.events import MetricEvent


def finite_or_nan(x: Any) -> float:
    """``x`` as a float, or NaN when it is missing, not a number, or infinite."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return float("nan")
    return x if math.isfinite(x) else float("nan")


def split_events(events: list[MetricEvent], metric: str | None) -> tuple[dict[str, list], dict[str, list], str | None]:
    """Turn events into column batches for the curves: ``(epoch_rows, batch_rows, last_status)``.

    Batch points sit at the fractional epoch their event carries (``at``); epoch rows carry the train
    and validation loss and ``metric``.
    """
    batches: dict[str, list] = {"epoch": [], "train_loss": []}
    status = None
    for e in events:
        if e.kind == "batch":
            batches["epoch"].append(float(e.values["at"]))
            batches["train_loss"].append(finite_or_nan(e.values.get("train_loss")))
        elif e.kind == "status":
            status = e.values.get("status")
    epochs = history_columns((e.values for e in events if e.kind == "epoch"), metric)  # an epoch event is its row
    return epochs, batches, status


def epoch_points(rows: Iterable[dict[str, Any]], metric: str, after: int = 0) -> list[tuple[int, float]]:
    """``(epoch, metric)`` of the history rows past epoch ``after``, in order."""
    points = [(int(row["epoch"]), finite_or_nan(row.get(metric))) for row in rows]
    return [p for p in points if p[0] > after]


def history_columns(rows: Iterable[dict[str, Any]], metric: str | None) -> dict[str, list]:
    """History rows as the curves' epoch columns (a stored run's history, a parent's last epoch)."""
    rows = list(rows)
    return {"epoch": [int(r["epoch"]) for r in rows],
            "train_loss": [finite_or_nan(r.get("train_loss", r.get("loss"))) for r in rows],  # a fit's: loss
            "val_loss": [finite_or_nan(r.get("val_loss")) for r in rows],
            "metric": [finite_or_nan(r.get(metric)) if metric else math.nan for r in rows]}
