"""Carry run events to the plots and widgets at a bounded rate, from one background thread.

The training thread only appends to a queue (``EventChannel.listen()``); this pump drains it at
most ``rate`` times a second and hands each run's new events over in one batch, so a fast run
costs one Bokeh message per tick instead of one per point. It stops when no watched run is active.
"""

from __future__ import annotations

import math
import threading
import time
import warnings
from typing import Any, Callable

from ..engine.events import EventQueue, MetricEvent


def split_events(events: list[MetricEvent], steps_per_epoch: int, metric: str
                 ) -> tuple[dict[str, list], dict[str, list], str | None]:
    """Turn events into column batches for the curves: ``(epoch_rows, batch_rows, last_status)``.

    Batch points sit at fractional epochs (``step / steps_per_epoch``); epoch rows carry the
    train and validation loss and ``metric`` from the history row.
    """
    epochs: dict[str, list] = {"epoch": [], "train_loss": [], "val_loss": [], "metric": []}
    batches: dict[str, list] = {"epoch": [], "train_loss": []}
    status = None
    per_epoch = max(int(steps_per_epoch), 1)
    for e in events:
        if e.kind == "batch":
            batches["epoch"].append(e.step / per_epoch)
            batches["train_loss"].append(_finite(e.values.get("train_loss")))
        elif e.kind == "epoch":
            v = e.values
            epochs["epoch"].append(e.epoch)
            epochs["train_loss"].append(_finite(v.get("train_loss")))
            epochs["val_loss"].append(_finite(v.get("val_loss")))
            epochs["metric"].append(_finite(v.get(metric)))
        elif e.kind == "status":
            status = e.values.get("status")
    return epochs, batches, status


def _finite(x: Any) -> float:
    """NaN for missing or infinite values (Bokeh leaves a gap; JSON cannot carry inf)."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return float("nan")
    return x if math.isfinite(x) else float("nan")


class Pump:
    """Drain the queues of watched runs every ``1/rate`` seconds while any of them is active.

    ``on_events(run, events)`` gets each run's new events in one list; ``on_tick()`` is called once
    per tick after them (status lines, progress bars). Both run in the pump's thread.
    """

    def __init__(self, on_events: Callable[[Any, list[MetricEvent]], None], on_tick: Callable[[], None],
                 rate: float = 10.0) -> None:
        if not (isinstance(rate, (int, float)) and 0 < rate <= 100):
            raise ValueError(f"rate={rate!r} is not allowed: must be a number > 0 and <= 100")
        self.interval = 1.0 / rate
        self.on_events, self.on_tick = on_events, on_tick
        self._watched: list[tuple[Any, EventQueue]] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.ticks = 0
        self._warned = False

    def watch(self, run: Any) -> None:
        """Follow ``run``'s events from now on (subscribe before ``run.start()`` to miss none)."""
        queue = run.events.listen()
        with self._lock:
            self._watched.append((run, queue))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="tunewidgets pump", daemon=True)
                self._thread.start()

    def unwatch(self, run: Any) -> None:
        """Stop following ``run`` (e.g. it failed to start)."""
        with self._lock:
            for item in [w for w in self._watched if w[0] is run]:
                item[1].close()
                self._watched.remove(item)

    @property
    def active(self) -> bool:
        return self._thread is not None

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the pump has delivered everything and stopped; False on timeout."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def _loop(self) -> None:
        while True:
            started = time.perf_counter()
            with self._lock:
                watched = list(self._watched)
            finished = []
            for run, queue in watched:
                done = run.done
                events = queue.drain()
                if done:  # the final status event may still be on its way: wait for the run's end
                    run.wait(1.0)
                    events += queue.drain()
                if events:
                    self._call(self.on_events, run, events)
                if done:
                    finished.append((run, queue))
            self._call(self.on_tick)
            self.ticks += 1
            with self._lock:
                for item in finished:
                    item[1].close()
                    self._watched.remove(item)
                if not self._watched:
                    self._thread = None
                    return
            time.sleep(max(0.0, self.interval - (time.perf_counter() - started)))

    def _call(self, fn: Callable, *args: Any) -> None:
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - a display error must not stop the updates
            if not self._warned:
                self._warned = True
                warnings.warn(f"updating the panel failed: {e!r}", stacklevel=1)
