"""The built-in trainer: a model built from ``HParams`` on a ``tw.Data``, trained by the engine's loop.

``trainer.py`` is the trainer a run asks, ``loop.py`` the single-model loop, ``recipe.py`` what every loop
shares (the seeded model, batches, optimizers, schedules, early stopping); beside them the models, the
data and built-in datasets, metrics and evaluation, the device and memory, the checks made before
training, and the learning-rate range test.
"""
