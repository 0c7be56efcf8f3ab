"""The threads background training runs in: long-lived, reused, and quiet when idle.

- Reused: a fresh thread pays a warm-up on its first run (about 10% of a 0.2 s CNN run, measured),
  so background runs (the TrainPanel's, in-kernel sweep trials, the range test) take an idle thread
  from one shared pool, which keeps its threads.
- Quiet: before another thread trains, the launching thread frees its idle OpenMP team, and a
  training thread frees its own when the run ends (``free_idle_thread_team``): two teams
  alive at once make libgomp stop spin-waiting, which slows training 2-4x on small models.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

import torch


MAX_TRAINING_THREADS = 32  # threads are made only when that many runs train at once


@functools.lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(MAX_TRAINING_THREADS, thread_name_prefix="tunewidgets-train")


def use_torch_threads(threads: int) -> None:
    """Torch's intra-op pool at ``threads``; set only on a change, since each set rebuilds the pool."""
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def _train(threads: int, fn: Callable[..., Any], *args: Any) -> Any:
    use_torch_threads(threads)  # a reused thread keeps the count it had: follow the kernel's
    try:
        return fn(*args)
    finally:
        free_idle_thread_team()


def train_in_background(fn: Callable[..., Any], *args: Any) -> Future:
    """Call ``fn(*args)`` in a training thread with this thread's torch thread count; this thread's
    idle OpenMP team is freed first."""
    free_idle_thread_team()
    return _pool().submit(_train, torch.get_num_threads(), fn, *args)


def train_in_own_thread(fn: Callable[..., Any], *args: Any, name: str = "tunewidgets-member") -> Future:
    """Call ``fn(*args)`` in a new thread of its own, as ``train_in_background`` does: for runs that wait
    for one another (a population's members), which could hold every thread of the shared pool waiting."""
    future: Future = Future()
    threads = torch.get_num_threads()

    def target() -> None:
        try:
            future.set_result(_train(threads, fn, *args))
        except BaseException as e:  # noqa: BLE001 - handed to whoever waits on the future
            future.set_exception(e)

    free_idle_thread_team()
    threading.Thread(target=target, name=name, daemon=True).start()
    return future


def free_idle_thread_team() -> None:
    """Let the calling thread's OpenMP worker threads go before another thread trains.

    Why: libgomp counts the OpenMP threads of every team in the process, and once there are more
    than CPUs (the kernel's own team, left from earlier torch work on the main thread, plus the
    training thread's team) it stops spin-waiting between parallel regions, so each of the many
    small regions of a training step pays a sleep and a wake-up. Measured on 2 cores: a small CNN
    2.6x and the default MLP 4x slower than on the main thread. With the idle team freed (OpenMP
    5.0's ``omp_pause_resource_all``), a background run is as fast as the main thread; the caller's
    team comes back on its next parallel region. A no-op where the runtime lacks the call.
    """
    pause = _omp_pause_resource_all()
    if pause is not None:
        pause(2)  # omp_pause_hard: the thread pool itself is released


@functools.lru_cache(maxsize=1)
def _omp_pause_resource_all():
    """The OpenMP runtime torch loaded (libgomp, or LLVM's libomp) exports it; None elsewhere."""
    try:
        return ctypes.CDLL(None).omp_pause_resource_all
    except (AttributeError, OSError):
        return None
