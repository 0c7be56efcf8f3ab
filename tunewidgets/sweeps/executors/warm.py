"""Workers that outlive a sweep: started once per kernel, reused by later sweeps, closed at exit.

Starting workers is the expensive part of a small parallel sweep: a Dask LocalCluster starts in
half a second, but each worker then imports torch (~3.4 s measured), and a spawned pool process
does the same. The first sweep pays it; later sweeps with the same sizes find the workers warm.

- Dask: one ``LocalCluster`` per (workers, threads) size, shared by every sweep that asks for it.
- Process slots: a set of one-process pools with their ``Manager``, lent to one sweep at a time
  (a sweep fills every slot) and taken back when it ends; a second sweep running at the same time
  gets a set of its own.

``close_workers()`` (``tw.sweeps.close_workers``) ends them all now; it also runs at exit.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from typing import Any

_lock = threading.Lock()  # the dicts below
_starting = threading.Lock()  # a LocalCluster being started
_clusters: dict[tuple[int, int], tuple[Any, Any]] = {}
_idle_slots: dict[tuple[int, int], list["ProcessSlots"]] = {}
_lent_slots: list["ProcessSlots"] = []
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MALLOC_TRIM_THRESHOLD_")


def pin_worker_threads(threads: int) -> None:
    """In a worker process: torch and its math libraries on ``threads`` threads (workers share the cores)."""
    for var in THREAD_VARS[:3]:
        os.environ[var] = str(threads)
    from ...engine.control.threads import use_torch_threads  # torch loads only now, after the variables are set

    use_torch_threads(threads)


# ---- Dask -----------------------------------------------------------------------------------------
def has_cluster(n_workers: int, threads: int) -> bool:
    with _lock:
        return (n_workers, threads) in _clusters


def local_cluster(n_workers: int, threads: int, dashboard: bool = False) -> tuple[Any, Any]:
    """The kernel's ``(LocalCluster, Client)`` of that size, started on first use with torch imported
    in every worker. Starting a cluster changes the kernel's thread settings; they are put back."""
    key = (n_workers, threads)
    # One cluster starts at a time (starting one changes the process's thread settings), under a lock of
    # its own: the seconds it takes do not hold up has_cluster() or a process sweep giving its slots back.
    with _starting:
        with _lock:
            if key in _clusters:
                return _clusters[key]
        import dask
        import distributed
        import torch

        saved_env, saved_threads = {k: os.environ.get(k) for k in THREAD_VARS}, torch.get_num_threads()
        try:
            # No dashboard unless asked (it imports bokeh); the scheduler's small HTTP server on a free port.
            kwargs = ({"dashboard_address": ":0"} if dashboard else
                      {"dashboard_address": None, "scheduler_kwargs": {"dashboard_address": ":0"}})
            with dask.config.set(quiet_cluster_config(dashboard)):
                cluster = distributed.LocalCluster(n_workers=n_workers, threads_per_worker=threads,
                                                   processes=True, **kwargs)
            client = distributed.Client(cluster, set_as_default=False)
            client.run(pin_worker_threads, threads)  # and so torch is imported once, now
        finally:
            restore_threads(saved_env, saved_threads)
        with _lock:
            _clusters[key] = (cluster, client)
        return cluster, client


def quiet_cluster_config(dashboard: bool) -> dict[str, Any]:
    """Dask settings for the kernel's own cluster: fewer wake-ups in every worker and the scheduler.

    With the defaults (a stack sample every 10 ms for the dashboard's profile page, an event-loop tick
    every 20 ms, a system sample every 500 ms) a 16-trial digits sweep on 2 workers took 2.5 s; with
    these, 2.3 s, about as fast as the process executor. The memory checks keep their 100 ms: they stop
    a trial that runs away with the memory. A user's own cluster keeps its settings.
    """
    config = {"distributed.admin.tick.interval": "500ms", "distributed.admin.system-monitor.interval": "2s"}
    if not dashboard:  # the profile is only ever shown on the dashboard
        config["distributed.worker.profile.enabled"] = False
    return config


def restore_threads(saved_env: dict[str, str | None], saved_threads: int) -> None:
    """Undo what starting a LocalCluster does to the kernel: thread variables and torch's pool size."""
    from ...engine.control.threads import use_torch_threads

    for k, v in saved_env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    use_torch_threads(saved_threads)


# ---- process slots -----------------------------------------------------------------------------------
class ProcessSlots:
    """``n`` one-process spawn pools of ``threads`` torch threads each, and the Manager their sweeps'
    queues live in. A dead slot is replaced by ``restart(i)``."""

    def __init__(self, n: int, threads: int) -> None:
        self.key = (n, threads)
        self.context = multiprocessing.get_context("spawn")
        self.manager = self.context.Manager()
        self.pools = [self._new_pool() for _ in range(n)]

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(1, mp_context=self.context, initializer=pin_worker_threads,
                                   initargs=(self.key[1],))

    def restart(self, i: int) -> ProcessPoolExecutor:
        self.pools[i].shutdown(wait=False, cancel_futures=True)
        self.pools[i] = self._new_pool()
        return self.pools[i]

    def close(self) -> None:
        for pool in self.pools:
            pool.shutdown(wait=True, cancel_futures=True)
        self.manager.shutdown()


def has_idle_slots(n: int, threads: int) -> bool:
    with _lock:
        return bool(_idle_slots.get((n, threads)))


def borrow_slots(n: int, threads: int) -> ProcessSlots:
    """An idle set of that size, or a new one."""
    with _lock:
        idle = _idle_slots.get((n, threads))
        slots = idle.pop() if idle else None
    slots = slots or ProcessSlots(n, threads)
    with _lock:
        _lent_slots.append(slots)
    return slots


def give_back(slots: ProcessSlots) -> None:
    """Keep a sweep's slots for the next sweep of that size; one idle set per size is enough."""
    with _lock:
        if slots in _lent_slots:
            _lent_slots.remove(slots)
        idle = _idle_slots.setdefault(slots.key, [])
        spare = bool(idle)
        if not spare:
            idle.append(slots)
    if spare:
        slots.close()


def discard(slots: ProcessSlots, wait: bool = True) -> None:
    """End slots that no sweep should borrow again; ``wait=False`` where a process may still be busy
    with a trial (it exits when that ends)."""
    with _lock:
        if slots in _lent_slots:
            _lent_slots.remove(slots)
    if wait:
        slots.close()
        return
    for pool in slots.pools:
        pool.shutdown(wait=False, cancel_futures=True)
    slots.manager.shutdown()


# ---- the end -------------------------------------------------------------------------------------------
def close_workers() -> None:
    """End every worker the sweeps of this kernel started (Dask clusters, process slots)."""
    with _lock:
        clusters = list(_clusters.values())
        slot_sets = [s for sets in _idle_slots.values() for s in sets] + list(_lent_slots)
        _clusters.clear(), _idle_slots.clear(), _lent_slots.clear()
    for slots in slot_sets:
        try:
            slots.close()
        except Exception:  # noqa: BLE001 - at exit, end what can be ended
            pass
    for cluster, client in clusters:
        try:
            client.close()
            cluster.close()
        except Exception:  # noqa: BLE001
            pass


atexit.register(close_workers)
