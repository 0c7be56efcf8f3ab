"""SweepTable: a sweep's trials, ranked best first, in the run-history table's grid.

Re-ranking rewrites cells in place (only changed cells reach the page). Finished trials mark the
table stale and show at the next tick; running trials' elapsed times refresh about once a second.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

from ...sweeps.results import param_columns
from ..base.history import RunHistoryTable
from .format import sweep_cells, sweep_header

REFRESH = 1.0  # seconds between refreshes while trials run (a finished trial refreshes at once)


class SweepTable(RunHistoryTable):
    """One row per trial of a sweep over ``params``; ``trials[i]`` is the trial number of row ``i``."""

    def __init__(self, metric: str, params: Sequence[str], **kwargs: Any) -> None:
        self.metric, self.params = metric, list(params)
        self.trials: list[int] = []
        self.stale = True
        self._shown_at = 0.0
        super().__init__(header=sweep_header(metric, self.params),
                         columns=f"75px 45px 80px 120px 60px 55px repeat({len(self.params)}, auto) auto",
                         tooltip="load this trial's hyperparameters into the linked TrainPanel", **kwargs)
        self.add_class("tw-sweep-table")

    def due(self, running: bool) -> bool:
        """Whether the next tick should ``show`` the sweep again."""
        return self.stale or (running and time.monotonic() - self._shown_at >= REFRESH)

    def show(self, sweep: Any) -> Any:
        """Show ``sweep.table()`` as it is now; return that table (others may draw from it)."""
        table = sweep.table()
        rows = table.to_dict("records")
        columns = param_columns(self.params, self.metric)
        self.trials = [int(r["trial"]) for r in rows]
        self.set_rows([sweep_cells(r, self.metric, self.params, columns) for r in rows])
        self.stale = False
        self._shown_at = time.monotonic()
        return table
