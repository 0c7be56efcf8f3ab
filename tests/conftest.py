"""Shared fixtures: small real datasets, and a private HOME for anything that writes config."""

from __future__ import annotations

import faulthandler

import pytest

import tunewidgets as tw
from helpers.settings import SMALL


@pytest.fixture(scope="session")
def digits():
    return tw.load_dataset("digits")


@pytest.fixture(scope="session")
def digits_images():
    return tw.load_dataset("digits", images=True)


@pytest.fixture(scope="session")
def regression_data():
    return tw.load_dataset("diabetes")


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Tiny models train fastest on one torch thread, and the test suite's Dask and process workers
    must not oversubscribe a 2-core machine (measured: 15-20x slower when they do)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def base():
    """Small, fast trials on the CPU: what the sweep tests vary the rest from."""
    return SMALL


@pytest.fixture(autouse=True)
def close_warm_workers(request):
    """Sweeps keep the Dask clusters and worker processes they start warm for the kernel's lifetime; a
    test ends the ones it started, even when it fails.

    Closing must not hang the suite (a deadlocked pool once did, on Python 3.12). pytest-timeout stops
    timing a test once it has failed, so this teardown keeps its own limit: past two minutes, every
    thread's stack is printed and the run ends."""
    yield
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():  # so the stacks reach the terminal, not a capture file
        faulthandler.dump_traceback_later(120, exit=True)
        try:
            tw.sweeps.close_workers()
        finally:
            faulthandler.cancel_dump_traceback_later()
