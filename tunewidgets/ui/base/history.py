"""The run-history table: one row per run, and a ``selected`` row to load hyperparameters from.

Plain ipywidgets (a grid of labels, the run name a button) so that it renders in any front-end
and rows update in place while a run trains. The same table shows a sweep's ranked trials: pass
your own ``header`` and write rows of cells with ``set_rows`` (re-ranking rewrites cells in place).
"""

from __future__ import annotations

from html import escape
from typing import Any

import ipywidgets as widgets
from traitlets import Int

from .format import history_cells, history_header

CELL = widgets.Layout(overflow="hidden", margin="0 6px 0 0")


class RunHistoryTable(widgets.VBox):
    """Rows of ``(name, status, best metric, time, hyperparameters...)``; click a run name to select it.

    ``header`` and ``columns`` (a CSS grid template) replace the run columns for other tables.
    ``shown`` keeps widgets for the latest that many rows only (a "Show earlier rows" button adds
    more): every row costs about a dozen widgets, so a panel opening thousands of stored runs would
    otherwise spend seconds building rows no one scrolls to. Every row's cells are kept either way.
    """

    selected = Int(-1)

    def __init__(self, metric: str = "val_accuracy", header: list[str] | None = None, columns: str | None = None,
                 tooltip: str = "load these hyperparameters into the controls", shown: int | None = None,
                 **kwargs: Any) -> None:
        self.header = list(header) if header is not None else history_header(metric)
        self.row_tooltip = tooltip  # (``tooltip`` is the box's own synced trait)
        self.page = shown
        self.shown = shown  # how many of the latest rows have widgets (None: all)
        self.row_buttons: dict[int, widgets.Button] = {}  # by row index, for the rows shown
        self._labels: dict[int, list[widgets.Label]] = {}
        self._cells: list[list[str]] = []
        self._head = [widgets.HTML(f"<b style='white-space:nowrap'>{escape(h)}</b>", layout=CELL) for h in self.header]
        self.grid = widgets.GridBox([], layout=widgets.Layout(
            grid_template_columns=columns or "70px 100px 145px 55px minmax(200px, 1fr)",
            grid_gap="0 4px", max_height="240px", overflow="auto"))
        self.earlier = widgets.Button(layout=widgets.Layout(width="auto", display="none"))
        self.earlier.on_click(lambda _b: self.show_earlier())
        self._set_children()
        super().__init__(children=[self.earlier, self.grid], **kwargs)
        self.add_class("tw-history")

    def __len__(self) -> int:
        return len(self._cells)

    @property
    def first_shown(self) -> int:
        """Index of the first row that has widgets."""
        return 0 if self.shown is None else max(0, len(self._cells) - self.shown)

    def add_row(self, name: str, status: str, best: float, seconds: float | None, hparams: dict,
                origin: str = "") -> int:
        """Append a row; return its index."""
        return self.append(history_cells(name, status, best, seconds, hparams, origin))

    def append(self, cells: list[str]) -> int:
        """Append a row of cell texts (the first is the row's button); return its index."""
        return self.extend([cells])[0]

    def extend(self, rows: list[list[str]]) -> range:
        """Append many rows at once (one update of the page); return their indices."""
        start = len(self._cells)
        self._cells.extend(list(cells) for cells in rows)
        self._set_children()
        return range(start, len(self._cells))

    def show_earlier(self) -> None:
        """Give widgets to one more page of the rows before the first shown."""
        if self.shown is not None:
            self.shown += self.page
            self._set_children()

    def update_row(self, index: int, name: str, status: str, best: float, seconds: float | None,
                   hparams: dict, origin: str = "") -> None:
        """Rewrite a row's cells; only changed cells are sent to the page."""
        self.rewrite(index, history_cells(name, status, best, seconds, hparams, origin))

    def rewrite(self, index: int, cells: list[str]) -> None:
        """Rewrite row ``index`` with new cell texts; only changed cells are sent to the page."""
        cells = list(cells)
        old = self._cells[index]
        if cells == old:
            return
        self._cells[index] = cells
        if index not in self.row_buttons:
            return
        if cells[0] != old[0]:
            self.row_buttons[index].description = cells[0]
        for label, text, before in zip(self._labels[index], cells[1:], old[1:]):
            if text != before:
                label.value = text

    def set_rows(self, rows: list[list[str]]) -> None:
        """Show exactly ``rows`` (e.g. a re-ranked table): rows are rewritten in place, new ones appended.

        A table only grows here (a sweep never loses trials); extra old rows are removed if it shrinks.
        """
        for index, cells in enumerate(rows[:len(self._cells)]):
            self.rewrite(index, cells)
        if len(rows) > len(self._cells):
            self.extend(rows[len(self._cells):])
        elif len(rows) < len(self._cells):
            del self._cells[len(rows):]
            self._set_children()

    def cells(self, index: int) -> list[str]:
        return list(self._cells[index])

    def select(self, index: int) -> None:
        """Select row ``index`` (listeners of ``selected`` load its hyperparameters)."""
        if not 0 <= index < len(self._cells):
            raise IndexError(f"row {index} does not exist: the table has {len(self._cells)} row(s)")
        for i, b in self.row_buttons.items():
            b.button_style = "info" if i == index else ""
        if self.selected == index:  # selecting again loads again
            self.selected = -1
        self.selected = index

    def _build_row(self, index: int) -> None:
        cells = self._cells[index]
        button = widgets.Button(description=cells[0], tooltip=self.row_tooltip,
                                layout=widgets.Layout(width="66px", height="26px"))
        button.add_class("tw-history-row")
        button.on_click(lambda _b, i=index: self.select(i))
        if index == self.selected:
            button.button_style = "info"
        self.row_buttons[index] = button
        self._labels[index] = [widgets.Label(c, layout=CELL) for c in cells[1:]]

    def _set_children(self) -> None:
        """Widgets for the rows shown (built once each), none for the others, in one page update."""
        shown = range(self.first_shown, len(self._cells))
        for index in [i for i in self.row_buttons if i not in shown]:
            for widget in (self.row_buttons.pop(index), *self._labels.pop(index)):
                widget.close()
        body: list[widgets.Widget] = []
        for index in shown:
            if index not in self.row_buttons:
                self._build_row(index)
            body += [self.row_buttons[index], *self._labels[index]]
        self.grid.children = [*self._head, *body]
        hidden = self.first_shown
        self.earlier.description = f"Show {min(hidden, self.page or 0)} earlier of {hidden} hidden rows"
        self.earlier.layout.display = "" if hidden else "none"
