"""Many configurations of one network trained at once, in one vectorized pass per batch.

``check.py`` says whether a set of configurations can share a group, ``stacked.py`` holds the
members' parameters and forward passes, ``optim.py`` the per-member optimizer step and schedules,
``group.py`` the loop (on the engine's shared ``recipe.py``, like the single-model loop).
"""

from .check import STRUCTURE, can_batch
from .group import GroupLoop, train_batched

__all__ = ["STRUCTURE", "GroupLoop", "can_batch", "train_batched"]
