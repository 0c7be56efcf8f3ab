"""Polling for a condition that another thread makes true (training, sweeps, widgets)."""

import time


def wait_for(predicate, timeout=20.0, interval=0.02):
    """True as soon as ``predicate()`` is; False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False
