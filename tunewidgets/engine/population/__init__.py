"""Population-based training in the engine. ``decide.py`` chooses which members copy which and where
their values move; ``members.py`` applies it between runs that take turns (the batched group applies
it in its stacked rows); ``schedule.py`` trains one model along the values a member lived.
"""
