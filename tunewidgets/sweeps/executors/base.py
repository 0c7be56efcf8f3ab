"""What executors share: the in-kernel channel, the relay of worker messages, remote submission.

Remote executors share one idea: workers push ``(trial number, epoch row)`` messages, a relay thread
in the kernel hands them to the trial's ``TrialHandle``, and the handle's stop decision goes back to
the worker through a flag it checks each epoch. Each executor follows the small protocol in
``sweeps/protocol.py``: ``slots``, ``open(train_trial)``, ``submit(jobs)``, ``close()``.
"""

from __future__ import annotations

import queue
import threading
import warnings
from concurrent.futures import Future
from typing import Any, Callable

from ..protocol import Channel, TrialHandle, TrialJob


class LocalChannel(Channel):
    """In-kernel channel: rows go straight to the trial's handle; a stop reaches the run at once."""

    def __init__(self) -> None:
        self.handles: dict[int, TrialHandle] = {}

    def send(self, number: int, row: dict[str, Any]) -> None:
        self.handles[number].epoch(row)

    def stop_status(self, number: int) -> str | None:
        return self.handles[number].stop_status

    def attach(self, number: int, run: Any) -> None:
        handle = self.handles[number]
        handle.on_stop(run.stop)
        handle.on_pause(lambda paused: run.pause() if paused else run.resume())


class MessageRelay:
    """One kernel thread that delivers worker messages, in arrival order.

    Messages are ``("epoch", number, row)`` (to the trial's handle) or ``("worker", number, pid)``
    (which process took a trial, to ``on_worker``); ``None`` ends the relay.
    """

    def __init__(self, get: Callable[[float], Any], name: str,
                 on_worker: Callable[[int, int], None] | None = None) -> None:
        self.handles: dict[int, TrialHandle] = {}
        self._get = get
        self._on_worker = on_worker
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._closed:
            try:
                message = self._get(0.1)
            except queue.Empty:
                continue
            except (EOFError, OSError, BrokenPipeError):  # the manager went away: nothing more will come
                return
            if message is None:
                return
            try:
                self._deliver(*message)
            except Exception as e:  # noqa: BLE001 - one bad message must not stop the feed
                warnings.warn(f"trial {message[1]}: delivering {message[0]!r} failed: {e!r}", stacklevel=1)

    def _deliver(self, kind: str, number: int, payload: Any) -> None:
        if kind == "worker":
            if self._on_worker is not None:
                self._on_worker(number, payload)
            return
        handle = self.handles.get(number)
        if handle is not None:
            handle.epoch(payload)

    def close(self) -> None:
        self._closed = True
        self._thread.join(timeout=2)


class RemoteExecutor:
    """What executors whose trials run elsewhere share: rows come back through ``self.relay`` to each
    job's handle, stops and pauses go out through ``forward_stop`` and ``forward_pause``, and
    ``launch`` starts one trial."""

    relay: MessageRelay

    def forward_stop(self, number: int) -> Callable[[str], None]:
        raise NotImplementedError

    def forward_pause(self, number: int) -> Callable[[bool], None]:
        raise NotImplementedError

    def launch(self, job: TrialJob) -> Future:
        raise NotImplementedError

    def submit(self, jobs: list[TrialJob]) -> list[Future]:
        futures = []
        for job in jobs:
            self.relay.handles[job.number] = job.handle
            job.handle.on_stop(self.forward_stop(job.number))
            job.handle.on_pause(self.forward_pause(job.number))
            futures.append(self.launch(job))
        return futures
