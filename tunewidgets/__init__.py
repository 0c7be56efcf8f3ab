"""tunewidgets: interactive tuning of PyTorch models in Jupyter, and the same engine headless."""

from .engine import (Callback, Data, DATASETS, EventChannel, MetricEvent, Run, build_model, count_parameters,
                     describe_device, load_dataset, resolve_device, train)
from .hparams import FIELDS, HParams

__version__ = "0.1.0"

__all__ = ["Callback", "Data", "DATASETS", "EventChannel", "FIELDS", "HParams", "MetricEvent", "Run",
           "build_model", "count_parameters", "describe_device", "load_dataset", "resolve_device", "train"]
