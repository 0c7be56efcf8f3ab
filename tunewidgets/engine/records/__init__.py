"""What is kept of runs: the run store (SQLite, ``run_store.py``), tables and files (``export.py``),
and TensorBoard logs (``tensorboard.py``).
"""
