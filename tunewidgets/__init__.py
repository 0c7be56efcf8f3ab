"""tunewidgets: interactive tuning of PyTorch models in Jupyter, and the same engine headless."""

from .engine import (Callback, Data, DATASETS, EventChannel, Evaluation, MetricEvent, Params, Report, Run,
                     StopTraining, TensorBoardLogger,
                     build_model, count_parameters, describe_device, evaluate, export_runs, history_frame,
                     load_dataset, predict, resolve_device, summary_frame, train)
from .hparams import FIELDS, HParams
from .engine.builtin.lr_finder import LRFinderResult, lr_find
from .space import Choice, IntRange, LogUniform, Space, Uniform
from .objective import Objective
from .sweeps import Sweep, load_sweep, sweep, sweep_estimator

__version__ = "0.1.0"

__all__ = ["Callback", "Data", "Params", "Report", "StopTraining", "DATASETS", "EventChannel", "FIELDS", "HParams", "MetricEvent", "Run",
           "build_model", "count_parameters", "describe_device", "load_dataset", "resolve_device", "train",
           "Evaluation", "TensorBoardLogger", "evaluate", "export_runs", "history_frame", "predict", "summary_frame",
           "LRFinderResult", "lr_find", "TrainPanel", "SweepPanel", "show",
           "Objective", "Space", "LogUniform", "Uniform", "IntRange", "Choice", "sweep", "Sweep", "load_sweep", "sweep_estimator"]


def __getattr__(name):  # widgets load on first use, so the engine imports without ipywidgets/bokeh
    if name == "TrainPanel":
        from .ui.train.panel import TrainPanel
        return TrainPanel
    if name == "SweepPanel":
        from .ui.sweep.panel import SweepPanel
        return SweepPanel
    if name == "show":
        from .ui.display import show
        return show
    raise AttributeError(f"module 'tunewidgets' has no attribute {name!r}")
