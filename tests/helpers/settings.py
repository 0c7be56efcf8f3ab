"""The small, fast training configuration the tests train with, defined once.

``SMALL`` is what the ``base`` fixture (conftest.py) returns; a test that needs something else says
so with ``SMALL.replace(...)`` (or ``base.replace(...)``), so every difference from it is explicit."""

import tunewidgets as tw

SMALL = tw.HParams(epochs=3, units=32, layers=1, batch_size=128, device="cpu")
"""Small, fast trials on the CPU: one hidden layer of 32 units, batches of 128, 3 epochs."""
