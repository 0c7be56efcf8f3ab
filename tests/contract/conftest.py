"""The contract suites keep the kernel's warm workers from one test to the next, as a notebook's sweeps
do, and end them once per module: each executor's promises then hold on workers that earlier sweeps
used, and the suite does not pay a process pool's start (spawn, import torch: ~4 s) in every test."""

import pytest

from helpers.clusters import close_warm_workers_or_dump


@pytest.fixture(autouse=True)
def close_warm_workers():
    """Overrides the suite's per-test clean-up: the module's below ends the workers."""
    yield


@pytest.fixture(autouse=True, scope="module")
def close_warm_workers_after_the_module(request):
    yield
    close_warm_workers_or_dump(request.config)
