"""The Dask cluster tests share: two single-thread worker processes, closed through this handle even
when a test fails, with the kernel's thread settings put back (starting a LocalCluster changes them)."""

import contextlib
import os

import torch


@contextlib.contextmanager
def local_dask_cluster():
    """Yield ``(cluster, client)``; on exit close both and restore OMP_NUM_THREADS and torch's threads."""
    import distributed

    saved = os.environ.get("OMP_NUM_THREADS"), torch.get_num_threads()
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       scheduler_kwargs={"dashboard_address": ":0"})
    try:
        client = distributed.Client(cluster)
        try:
            yield cluster, client
        finally:
            client.close()
    finally:
        cluster.close()
        if saved[0] is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = saved[0]
        torch.set_num_threads(saved[1])


def close_warm_workers_or_dump(config) -> None:
    """End the warm Dask clusters and worker processes the kernel keeps for later sweeps.

    Closing must not hang the suite (a deadlocked pool once did, on Python 3.12). pytest-timeout stops
    timing a test once it has failed, so this keeps its own limit: past two minutes, every thread's
    stack is printed and the run ends."""
    import faulthandler

    import tunewidgets as tw

    capture = config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():  # so the stacks reach the terminal, not a capture file
        faulthandler.dump_traceback_later(120, exit=True)
        try:
            tw.sweeps.close_workers()
        finally:
            faulthandler.cancel_dump_traceback_later()
