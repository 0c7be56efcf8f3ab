"""Sweeps: grid, random and Bayesian search with pruning (Optuna ask/tell), in the kernel, in
processes, on Dask, or in groups trained together. No widget imports; dask is imported only when
used."""

from .batched_executor import BatchedExecutor
from .dask_executor import DaskExecutor
from .executors import ProcessExecutor, ThreadExecutor, make_executor
from .protocol import Executor, Reporter, TrialJob, TrialResult
from .sklearn import sweep_estimator
from .strategies import PRUNERS, STRATEGIES
from .study import Sweep, load_sweep, sweep

__all__ = ["BatchedExecutor", "DaskExecutor", "Executor", "ProcessExecutor", "PRUNERS", "Reporter", "STRATEGIES",
           "Sweep", "ThreadExecutor", "TrialJob", "TrialResult", "load_sweep", "make_executor", "sweep", "sweep_estimator"]
