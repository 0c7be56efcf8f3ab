"""The small contracts between the sweep loop, its executors and the code that runs a trial.

- The kernel gives an executor ``TrialJob``s: a trial number, its parameters and a ``TrialHandle``.
- Wherever the trial runs, its objective sends each epoch's row through a ``Channel``; the executor
  routes it to the job's ``TrialHandle``, which feeds Optuna's pruner and answers with a stop decision.
- The objective returns a ``TrialResult`` (plain data, so it crosses process boundaries).

An executor needs only ``slots``, ``open(objective)``, ``submit(jobs)`` and ``close()``; a batched
executor that trains several jobs at once reports per member with ``job.handle.epoch(row)`` and
honours ``job.handle.stop_status``.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, runtime_checkable
from ..statuses import Status


@dataclass
class TrialResult:
    """What one trial produced. ``status`` is a ``Run`` status (completed, pruned, failed, ...)."""

    status: str
    value: float = float("nan")  # a trial that values itself (a CV mean); else the sweep values its rows
    rows: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)  # more scalar columns for the table

    @classmethod
    def failed(cls, error: BaseException | str, started: float | None = None) -> "TrialResult":
        """A trial that ended with ``error`` (an exception or the reason in words); ``started`` is its
        ``time.perf_counter()`` at the start, so the table still shows how long it ran."""
        text = error if isinstance(error, str) else error_text(error)
        return cls(Status.FAILED, error=text, seconds=0.0 if started is None else time.perf_counter() - started)


class Trial:
    """What a sweep trains: ``trial(number, params, channel)`` trains one trial and returns its result.

    Abilities an executor may ask of a trial have their defaults here, so an executor asks the trial
    instead of checking its type. Training as a group (the batched executor) is one: by default a
    trial trains alone.
    """

    def __call__(self, number: int, params: dict[str, Any], channel: "Channel") -> "TrialResult":
        raise NotImplementedError

    def plan_group(self, params: list[dict[str, Any]]) -> tuple[list[int], str]:
        """Which of these trials (positions in ``params``) can train together in one vectorized pass,
        and, when none can, why (shown in a warning; empty when there is nothing to say)."""
        return [], f"only sweeps of torch models (tw.sweep) are batched, not {type(self).__name__}"

    def group_key(self, params: dict[str, Any]) -> Any:
        """Trials with equal keys may share a group (for torch models: the network's structure)."""
        return None

    def group_size_for(self, params: dict[str, Any], limit: int) -> int:
        """How many trials like this one one group holds on its device, at most ``limit``."""
        return limit

    def new_run(self, number: int, params: dict[str, Any], callbacks: list[Any]) -> Any:
        """The pending run of one member of a group (trials that ``plan_group`` accepts)."""
        raise NotImplementedError

    def train_group(self, runs: list[Any]) -> None:
        """Train the members' runs together; each run reports through its own callbacks."""
        raise NotImplementedError

    def result_of(self, run: Any, started: float) -> "TrialResult":
        """A member's finished run as its result (``started``: its ``time.perf_counter()`` start)."""
        raise NotImplementedError


def error_text(exc: BaseException) -> str:
    """An exception as one line for the table: its type and message."""
    return f"{type(exc).__name__}: {exc}"


class TrialHandle:
    """The kernel's handle on one trial (the worker side is its ``Channel``): receives its epoch
    rows, decides whether it should stop, carries the sweep's stop and pause to it.

    ``on_epoch(number, row)`` is the sweep's handler (record the row, feed the pruner); it returns
    ``"pruned"`` to stop the trial. ``request_stop`` may come from any thread (``sweep.stop()``);
    executors subscribe with ``on_stop`` to forward it to wherever the trial runs.
    """

    def __init__(self, number: int, on_epoch: Callable[[int, dict], str | None]) -> None:
        self.number = number
        self._on_epoch = on_epoch
        self.stop_status: str | None = None
        self.paused = False
        self._listeners: list[Callable[[str], None]] = []
        self._pause_listeners: list[Callable[[bool], None]] = []
        self._lock = threading.Lock()

    def epoch(self, row: dict[str, Any]) -> str | None:
        """Report one epoch; returns the stop status (``"pruned"``/``"stopped"``) or None to go on."""
        if self.stop_status is None:
            decision = self._on_epoch(self.number, row)
            if decision:
                self.request_stop(decision)
        else:
            self._on_epoch(self.number, row)
        return self.stop_status

    def request_stop(self, status: str) -> None:
        """Stop the trial with ``status`` (the first request wins), from any thread."""
        self._change("stop_status", status, self._listeners, keep_first=True)

    def on_stop(self, fn: Callable[[str], None]) -> None:
        """Call ``fn(status)`` once when a stop is requested (at once if it already was)."""
        self._subscribe(self._listeners, fn, "stop_status")

    def request_pause(self, paused: bool) -> None:
        """Pause (True) or resume (False) the trial wherever it runs (``sweep.pause()``)."""
        self._change("paused", paused, self._pause_listeners)

    def on_pause(self, fn: Callable[[bool], None]) -> None:
        """Call ``fn(paused)`` on each pause and resume (at once if the trial is paused already)."""
        self._subscribe(self._pause_listeners, fn, "paused")

    def _change(self, name: str, value: Any, listeners: list[Callable], keep_first: bool = False) -> None:
        with self._lock:
            current = getattr(self, name)
            if current == value or (keep_first and current is not None):
                return
            setattr(self, name, value)
            listeners = list(listeners)
        for fn in listeners:
            fn(value)

    def _subscribe(self, listeners: list[Callable], fn: Callable, name: str) -> None:
        with self._lock:  # read with the append: a change is seen either here or by the listener
            listeners.append(fn)
            now = getattr(self, name)
        if now not in (None, False):
            fn(now)


@dataclass
class TrialJob:
    """One trial handed to an executor."""

    number: int
    params: dict[str, Any]  # the objective's input: full HParams as a dict, or estimator params
    handle: TrialHandle  # the kernel's side of this trial
    judged_each_epoch: bool = False  # a pruner judges every row: remote workers send each one at once


class Channel:
    """Worker side: how a running trial reports and learns it should stop or wait. Each executor's
    channel says how rows travel; pausing and steering have defaults for channels that do neither."""

    def send(self, number: int, row: dict[str, Any]) -> None:
        raise NotImplementedError

    def stop_status(self, number: int) -> str | None:
        raise NotImplementedError

    def paused(self, number: int) -> bool:
        """Whether the trial should wait at its epoch's end (a remote trial's pause)."""
        return False

    def attach(self, number: int, run: Any) -> None:
        """Steer ``run`` from the kernel directly (an in-kernel channel: stop and pause act at once)."""

    def callbacks(self, number: int) -> list[Any]:
        """What else trial ``number``'s run is given (a population member's place in its population)."""
        return []


@runtime_checkable
class Executor(Protocol):
    """Runs trials somewhere and streams their rows back. See the module docstring."""

    slots: int  # how many trials it runs at once

    def open(self, train_trial: Trial) -> None: ...

    def submit(self, jobs: list[TrialJob]) -> list[Future]: ...

    def close(self) -> None: ...


def start_note(executor: Executor) -> str | None:
    """What ``executor`` starts before its first trial (workers, a cluster), said while it does so;
    None when it starts nothing. Optional for an executor: one without ``start_note()`` (a user's
    own) starts nothing worth saying."""
    method = getattr(executor, "start_note", None)
    return method() if method is not None else None
