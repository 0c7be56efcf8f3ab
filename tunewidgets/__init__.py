"""tunewidgets: interactive tuning of PyTorch models in Jupyter, and the same engine headless."""

from .engine import (Callback, Data, DATASETS, EventChannel, Evaluation, MetricEvent, Run, TensorBoardLogger,
                     build_model, count_parameters, describe_device, evaluate, export_runs, history_frame,
                     load_dataset, predict, resolve_device, summary_frame, train)
from .hparams import FIELDS, HParams

__version__ = "0.1.0"

__all__ = ["Callback", "Data", "DATASETS", "EventChannel", "FIELDS", "HParams", "MetricEvent", "Run",
           "build_model", "count_parameters", "describe_device", "load_dataset", "resolve_device", "train",
           "Evaluation", "TensorBoardLogger", "evaluate", "export_runs", "history_frame", "predict", "summary_frame"]
