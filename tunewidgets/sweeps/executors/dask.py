"""The Dask executor: trials as tasks on the kernel's warm LocalCluster, or on a cluster the user has.

Metrics stream back with ``get_worker().log_event`` to a topic the kernel subscribes to; a
``distributed.Event`` per trial, checked each epoch, stops pruned trials. A worker that dies
mid-trial is handled by Dask: the task is rescheduled (the trial's data is a task result, computed again
if its last holder died), or fails with ``KilledWorker`` (the trial is
then recorded as failed). dask and distributed are imported only here, when used.
"""

from __future__ import annotations

import os
import queue
import time
import uuid
from concurrent.futures import Future
from typing import Any, Callable

from ..protocol import Channel, TrialJob
from ...engine.control.threads import use_torch_threads
from ...guards import require_count
from ..trials import run_trial
from . import warm
from .base import MessageRelay, RemoteExecutor
from .spawn_guard import require_main_guard
from ...statuses import Status

CONNECT_TIMEOUT = 5.0  # seconds to reach a scheduler address before giving up


def _require_distributed():
    try:
        import distributed
    except ImportError:  # pragma: no cover - a dependency, but keep the message clear
        raise ImportError("executor='dask' needs dask.distributed: pip install 'distributed'") from None
    return distributed


_STOPPED: set[tuple[str, int]] = set()  # in a worker process: (sweep, trial) the kernel asked to stop
EVENT_CHECK_SECONDS = 1.0  # how often a trial also asks the scheduler, in case a push missed its worker
# Without a pruner, a trial's rows go out at most this often (the first at once, the rest gathered, all
# before the trial returns): on 2 cores an event per 13 ms digits epoch cost 8-10% of a sweep's time,
# in the worker and in the kernel's scheduler, and twenty updates a second is still live to a person.
# With a pruner every row goes at once: a gathered row would reach the pruner epochs late.
ROWS_EVERY_SECONDS = 0.05


_PAUSED: set[tuple[str, int]] = set()  # in a worker process: (sweep, trial) paused by the kernel


async def mark_paused(prefix: str, number: int, paused: bool) -> None:
    """Runs in every worker's event loop: the trial waits at its next epoch's end while paused."""
    (_PAUSED.add if paused else _PAUSED.discard)((prefix, number))


async def mark_stopped(prefix: str, number: int) -> None:
    """Runs in every worker's event loop (``client.run``, fire and forget, which Dask allows for
    coroutines only): remember that the kernel stopped this trial."""
    _STOPPED.add((prefix, number))


class DaskChannel(Channel):
    """Worker side: rows go out with ``log_event`` (``ROWS_EVERY_SECONDS``); stops come in pushed to
    every worker, so the check each epoch is a local lookup (a round trip to the scheduler per epoch
    measured 0.45 ms and slowed small trials), with the trial's ``distributed.Event`` asked at most
    once a second as a fallback."""

    def __init__(self, topic: str, prefix: str, rows_every: float = ROWS_EVERY_SECONDS) -> None:
        self.topic, self.prefix, self.rows_every = topic, prefix, rows_every
        self._events: dict[int, Any] = {}
        self._asked: dict[int, float] = {}
        self._unsent: dict[int, list[dict[str, Any]]] = {}
        self._sent_at: dict[int, float] = {}

    def send(self, number: int, row: dict[str, Any]) -> None:
        self._unsent.setdefault(number, []).append(row)
        if time.monotonic() - self._sent_at.get(number, -self.rows_every) >= self.rows_every:
            self.flush(number)

    def flush(self, number: int) -> None:
        """Send the trial's rows not sent yet, as one event."""
        rows = self._unsent.pop(number, None)
        if rows:
            from distributed import get_worker

            self._sent_at[number] = time.monotonic()
            get_worker().log_event(self.topic, {"trial": number, "rows": rows})

    def stop_status(self, number: int) -> str | None:
        # The kernel knows whether it pruned or stopped the trial; the worker only needs "stop".
        if (self.prefix, number) in _STOPPED:
            return Status.STOPPED
        now = time.monotonic()
        if now - self._asked.get(number, -EVENT_CHECK_SECONDS) < EVENT_CHECK_SECONDS:
            return None
        self._asked[number] = now
        from distributed import Event

        event = self._events.get(number)
        if event is None:
            event = self._events[number] = Event(f"{self.prefix}-{number}")
        try:
            return Status.STOPPED if event.is_set() else None
        except Exception:  # noqa: BLE001 - the worker's client is not connected (seen as a None scheduler
            # on Python 3.12): the fallback cannot ask now, and the pushed stop still reaches the trial
            self._events.pop(number, None)
            return None

    def paused(self, number: int) -> bool:
        if (self.prefix, number) in _PAUSED:
            self.flush(number)  # a paused trial's curve shows every epoch it trained
            return True
        return False

    def __getstate__(self) -> dict[str, Any]:
        return {"topic": self.topic, "prefix": self.prefix, "rows_every": self.rows_every}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["topic"], state["prefix"], state["rows_every"])


