"""RunControl: how a training loop learns that its run should pause, stop or change a live knob.

Flags a loop polls once per batch (cheap attribute reads, no locks); ``pause()``, ``resume()`` and
``stop()`` may come from any thread (a button, a sweep's pruner, a script).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable
from ...statuses import STOP_STATUSES, Status


class RunControl:
    """Pause and stop requests for one run; ``wait_while_paused`` blocks the training thread."""

    def __init__(self, on_pause: Callable[[], None] = lambda: None,
                 on_resume: Callable[[], None] = lambda: None) -> None:
        self.updates_pending = False  # live hyperparameter changes wait for the next batch
        self.knobs_fixed_because: str | None = None  # why live changes cannot apply (None: they can)
        self._updates: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.stop_requested = False
        self.stop_status = Status.STOPPED
        self.pause_requested = False
        self._resumed = threading.Event()
        self._resumed.set()
        self._on_pause, self._on_resume = on_pause, on_resume

    def stop(self, status: str = Status.STOPPED) -> None:
        """End after the current batch with ``status`` ('stopped', or 'pruned' when a pruner ends it)."""
        if status not in STOP_STATUSES:
            raise ValueError(f"status={status!r} is not allowed: must be one of {STOP_STATUSES}")
        self.stop_status = status
        self.stop_requested = True
        self._resumed.set()

    def pause(self) -> None:
        if self.stop_requested:  # a stopping run is not held up
            return
        self.pause_requested = True
        self._resumed.clear()

    def resume(self) -> None:
        self.pause_requested = False
        self._resumed.set()

    def request_update(self, changes: dict[str, Any]) -> None:
        """Queue validated live changes; later ones for the same field win."""
        with self._lock:
            self._updates.update(changes)
            self.updates_pending = True

    def take_updates(self) -> dict[str, Any]:
        """The changes queued since the last call (the training loop applies them)."""
        with self._lock:
            updates, self._updates, self.updates_pending = self._updates, {}, False
        return updates

    def wait_while_paused(self) -> float:
        """Block until resumed or stopped; return the seconds spent paused."""
        started = time.perf_counter()
        self._on_pause()
        self._resumed.wait()
        if not self.stop_requested:
            self._on_resume()
        return time.perf_counter() - started
