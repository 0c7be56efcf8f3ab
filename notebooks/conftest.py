"""Notebooks run by ``pytest`` use their small budget: nbval kernels inherit this process's environment.

Set ``TUNEWIDGETS_QUICK=0`` to test them with the full budget a reader gets. Every notebook cell is
marked ``slow`` (each notebook starts a kernel), so ``pytest -m "not slow"`` leaves them out.
"""

import os

import pytest

os.environ.setdefault("TUNEWIDGETS_QUICK", "1")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if str(item.fspath).endswith(".ipynb"):
            item.add_marker(pytest.mark.slow)
