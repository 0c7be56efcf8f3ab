"""The process-pool executor: trials in spawned processes, one torch thread each.

The trial function (with the data) is shipped once per process, serialized with cloudpickle so
that functions defined in a notebook (a model factory, a custom metric) reach the workers; metrics
come back through a ``multiprocessing.Manager`` queue.
"""

from __future__ import annotations

import os
from concurrent.futures import Future
from typing import Any, Callable

from ..protocol import TrialJob
from ..trials import run_trial
from .base import MessageRelay, RemoteExecutor

_WORKER: dict[str, Any] = {}


class QueueChannel:
    """Worker side: a Manager queue out, a Manager dict of stop flags in."""

    def __init__(self, messages: Any, stops: Any) -> None:
        self.messages, self.stops = messages, stops

    def send(self, number: int, row: dict[str, Any]) -> None:
        self.messages.put((number, row))

    def stop_status(self, number: int) -> str | None:
        return self.stops.get(number)


def init_worker(payload: bytes, channel: QueueChannel, threads: int) -> None:
    """Runs once per pool process: pin threads, keep the trial function (and its data) for every trial."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    import cloudpickle
    import torch

    torch.set_num_threads(threads)
    _WORKER["train_trial"], _WORKER["channel"] = cloudpickle.loads(payload), channel


def run_in_worker(number: int, params: dict[str, Any]):
    return run_trial(_WORKER["train_trial"], number, params, _WORKER["channel"])


class ProcessExecutor(RemoteExecutor):
    """A spawn process pool: ``n_workers`` processes (default one per core) of ``threads`` torch threads."""

    def __init__(self, n_workers: int | None = None, threads: int = 1) -> None:
        n_workers = n_workers or max(1, (os.cpu_count() or 1) // threads)
        if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
            raise ValueError(f"n_workers={n_workers!r} is not allowed: must be an integer >= 1")
        self.slots = n_workers
        self.threads = threads

    def open(self, train_trial: Any) -> None:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        import cloudpickle

        ctx = mp.get_context("spawn")
        self.manager = ctx.Manager()
        messages, self.stops = self.manager.Queue(), self.manager.dict()
        self.relay = MessageRelay(lambda timeout: messages.get(timeout=timeout), "tunewidgets-process-relay")
        self._messages = messages
        channel = QueueChannel(messages, self.stops)
        self.pool = ProcessPoolExecutor(self.slots, mp_context=ctx, initializer=init_worker,
                                        initargs=(cloudpickle.dumps(train_trial), channel, self.threads))

    def forward_stop(self, number: int) -> Callable[[str], None]:
        def forward(status: str) -> None:
            try:
                self.stops[number] = status
            except (EOFError, OSError, BrokenPipeError):
                pass
        return forward

    def launch(self, job: TrialJob) -> Future:
        return self.pool.submit(run_in_worker, job.number, job.params)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        try:
            self._messages.put(None)
        except (EOFError, OSError, BrokenPipeError):
            pass
        self.relay.close()
        self.manager.shutdown()
