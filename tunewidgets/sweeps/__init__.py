"""Sweeps: grid, random and Bayesian search with pruning (Optuna ask/tell), in the kernel, in
processes, on Dask, or in groups trained together. No widget imports; dask is imported only when
used.

``launch.py`` builds a sweep, ``study.py`` is the ``Sweep`` a user holds, ``driver.py`` the loop
behind it, ``trials.py`` what trains one trial, ``executors/`` where trials run, ``results.py`` the
ranked table and what is stored, ``strategies.py`` the Optuna samplers and pruners.
"""

from .executors import EXECUTORS, BatchedExecutor, DaskExecutor, ProcessExecutor, ThreadExecutor, make_executor
from .executors.warm import close_workers
from .launch import load_sweep, sweep
from .protocol import Channel, Executor, Trial, TrialHandle, TrialJob, TrialResult
from .results import TrialRecord
from .sklearn import sweep_estimator
from .strategies import PRUNERS, STRATEGIES
from .study import Sweep

__all__ = ["EXECUTORS", "BatchedExecutor", "DaskExecutor", "Executor", "ProcessExecutor", "PRUNERS", "Channel", "Trial", "TrialHandle",
           "STRATEGIES", "Sweep", "ThreadExecutor", "TrialJob", "close_workers", "TrialRecord", "TrialResult", "load_sweep",
           "make_executor", "sweep", "sweep_estimator"]
