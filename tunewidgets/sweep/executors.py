"""Executors: where trials run. In-kernel thread (default) and a spawn process pool; Dask lives in
``dask_executor.py``; trials trained together in groups in ``batched_executor.py``. Each follows
the small protocol in ``protocol.py``.

Remote executors share one idea: workers push ``(trial number, epoch row)`` messages, a pump thread
in the kernel hands them to the trial's ``Reporter``, and the reporter's stop decision goes back to
the worker through a flag it checks each epoch.
"""

from __future__ import annotations

import os
import queue
import threading
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

from .objectives import run_objective
from .protocol import Executor, Reporter, TrialJob

EXECUTORS = ("thread", "process", "dask", "batched")


class LocalChannel:
    """In-kernel channel: rows go straight to the reporter; a stop reaches the run at once."""

    def __init__(self) -> None:
        self.reporters: dict[int, Reporter] = {}

    def send(self, number: int, row: dict[str, Any]) -> None:
        self.reporters[number].epoch(row)

    def stop_status(self, number: int) -> str | None:
        return self.reporters[number].stop_status

    def attach(self, number: int, run: Any) -> None:
        self.reporters[number].on_stop(run.stop)


class ThreadExecutor:
    """Trials one after another in a kernel thread, on the kernel's device (the right choice for one GPU)."""

    slots = 1

    def open(self, objective: Any) -> None:
        self.objective = objective
        self.channel = LocalChannel()
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tunewidgets-trial")

    def submit(self, jobs: list[TrialJob]) -> list[Future]:
        futures = []
        for job in jobs:
            self.channel.reporters[job.number] = job.reporter
            futures.append(self.pool.submit(run_objective, self.objective, job.number, job.params, self.channel))
        return futures

    def close(self) -> None:
        self.pool.shutdown(wait=True)


class Pump:
    """One kernel thread that delivers worker messages to reporters, in arrival order."""

    def __init__(self, get: Callable[[float], Any], name: str) -> None:
        self.reporters: dict[int, Reporter] = {}
        self._get = get
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
            number, row = message
            reporter = self.reporters.get(number)
            if reporter is not None:
                try:
                    reporter.epoch(row)
                except Exception as e:  # noqa: BLE001 - one bad message must not stop the feed
                    warnings.warn(f"trial {number}: reporting an epoch failed: {e!r}", stacklevel=1)

    def close(self) -> None:
        self._closed = True
        self._thread.join(timeout=2)


# ---- process pool --------------------------------------------------------------------------------
class QueueChannel:
    """Worker side of the process executor: a Manager queue out, a Manager dict of stop flags in."""

    def __init__(self, messages: Any, stops: Any) -> None:
        self.messages, self.stops = messages, stops

    def send(self, number: int, row: dict[str, Any]) -> None:
        self.messages.put((number, row))

    def stop_status(self, number: int) -> str | None:
        return self.stops.get(number)


_WORKER: dict[str, Any] = {}


def _init_process_worker(objective: Any, channel: QueueChannel, threads: int) -> None:
    """Runs once per pool process: pin threads, keep the objective (and its data) for every trial."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    import torch

    torch.set_num_threads(threads)
    _WORKER["objective"], _WORKER["channel"] = objective, channel


def _run_in_process(number: int, params: dict[str, Any]):
    return run_objective(_WORKER["objective"], number, params, _WORKER["channel"])


class RemoteExecutor:
    """What executors whose trials run elsewhere share: rows come back through ``self.pump`` to each
    job's reporter, stops go out through ``_forward_stop``, and ``_launch`` starts one trial."""

    pump: Pump

    def _forward_stop(self, number: int) -> Callable[[str], None]:
        raise NotImplementedError

    def _launch(self, job: TrialJob) -> Future:
        raise NotImplementedError

    def submit(self, jobs: list[TrialJob]) -> list[Future]:
        futures = []
        for job in jobs:
            self.pump.reporters[job.number] = job.reporter
            job.reporter.on_stop(self._forward_stop(job.number))
            futures.append(self._launch(job))
        return futures


class ProcessExecutor(RemoteExecutor):
    """A spawn process pool, ``n_workers`` processes with ``threads`` torch threads each.

    The objective (with the data) is shipped once per process; metrics come back through a
    ``multiprocessing.Manager`` queue.
    """

    def __init__(self, n_workers: int | None = None, threads: int = 1) -> None:
        n_workers = n_workers or max(1, (os.cpu_count() or 1) // threads)
        if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
            raise ValueError(f"n_workers={n_workers!r} is not allowed: must be an integer >= 1")
        self.slots = n_workers
        self.threads = threads

    def open(self, objective: Any) -> None:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        ctx = mp.get_context("spawn")
        self.manager = ctx.Manager()
        messages, self.stops = self.manager.Queue(), self.manager.dict()
        self.pump = Pump(lambda timeout: messages.get(timeout=timeout), "tunewidgets-process-pump")
        self._messages = messages
        channel = QueueChannel(messages, self.stops)
        self.pool = ProcessPoolExecutor(self.slots, mp_context=ctx, initializer=_init_process_worker,
                                        initargs=(objective, channel, self.threads))

    def _forward_stop(self, number: int) -> Callable[[str], None]:
        def forward(status: str) -> None:
            try:
                self.stops[number] = status
            except (EOFError, OSError, BrokenPipeError):
                pass
        return forward

    def _launch(self, job: TrialJob) -> Future:
        return self.pool.submit(_run_in_process, job.number, job.params)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        try:
            self._messages.put(None)
        except (EOFError, OSError, BrokenPipeError):
            pass
        self.pump.close()
        self.manager.shutdown()


def make_executor(executor: Any, group_size: int | None = None) -> Executor:
    """``"thread"``, ``"process"``, ``"dask"``, ``"batched"`` (``group_size`` trials train together),
    a ``distributed.Client``, a scheduler address, or an object following the ``Executor`` protocol."""
    if isinstance(executor, str) and executor == "batched":
        from .batched_executor import BatchedExecutor

        return BatchedExecutor() if group_size is None else BatchedExecutor(group_size)
    if group_size is not None:
        raise ValueError(f"group_size={group_size!r} only applies to executor='batched', not executor={executor!r}")
    if executor is None or executor == "thread":
        return ThreadExecutor()
    if executor == "process":
        return ProcessExecutor()
    if isinstance(executor, str):
        if executor == "dask" or "://" in executor or ":" in executor:
            from .dask_executor import DaskExecutor

            return DaskExecutor(None if executor == "dask" else executor)
        raise ValueError(f"executor={executor!r} is not allowed: must be one of {EXECUTORS}, a Dask scheduler "
                         f"address such as 'tcp://host:8786', a distributed.Client, or an executor object")
    if type(executor).__name__ == "Client" and type(executor).__module__.startswith("distributed"):
        from .dask_executor import DaskExecutor

        return DaskExecutor(executor)
    if all(hasattr(executor, name) for name in ("slots", "open", "submit", "close")):
        return executor
    raise ValueError(f"executor={executor!r} is not allowed: must be one of {EXECUTORS}, a Dask scheduler "
                     f"address, a distributed.Client, or an object with slots, open, submit and close")