def run_on_worker(train_trial: Any, number: int, params: dict[str, Any], channel: DaskChannel,
                  threads: int | None):
    if threads:
        use_torch_threads(threads)
    try:
        return run_trial(train_trial, number, params, channel)
    finally:
        channel.flush(number)  # the rows reach the kernel before the result does


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

    ``target`` None uses the kernel's own ``LocalCluster`` (``n_workers`` processes, default one per
    core, ``threads`` each): started by the first sweep that needs it, with torch imported in every
    worker, and kept warm for later sweeps (``warm.py``). A ``distributed.Client`` or a scheduler
    address uses that cluster and leaves it running.
    """

    def __init__(self, target: Any = None, n_workers: int | None = None, threads: int = 1,
                 dashboard: bool = False) -> None:
        if n_workers is not None:
            require_count("n_workers", n_workers)
        self.target, self.threads, self.dashboard = target, threads, dashboard
        self.n_workers = n_workers or max(1, (os.cpu_count() or 1) // threads)
        self.client = self.cluster = None
        self.slots = 0
        self._owned = False
        if isinstance(target, str):  # fail before any trial if it is unreachable
            self.client = connect(target)
            self._owned = True

    def start_note(self) -> str | None:
        """What ``open`` will be busy with, for a progress line; None when the cluster is warm or given."""
        if self.target is not None or warm.has_cluster(self.n_workers, self.threads):
            return None
        # checked here, in the caller's thread: open() will run in the sweep's thread, which
        # cannot see the script's frames
        require_main_guard("executor='dask'")
        return f"starting {self.n_workers} Dask worker{'s' if self.n_workers != 1 else ''}"

    def open(self, train_trial: Any) -> None:
        distributed = _require_distributed()
        if self.target is None:
            require_main_guard("executor='dask'")
            self.cluster, self.client = warm.local_cluster(self.n_workers, self.threads, self.dashboard)
        elif isinstance(self.target, str):
            if self.client is None:
                self.client = connect(self.target)
            self._owned = True
        elif isinstance(self.target, distributed.Client):
            self.client = self.target
        else:
            raise ValueError(f"executor={self.target!r} is not a distributed.Client or scheduler address")
        self.slots = 2 * max(1, sum(self.client.nthreads().values()))
        token = uuid.uuid4().hex[:10]
        self.topic, prefix = f"tunewidgets-{token}", f"tunewidgets-stop-{token}"
        self._inbox: queue.Queue = queue.Queue()
        self.client.subscribe_topic(self.topic, self._on_event)
        self.relay = MessageRelay(lambda timeout: self._inbox.get(timeout=timeout), "tunewidgets-dask-relay")
        self.channel = DaskChannel(self.topic, prefix)
        self.judged_channel = DaskChannel(self.topic, prefix, rows_every=0.0)
        self._prefix = prefix
        self._trial = self._place(train_trial)
        self.pool = self.client.get_executor(pure=False)

    def _place(self, train_trial: Any) -> Any:
        """The trial function (with its data) as a task's result, which each worker fetches once. Not
        scattered: Dask's memory manager soon drops the copies a broadcast made, and scattered data
        whose last holder dies is lost for good, failing every later trial; a task's result is computed
        again, so a dead worker costs only its own trial's retry."""
        import warnings

        import cloudpickle

        payload = cloudpickle.dumps(train_trial)
        with warnings.catch_warnings():  # large data travels in the graph once, which is the point
            warnings.filterwarnings("ignore", message=".*large graph.*")
            placed = self.client.submit(cloudpickle.loads, payload, pure=False, key=f"tunewidgets-trial-{self.topic}")
        # In memory before the first trial and on every worker, as a broadcast put it: trials submitted
        # while it was still computing were all given to the worker that computed it (measured: two
        # trials, two workers, one trial waiting), and a copy each saves the first trials' fetches.
        placed.result()
        try:
            self.client.replicate([placed])
        except Exception:  # noqa: BLE001 - a copy each is a speed-up; the trials fetch it otherwise
            pass
        return placed

    def _on_event(self, event: Any) -> None:
        _, message = event
        # a worker with an older tunewidgets (a user's own cluster) sends one "row" per event
        for row in message["rows"] if "rows" in message else [message["row"]]:
            self._inbox.put(("epoch", message["trial"], row))

    def forward_stop(self, number: int) -> Callable[[str], None]:
        def forward(status: str) -> None:
            from distributed import Event

            try:
                self.client.run(mark_stopped, self._prefix, number, wait=False)
                Event(f"{self._prefix}-{number}", client=self.client).set()
            except Exception:  # noqa: BLE001 - the cluster is going away; the trial ends anyway
                pass
        return forward

    def forward_pause(self, number: int) -> Callable[[bool], None]:
        def forward(paused: bool) -> None:
            try:
                self.client.run(mark_paused, self._prefix, number, paused, wait=False)
            except Exception:  # noqa: BLE001 - the cluster is going away; the trial ends anyway
                pass
        return forward

    # ---- protocol (submit comes from RemoteExecutor) --------------------------------------------------
    def launch(self, job: TrialJob) -> Future:
        channel = self.judged_channel if job.judged_each_epoch else self.channel
        return self.pool.submit(run_on_worker, self._trial, job.number, job.params, channel, self.threads)

    def close(self) -> None:
        try:
            self.client.unsubscribe_topic(self.topic)
        except Exception:  # noqa: BLE001
            pass
        try:  # the workers stay warm for later sweeps: they must not keep this sweep's data
            self._trial.release()
        except Exception:  # noqa: BLE001
            pass
        self._inbox.put(None)
        self.relay.close()
        if self._owned:  # a client this executor connected by address; the kernel's cluster stays warm
            self.client.close()
            self.client = None
