"""The process-pool executor: trials in spawned processes, one torch thread each.

Each slot is its own one-process ``ProcessPoolExecutor``: when a worker dies (the OOM killer, a
segfault in user code, ``kill -9``) only the trial it ran fails, with the exit named, and that
slot's process is replaced while the other trials go on. The processes stay warm for later sweeps
(``warm.py``). The trial function (with the data) is shipped once per process and sweep, serialized
with cloudpickle so that functions defined in a notebook (a model factory, a custom metric) reach
the workers; epochs come back through a ``multiprocessing.Manager`` queue.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable

from ..protocol import Channel, TrialJob
from ...guards import require_count
from ..trials import run_trial
from . import warm
from .base import MessageRelay, RemoteExecutor
from .spawn_guard import require_main_guard

_WORKER: dict[str, Any] = {}


class WorkerDied(RuntimeError):
    """The process running a trial ended before the trial did."""


class QueueChannel(Channel):
    """Worker side: a Manager queue out (epochs, and which process took a trial), stop flags in."""

    def __init__(self, messages: Any, stops: Any, pauses: Any) -> None:
        self.messages, self.stops, self.pauses = messages, stops, pauses

    def send(self, number: int, row: dict[str, Any]) -> None:
        self.messages.put(("epoch", number, row))

    def stop_status(self, number: int) -> str | None:
        return self.stops.get(number)

    def paused(self, number: int) -> bool:
        return bool(self.pauses.get(number, False))


def load_trial(payload: bytes, channel: QueueChannel) -> None:
    """In a worker, once per sweep: keep the sweep's trial function (and its data) for its trials."""
    import cloudpickle

    _WORKER["train_trial"], _WORKER["channel"] = cloudpickle.loads(payload), channel


def forget_trial() -> None:
    """In a worker, when its sweep ends: an idle process between sweeps holds no sweep's data."""
    _WORKER.clear()


def run_in_worker(number: int, params: dict[str, Any]):
    channel = _WORKER["channel"]
    channel.messages.put(("worker", number, os.getpid()))
    return run_trial(_WORKER["train_trial"], number, params, channel)


def describe_exit(pid: int | None, exitcode: int | None) -> str:
    """Why a worker ended, in words: a signal's name, an exit code, or unknown."""
    who = f"the worker process (pid {pid})" if pid else "the worker process"
    if exitcode is None:
        how = "ended (its exit status is unknown)"
    elif exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        how = f"was killed by {name} (signal {-exitcode}; SIGKILL is what the out-of-memory killer sends)"
    else:
        how = f"exited with code {exitcode}"
    return f"{who} {how} while running this trial; its slot was restarted and the sweep went on"


