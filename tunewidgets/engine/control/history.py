"""A run's history as a table: one row per finished epoch, indexed by epoch.

``Run.history`` and a sweep's stored trials (``sweep.histories()``) show the same shape from the same
rows, so code that reads one reads the other.
"""

from __future__ import annotations

from typing import Any, Iterable

import pandas as pd

EMPTY_COLUMNS = ["epoch", "train_loss", "val_loss"]  # what an empty history still names


def epoch_table(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """The rows as a frame indexed by epoch (the column kept too); an empty one names the loss columns."""
    rows = list(rows)
    if not rows:
        return pd.DataFrame(columns=EMPTY_COLUMNS)
    return pd.DataFrame(rows).set_index("epoch", drop=False)
