"""Metric events a run emits, and the thread-safe channel that carries them.

The training thread publishes; any number of listeners (a UI pump, a sweep's trial handle, a logger)
either get a callback in the training thread or drain a queue from their own thread at their own
pace. Publishing never blocks on a slow reader.
"""

from __future__ import annotations

import threading
import warnings
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

BATCH_EVENT_SECONDS = 0.2  # how often a running train loss is published within an epoch

EVENT_KINDS = ("batch", "epoch", "status", "knob")


@dataclass(frozen=True)
class MetricEvent:
    """One observation of a run.

    ``kind`` is ``"batch"`` (a running train loss within an epoch), ``"epoch"`` (a full history row),
    ``"status"`` (``values["status"]`` changed) or ``"knob"`` (live changes applied:
    ``values["changes"]``, at the fractional epoch ``values["at"]``). ``step`` counts optimizer steps.
    """

    run_id: str
    kind: str
    epoch: int
    step: int
    values: dict[str, Any] = field(default_factory=dict)
    time: float = 0.0


class EventQueue:
    """A listener's private buffer; ``drain()`` returns and clears what arrived since the last drain.

    ``maxlen`` bounds memory if nobody drains (the oldest events are dropped first).
    """

    def __init__(self, channel: "EventChannel", maxlen: int | None = 100_000) -> None:
        self._items: deque[MetricEvent] = deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self._channel = channel

    def put(self, event: MetricEvent) -> None:
        with self._lock:
            self._items.append(event)

    def drain(self) -> list[MetricEvent]:
        with self._lock:
            items = list(self._items)
            self._items.clear()
        return items

    def close(self) -> None:
        """Stop receiving events."""
        self._channel.unsubscribe(self.put)


class EventChannel:
    """Fan-out of ``MetricEvent``s from the training thread to subscribers, safe across threads."""

    def __init__(self) -> None:
        self._subscribers: list[Callable[[MetricEvent], None]] = []
        self._lock = threading.Lock()
        self._warned: set[int] = set()

    def subscribe(self, fn: Callable[[MetricEvent], None]) -> Callable[[MetricEvent], None]:
        """Call ``fn(event)`` in the publishing thread for every event; keep it cheap. Returns ``fn``."""
        with self._lock:
            self._subscribers = self._subscribers + [fn]
        return fn

    def unsubscribe(self, fn: Callable[[MetricEvent], None]) -> None:
        with self._lock:
            self._subscribers = [s for s in self._subscribers if s is not fn]

    def listen(self, maxlen: int | None = 100_000) -> EventQueue:
        """A queue that collects every event from now on, to ``drain()`` from another thread."""
        queue = EventQueue(self, maxlen)
        self.subscribe(queue.put)
        return queue

    def publish(self, event: MetricEvent) -> None:
        for fn in self._subscribers:  # a copy-on-write list: no lock needed to iterate
            try:
                fn(event)
            except Exception as e:  # noqa: BLE001 - a broken listener must not kill the training
                if id(fn) not in self._warned:
                    self._warned.add(id(fn))
                    warnings.warn(f"event subscriber {fn!r} raised {e!r}; training goes on", stacklevel=2)