class ProcessExecutor(RemoteExecutor):
    """Trials in spawned worker processes: ``n_workers`` (default one per core) of ``threads`` torch
    threads each. The processes stay for the kernel's lifetime and serve later sweeps (``warm.py``)."""

    def __init__(self, n_workers: int | None = None, threads: int = 1) -> None:
        n_workers = n_workers or max(1, (os.cpu_count() or 1) // threads)
        self.slots = require_count("n_workers", n_workers)
        self.threads = threads
        self.restarts = 0  # worker processes replaced after they died

    def start_note(self) -> str | None:
        """What ``open`` will be busy with, for a progress line; None when the workers are warm."""
        if warm.has_idle_slots(self.slots, self.threads):
            return None
        # checked here, in the caller's thread: open() will run in the sweep's thread, which
        # cannot see the script's frames
        require_main_guard("executor='process'")
        return f"starting {self.slots} worker process{'es' if self.slots != 1 else ''}"

    def open(self, train_trial: Any) -> None:
        import cloudpickle

        require_main_guard("executor='process'")
        self.payload = cloudpickle.dumps(train_trial)  # before borrowing: a trial that cannot travel costs nothing
        self.workers_set = warm.borrow_slots(self.slots, self.threads)
        self.relay = None
        try:
            self._start_sweep()
        except BaseException:  # e.g. a worker cannot unpickle the trial: no process or thread is left behind
            if self.relay is not None:
                self.relay.close()
            warm.discard(self.workers_set)
            raise
        self.free = list(range(self.slots))
        self.closed = False
        self.workers: dict[int, Any] = {}  # trial number -> the multiprocessing.Process running it

    def _start_sweep(self) -> None:
        """The sweep's queues and relay; every slot's process loads the trial before its first trial."""
        manager = self.workers_set.manager
        self.messages, self.stops, self.pauses = manager.Queue(), manager.dict(), manager.dict()
        self.channel = QueueChannel(self.messages, self.stops, self.pauses)
        self.relay = MessageRelay(lambda timeout: self.messages.get(timeout=timeout), "tunewidgets-process-relay",
                                  on_worker=self._note_worker)
        self.lock = threading.Lock()
        loads = [pool.submit(load_trial, self.payload, self.channel) for pool in self.workers_set.pools]
        for slot, load in enumerate(loads):
            try:
                load.result()
            except BrokenProcessPool:  # the process died while it waited between sweeps
                self.workers_set.restart(slot).submit(load_trial, self.payload, self.channel).result()

    def _note_worker(self, number: int, pid: int) -> None:
        """A worker took trial ``number``: keep its process, whose exit code tells why it may die."""
        process = next((p for p in multiprocessing.active_children() if p.pid == pid), None)
        with self.lock:
            self.workers[number] = process if process is not None else pid

    def forward_stop(self, number: int) -> Callable[[str], None]:
        # The plain word, not a ``Status``: the Manager's own process unpickles what it keeps, and a
        # ``Status`` would make it import tunewidgets (and torch) first, holding the verdict for seconds.
        return lambda status: self._set(self.stops, number, str(status))

    def forward_pause(self, number: int) -> Callable[[bool], None]:
        return lambda paused: self._set(self.pauses, number, paused)

    @staticmethod
    def _set(flags: Any, number: int, value: Any) -> None:
        try:
            flags[number] = value
        except (EOFError, OSError, BrokenPipeError):  # the sweep is ending; the trial ends anyway
            pass

    def launch(self, job: TrialJob) -> Future:
        with self.lock:
            slot = self.free.pop(0)
            pool = self.workers_set.pools[slot]
        outer: Future = Future()
        inner = pool.submit(run_in_worker, job.number, job.params)
        inner.add_done_callback(lambda done: self._on_done(slot, job.number, done, outer))
        return outer

    def _on_done(self, slot: int, number: int, inner: Future, outer: Future) -> None:
        """Runs on the pool's own manager thread. A dead worker is settled from a thread of ours:
        since Python 3.12 the pool fails a broken pool's futures while that thread holds the pool's
        shutdown lock, and restarting the slot calls ``shutdown()``, which takes the same lock (the
        thread would wait on itself forever). Never call back into an executor from its callbacks."""
        if isinstance(inner.exception(), BrokenProcessPool):
            threading.Thread(target=self._settle, args=(slot, number, inner, outer),
                             name="tunewidgets-slot-restart", daemon=True).start()
        else:
            self._settle(slot, number, inner, outer)

    def _settle(self, slot: int, number: int, inner: Future, outer: Future) -> None:
        """The trial's result, or, if its process died, a ``WorkerDied`` naming the exit and a new process."""
        error = inner.exception()
        if isinstance(error, BrokenProcessPool):
            error = WorkerDied(self._death_text(number))
            with self.lock:
                if not self.closed:  # a sweep that gave up waiting has discarded these slots already
                    self.workers_set.restart(slot).submit(load_trial, self.payload, self.channel)
                    self.restarts += 1
        with self.lock:
            self.workers.pop(number, None)
            self.free.append(slot)
        if error is not None:
            outer.set_exception(error)
        else:
            outer.set_result(inner.result())

    def _death_text(self, number: int) -> str:
        with self.lock:
            worker = self.workers.get(number)
        if isinstance(worker, multiprocessing.process.BaseProcess):
            worker.join(timeout=5)
            return describe_exit(worker.pid, worker.exitcode)
        return describe_exit(worker, None)

    def close(self) -> None:
        try:
            self.messages.put(None)
        except (EOFError, OSError, BrokenPipeError):
            pass
        self.relay.close()
        with self.lock:
            self.closed = True
            busy = len(self.free) < self.slots
        if busy:  # a trial still runs (the sweep gave up waiting): these processes serve no later sweep
            warm.discard(self.workers_set, wait=False)
            return
        try:
            for done in [pool.submit(forget_trial) for pool in self.workers_set.pools]:
                done.result(timeout=10)
        except Exception:  # noqa: BLE001 - a process that cannot forget is not lent again
            warm.discard(self.workers_set)
            return
        warm.give_back(self.workers_set)
