"""The Dask executor: trials as tasks on a LocalCluster it starts, or on a cluster the user has.

Metrics stream back with ``get_worker().log_event`` to a topic the kernel subscribes to; a
``distributed.Event`` per trial, checked each epoch, stops pruned trials. A worker that dies
mid-trial is handled by Dask: the task is rescheduled, or fails with ``KilledWorker`` (the trial is
then recorded as failed). dask and distributed are imported only here, when used.
"""

from __future__ import annotations

import os
import queue
import uuid
from concurrent.futures import Future
from typing import Any, Callable

from ..protocol import TrialJob
from ..trials import run_trial
from .base import MessageRelay, RemoteExecutor
from .spawn_guard import require_main_guard

CONNECT_TIMEOUT = 5.0  # seconds to reach a scheduler address before giving up
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MALLOC_TRIM_THRESHOLD_")


def _require_distributed():
    try:
        import distributed
    except ImportError:  # pragma: no cover - a dependency, but keep the message clear
        raise ImportError("executor='dask' needs dask.distributed: pip install 'distributed'") from None
    return distributed


class DaskChannel:
    """Worker side: ``log_event`` out, one ``distributed.Event`` per trial in."""

    def __init__(self, topic: str, prefix: str) -> None:
        self.topic, self.prefix = topic, prefix
        self._events: dict[int, Any] = {}

    def send(self, number: int, row: dict[str, Any]) -> None:
        from distributed import get_worker

        get_worker().log_event(self.topic, {"trial": number, "row": row})

    def stop_status(self, number: int) -> str | None:
        from distributed import Event

        event = self._events.get(number)
        if event is None:
            event = self._events[number] = Event(f"{self.prefix}-{number}")
        # The kernel knows whether it pruned or stopped the trial; the worker only needs "stop".
        return "stopped" if event.is_set() else None

    def __getstate__(self) -> dict[str, Any]:
        return {"topic": self.topic, "prefix": self.prefix, "_events": {}}


def run_on_worker(train_trial: Any, number: int, params: dict[str, Any], channel: DaskChannel,
                  threads: int | None):
    if threads:
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
    return run_trial(train_trial, number, params, channel)


def connect(address: str, timeout: float | None = None):
    """A ``distributed.Client`` for ``address``, or a ``ConnectionError`` that says what to do."""
    distributed = _require_distributed()
    timeout = CONNECT_TIMEOUT if timeout is None else timeout
    try:
        return distributed.Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as e:
        raise ConnectionError(f"cannot reach the Dask scheduler at {address!r} within {timeout:g} s ({e}). "
                              f"Start the scheduler, check the address, or use executor='dask' for a "
                              f"local cluster") from None


class DaskExecutor(RemoteExecutor):
    """Run trials on Dask.

    ``target`` None starts a ``LocalCluster`` (``n_workers`` processes, default one per core, one
    thread each) and shuts it down in ``close()``, restoring the kernel's thread settings. A
    ``distributed.Client`` or a scheduler address uses that cluster and leaves it running.
    """

    def __init__(self, target: Any = None, n_workers: int | None = None, threads: int = 1,
                 dashboard: bool = False) -> None:
        if n_workers is not None and (isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1):
            raise ValueError(f"n_workers={n_workers!r} is not allowed: must be an integer >= 1")
        self.target, self.n_workers, self.threads, self.dashboard = target, n_workers, threads, dashboard
        self.client = self.cluster = None
        self.slots = 0
        self._owned = False
        if isinstance(target, str):  # fail before any trial if it is unreachable
            self.client = connect(target)
            self._owned = "client"

    # ---- set-up --------------------------------------------------------------------------------
    def _start_local(self) -> None:
        require_main_guard("executor='dask'")
        distributed = _require_distributed()
        import torch

        saved_env = {k: os.environ.get(k) for k in _THREAD_VARS}
        saved_threads = torch.get_num_threads()
        try:
            n = self.n_workers or max(1, (os.cpu_count() or 1) // self.threads)
            # No dashboard unless asked (it imports bokeh); the scheduler's small HTTP server on a free port.
            kwargs = ({"dashboard_address": ":0"} if self.dashboard else
                      {"dashboard_address": None, "scheduler_kwargs": {"dashboard_address": ":0"}})
            self.cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True, **kwargs)
            self.client = distributed.Client(self.cluster)
        finally:
            _restore_threads(saved_env, saved_threads)
        self._owned = "cluster"
        self._saved = (saved_env, saved_threads)

    def open(self, train_trial: Any) -> None:
        distributed = _require_distributed()
        if self.target is None:
            self._start_local()
        elif isinstance(self.target, str):
            if self.client is None:
                self.client = connect(self.target)
            self._owned = "client"
        elif isinstance(self.target, distributed.Client):
            self.client, self._owned = self.target, False
        else:
            raise ValueError(f"executor={self.target!r} is not a distributed.Client or scheduler address")
        self.slots = max(1, sum(self.client.nthreads().values()))
        token = uuid.uuid4().hex[:10]
        self.topic, prefix = f"tunewidgets-{token}", f"tunewidgets-stop-{token}"
        self._inbox: queue.Queue = queue.Queue()
        self.client.subscribe_topic(self.topic, self._on_event)
        self.relay = MessageRelay(lambda timeout: self._inbox.get(timeout=timeout), "tunewidgets-dask-relay")
        self.channel = DaskChannel(self.topic, prefix)
        self._prefix = prefix
        [self._trial] = self.client.scatter([train_trial], broadcast=True, hash=False)
        self.pool = self.client.get_executor(pure=False)

    def _on_event(self, event: Any) -> None:
        _, message = event
        self._inbox.put(("epoch", message["trial"], message["row"]))

    def forward_stop(self, number: int) -> Callable[[str], None]:
        def forward(status: str) -> None:
            from distributed import Event

            try:
                Event(f"{self._prefix}-{number}", client=self.client).set()
            except Exception:  # noqa: BLE001 - the cluster is going away; the trial ends anyway
                pass
        return forward

    # ---- protocol (submit comes from RemoteExecutor) --------------------------------------------------
    def launch(self, job: TrialJob) -> Future:
        return self.pool.submit(run_on_worker, self._trial, job.number, job.params, self.channel, self.threads)

    def close(self) -> None:
        try:
            self.client.unsubscribe_topic(self.topic)
        except Exception:  # noqa: BLE001
            pass
        self._inbox.put(None)
        self.relay.close()
        if self._owned == "cluster":
            saved_env, saved_threads = self._saved
            self.client.close()
            self.cluster.close()
            _restore_threads(saved_env, saved_threads)
            self.client = self.cluster = None
        elif self._owned == "client":
            self.client.close()
            self.client = None


def _restore_threads(saved_env: dict[str, str | None], saved_threads: int) -> None:
    """Undo what starting a LocalCluster does to the kernel: thread variables and torch's pool size."""
    import torch

    for k, v in saved_env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    if torch.get_num_threads() != saved_threads:
        torch.set_num_threads(saved_threads)
