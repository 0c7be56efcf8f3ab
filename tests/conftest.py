"""Shared fixtures: small real datasets, and a private HOME for anything that writes config."""

from __future__ import annotations

import pytest

import tunewidgets as tw
from helpers.clusters import close_warm_workers_or_dump
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
    test ends the ones it started, even when it fails (tests/contract/ ends them once per module)."""
    yield
    close_warm_workers_or_dump(request.config)
