"""Carry run and sweep events to a panel's display at a bounded rate, from one background thread.

The training thread only appends to a queue (``EventChannel.listen()``); the pump drains it at most
``rate`` times a second and hands each source's new events over in one batch, so a fast run costs
one Bokeh message per tick instead of one per point. It stops when no watched source is active.
"""

from __future__ import annotations

import threading
import time
import warnings
from contextlib import nullcontext
from typing import Any, Callable

from ...engine.control.events import EventQueue, MetricEvent


class DisplayPump:
    """Drain the queues of watched sources every ``1/rate`` seconds while any of them is active.

    A source is anything with ``events`` (an ``EventChannel``), ``done`` and ``wait(timeout)``: a
    ``tw.Run``, or a panel's feed of a sweep. ``on_events(source, events)`` gets each source's new
    events in one list; ``on_tick()`` is called once per tick after them (status lines, progress
    bars). Both run in the pump's thread, holding ``lock`` when one is given, so that the owner can
    change what they see (a new run or sweep) in one step.
    """

    def __init__(self, on_events: Callable[[Any, list[MetricEvent]], None], on_tick: Callable[[], None],
                 rate: float = 10.0, lock: Any = None) -> None:
        if not (isinstance(rate, (int, float)) and 0 < rate <= 100):
            raise ValueError(f"rate={rate!r} is not allowed: must be a number > 0 and <= 100")
        self.interval = 1.0 / rate
        self.on_events, self.on_tick = on_events, on_tick
        self.lock = lock if lock is not None else nullcontext()
        self._watched: list[tuple[Any, EventQueue]] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()  # set when a source ends: its last points show without waiting a tick
        self._wakers: dict[int, Callable[[MetricEvent], None]] = {}
        self.ticks = 0
        self._warned = False

    def watch(self, source: Any) -> None:
        """Follow ``source``'s events from now on (subscribe before it starts to miss none)."""
        queue = source.events.listen()
        self._wakers[id(source)] = source.events.subscribe(self._waker(source))
        with self._lock:
            self._watched.append((source, queue))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="tunewidgets display pump", daemon=True)
                self._thread.start()

    def unwatch(self, source: Any) -> None:
        """Stop following ``source`` (e.g. it failed to start)."""
        with self._lock:
            for item in [w for w in self._watched if w[0] is source]:
                self._forget(item)

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
            for source, queue in watched:
                done = source.done
                events = queue.drain()
                if done:  # the final status event may still be on its way: wait for the source's end
                    source.wait(1.0)
                    events += queue.drain()
                if events:
                    self._call(self.on_events, source, events)
                if done:
                    finished.append((source, queue))
            self._call(self.on_tick)
            self.ticks += 1
            with self._lock:
                for item in finished:
                    self._forget(item)
                if not self._watched:
                    self._thread = None
                    return
            self._wake.wait(max(0.0, self.interval - (time.perf_counter() - started)))
            self._wake.clear()

    def _waker(self, source: Any) -> Callable[[MetricEvent], None]:
        """A subscriber, called in the publishing thread, that wakes the pump when ``source`` ends
        (only then, so a sweep's many trial statuses keep the bounded rate)."""
        def wake(event: MetricEvent) -> None:
            if event.kind == "status" and source.done:
                self._wake.set()
        return wake

    def _forget(self, item: tuple[Any, EventQueue]) -> None:
        source, queue = item
        queue.close()
        source.events.unsubscribe(self._wakers.pop(id(source), None))
        self._watched.remove(item)

    def _call(self, fn: Callable, *args: Any) -> None:
        try:
            with self.lock:
                fn(*args)
        except Exception as e:  # noqa: BLE001 - a display error must not stop the updates
            if not self._warned:
                self._warned = True
                warnings.warn(f"updating the panel failed: {e!r}", stacklevel=1)
