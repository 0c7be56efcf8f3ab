"""Executors: where trials run. ``make_executor`` turns what a user passes into one.

- ``thread`` (default): one trial at a time in a kernel thread, on the kernel's device;
- ``process``: a spawn process pool, one torch thread per worker;
- ``dask``: a LocalCluster it starts, a ``distributed.Client``, or a scheduler address;
- ``batched``: trials of the same network structure trained together in one vectorized pass;
- or any object with ``slots``, ``open``, ``submit`` and ``close`` (``sweeps/protocol.py``).
"""

from __future__ import annotations

from typing import Any

from ..protocol import Executor
from .base import LocalChannel, MessageRelay, RemoteExecutor
from .batched import BatchedExecutor
from .dask import DaskExecutor
from .process import ProcessExecutor
from .thread import ThreadExecutor

EXECUTORS = ("thread", "process", "dask", "batched")

__all__ = ["EXECUTORS", "BatchedExecutor", "DaskExecutor", "LocalChannel", "MessageRelay", "ProcessExecutor",
           "RemoteExecutor", "ThreadExecutor", "make_executor"]


def make_executor(executor: Any, group_size: int | str | None = None) -> Executor:
    """``"thread"``, ``"process"``, ``"dask"``, ``"batched"`` (``group_size`` trials train together),
    a ``distributed.Client``, a scheduler address, or an object following the ``Executor`` protocol."""
    if isinstance(executor, str) and executor == "batched":
        return BatchedExecutor() if group_size is None else BatchedExecutor(group_size)
    if group_size is not None:
        raise ValueError(f"group_size={group_size!r} only applies to executor='batched', not executor={executor!r}")
    if executor is None or executor == "thread":
        return ThreadExecutor()
    if executor == "process":
        return ProcessExecutor()
    if isinstance(executor, str):
        if executor == "dask" or "://" in executor or ":" in executor:
            return DaskExecutor(None if executor == "dask" else executor)
        raise ValueError(f"executor={executor!r} is not allowed: must be one of {EXECUTORS}, a Dask scheduler "
                         f"address such as 'tcp://host:8786', a distributed.Client, or an executor object")
    if type(executor).__name__ == "Client" and type(executor).__module__.startswith("distributed"):
        return DaskExecutor(executor)
    if all(hasattr(executor, name) for name in ("slots", "open", "submit", "close")):
        return executor
    raise ValueError(f"executor={executor!r} is not allowed: must be one of {EXECUTORS}, a Dask scheduler "
                     f"address, a distributed.Client, or an object with slots, open, submit and close")
