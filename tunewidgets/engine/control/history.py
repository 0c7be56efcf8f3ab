"""A run's history: the numbers its rows hold, and the table of them, one row per finished epoch.

``Run.history`` and a sweep's stored trials (``sweep.histories()``) show the same shape from the same
rows, so code that reads one reads the other.
"""

from __future__ import annotations

from typing import Any, Iterable

import pandas as pd
import torch

EMPTY_COLUMNS = ["epoch", "train_loss", "val_loss"]  # what an empty history still names


def epoch_table(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """The rows as a frame indexed by epoch (the column kept too); an empty one names the loss columns."""
    rows = list(rows)
    if not rows:
        return pd.DataFrame(columns=EMPTY_COLUMNS)
    return pd.DataFrame(rows).set_index("epoch", drop=False)


def as_number(name: str, value: Any, said: str = "was reported as", advice: str = "report numbers") -> float:
    """A user's metric value as a float (a number, a one-element tensor or NumPy scalar); otherwise
    an error naming the metric and showing what it got: ``metric 'mood' <said> 'good': <advice>``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value.item())
    item = getattr(value, "item", None)  # a NumPy scalar
    if callable(item) and getattr(value, "size", 0) == 1:
        return float(item())
    shown = repr(value) if len(repr(value)) < 60 else f"a {type(value).__name__}"
    raise ValueError(f"metric {name!r} {said} {shown}: {advice} (a float or a one-element tensor)")
