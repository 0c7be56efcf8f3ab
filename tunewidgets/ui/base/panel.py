"""Panel: what the TrainPanel and the SweepPanel share as notebook widgets.

Both are views over something that trains in the background (a ``tw.Run``, a ``tw.Sweep``): a
title, a row of buttons, a progress bar with a status line, a message line, Bokeh plots kept
current by a ``DisplayPump``. A click never raises into the notebook: errors become the message.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, wait
from html import escape
from typing import Any, Callable, Iterator

import ipywidgets as widgets

from ...engine.builtin.checks import require_data
from ...engine.fit.trainer import is_training_function
from ...engine.control.threads import train_in_background
from ...objective import Objective
from .bokeh_view import BokehView, bokehjs_loader
from .display_pump import DisplayPump
from .markup import error_html
from ...statuses import Status

# The progress bar's colour per run or sweep status.
BAR_STYLES = {Status.RUNNING: "info", Status.PAUSED: "warning", Status.STOPPED: "warning", Status.PRUNED: "warning",
              Status.COMPLETED: "success", Status.EARLY_STOPPED: "success", Status.DIVERGED: "danger", Status.FAILED: "danger"}


class Panel(widgets.VBox):
    """Base of the panels: buttons from ``BUTTONS``, status, message, display and the pump.

    ``BUTTONS`` rows are ``(key, text, icon, style[, css class])``; a click calls ``_on_<key>``. A
    subclass builds its widgets after ``super().__init__`` and lays them out with ``_set_body``;
    the pump hands it events in ``_deliver(source, events)`` and calls ``_tick()`` after each batch,
    holding ``view_lock`` (hold it too while swapping what those two read).
    """

    BUTTONS: tuple[tuple[str, ...], ...] = ()
    CSS_CLASS = "tw-panel"
    STATUS_CLASS = "tw-status"
    MESSAGE_CLASS = "tw-message"
    PROGRESS_WIDTH = "240px"

    def __init__(self, data: Any, rate: float = 10.0, **kwargs: Any) -> None:
        if is_training_function(data):  # a training function of yours: no tw.Data; the subclass sets metric
            self.data, self.metric = None, "val_loss"
            about = f"{getattr(data, '__name__', 'fit')} (your training function)"
        else:
            self.data = require_data(data)
            self.metric = Objective.default(self.data.task).metric  # what runs and sweeps optimize by default
            about = repr(data)
        self.view_lock = threading.RLock()
        self._pump = DisplayPump(self._deliver, self._tick, rate=rate, lock=self.view_lock)
        self.buttons = {spec[0]: self._button(*spec) for spec in self.BUTTONS}
        self.progress = widgets.IntProgress(value=0, min=0, max=1, layout=widgets.Layout(width=self.PROGRESS_WIDTH))
        self.status = widgets.HTML("ready").add_class(self.STATUS_CLASS)
        self.message = widgets.HTML("").add_class(self.MESSAGE_CLASS)
        self.title = widgets.HTML(f"<b>{type(self).__name__}</b> &middot; {escape(about)}")
        self.busy = False  # a button's action runs in the background (``_in_background``)
        self._job: Future | None = None
        super().__init__(**kwargs)
        self.add_class(self.CSS_CLASS)

    def _button(self, key: str, text: str, icon: str, style: str, css_class: str | None = None) -> widgets.Button:
        button = widgets.Button(description=text, icon=icon, button_style=style, layout=widgets.Layout(width="auto"))
        button.add_class(css_class or f"tw-{key.replace('_', '-')}")
        button.on_click(lambda _b: self._safely(getattr(self, f"_on_{key}")))
        return button

    def _set_body(self, *children: widgets.Widget) -> None:
        """Lay the panel out: the (hidden) BokehJS loader, its title, then ``children``."""
        self.children = [bokehjs_loader(), self.title, *children]  # BokehJS first: the views below need it

    def _in_background(self, action: Callable[[], Any]) -> None:
        """Run a button's long action (a range test) in a training thread, so the page stays live: the
        panel is ``busy`` (its buttons say so) until it ends, and ``_wait_background`` waits for it."""
        self.busy = True
        self._sync_buttons()

        def run() -> None:
            try:
                self._safely(action)
            finally:
                self.busy = False
                self._sync_buttons()

        self._job = train_in_background(run)

    def _wait_background(self, timeout: float | None) -> None:
        if self._job is not None:
            wait([self._job], timeout)

    def _sync_buttons(self) -> None:
        """Enable the buttons that apply now (subclasses)."""

    # ---- messages and progress -------------------------------------------------------------------
    def _safely(self, action: Callable[[], Any]) -> None:
        """Run a button's action; show an error in the panel instead of raising into the notebook."""
        try:
            action()
        except Exception as e:  # noqa: BLE001 - any error becomes a message
            self.show_error(str(e))

    def show_error(self, text: str) -> None:
        self.message.value = error_html(text)

    def show_info(self, text: str) -> None:
        self.message.value = escape(text)

    def _show_pause(self, paused: bool) -> None:
        """The Pause button reads Resume while what it steers is paused."""
        self.buttons["pause"].description, self.buttons["pause"].icon = ("Resume", "play") if paused else \
            ("Pause", "pause")

    def _show_progress(self, text: str, done: int, total: int | None, status: str) -> None:
        """The status line and the bar (``done`` of ``total``, coloured by ``status``; a training function
        that counts its own epochs has no total: the bar stays full while it runs)."""
        self.status.value = escape(text)
        self.progress.max = max(1, total if total is not None else done)
        self.progress.value = min(done, self.progress.max)
        self.progress.bar_style = BAR_STYLES.get(status, "")

    # ---- fed by the pump (its thread) ------------------------------------------------------------
    def _deliver(self, source: Any, events: list) -> None:
        raise NotImplementedError

    def _tick(self) -> None:
        raise NotImplementedError

    def _join_pump(self, timeout: float | None) -> None:
        """Wait until the pump has shown every event (10 s when no timeout is given)."""
        self._pump.join(timeout if timeout is not None else 10.0)

    # ---- display ---------------------------------------------------------------------------------
    def _views(self, widget: widgets.Widget | None = None) -> Iterator[BokehView]:
        """Every BokehView inside the panel."""
        for child in getattr(self if widget is None else widget, "children", ()):
            if isinstance(child, BokehView):
                yield child
            else:
                yield from self._views(child)

    def _repr_mimebundle_(self, **kwargs: Any):
        for view in self._views():
            view.refresh()  # a view opened now starts from the current data
        return super()._repr_mimebundle_(**kwargs)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)
