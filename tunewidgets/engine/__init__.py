"""The training engine: data, models, the training loop and background runs. No widget imports."""

from .callbacks import Callback
from .data import Data
from .datasets import DATASETS, load_dataset
from .device import describe_device, resolve_device
from .events import EventChannel, EventQueue, MetricEvent
from .models import build_model, count_parameters
from .run import Run, train

__all__ = ["Callback", "Data", "DATASETS", "load_dataset", "describe_device", "resolve_device", "EventChannel",
           "EventQueue", "MetricEvent", "build_model", "count_parameters", "Run", "train"]
