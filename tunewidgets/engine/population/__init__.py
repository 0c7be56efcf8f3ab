"""Population-based training in the engine. ``decide.py`` chooses which members copy which and where
their values move; ``exploit.py`` asks it and records each jump in the member's lineage, for
``members.py`` (runs that take turns) and the batched group (its stacked rows), which copy the
weights; ``schedule.py`` trains one model along the values a member lived.
"""
