"""Notebooks run by ``pytest`` use their small budget: nbval kernels inherit this process's environment.

Set ``TUNEWIDGETS_QUICK=0`` to test them with the full budget a reader gets.
"""

import os

os.environ.setdefault("TUNEWIDGETS_QUICK", "1")
