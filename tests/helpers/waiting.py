"""Polling for a condition that another thread makes true (training, sweeps, widgets).

Every test waits through these two: a hand-written ``while ...: time.sleep(...)`` loop is not needed.
A deliberate sleep that proves nothing happens meanwhile (a paused run holds) is not a wait and stays
a plain ``time.sleep``."""

import time

TEST_TIMEOUT = 300.0
"""For a wait that had no deadline of its own: what pytest-timeout gives the whole test (pyproject's
``timeout``), so such a wait never gives up sooner than the test would have been ended anyway."""


def wait_for(predicate, timeout=20.0, interval=0.02):
    """The first truthy value ``predicate()`` returns (so a caller can keep what it found); after
    ``timeout`` seconds, its last (falsy) value. It is asked once more at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def wait_until(predicate, timeout=20.0, what="the condition", interval=0.02):
    """``wait_for``, failing the test with ``what`` it waited for when the time runs out."""
    value = wait_for(predicate, timeout, interval)
    assert value, f"timed out after {timeout} s waiting for {what}"
    return value
