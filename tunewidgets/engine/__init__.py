"""The training engine: data, models, the training loop and background runs. No widget imports."""

from .callbacks import Callback
from .checks import require_data
from .control import RunControl
from .data import Data
from .datasets import DATASETS, load_dataset
from .device import describe_device, resolve_device
from .evaluation import Evaluation, evaluate, predict
from .events import EventChannel, EventQueue, MetricEvent
from .export import export_runs, history_frame, summary_frame
from .models import build_model, count_parameters
from .params import Params
from .report import Report, StopTraining
from .run import Run
from .training import train
from .tensorboard import TensorBoardLogger

__all__ = ["Callback", "Params", "Report", "StopTraining", "RunControl", "require_data", "Data", "DATASETS", "load_dataset", "describe_device", "resolve_device", "EventChannel",
           "EventQueue", "MetricEvent", "build_model", "count_parameters", "Run", "train", "Evaluation", "evaluate",
           "predict", "export_runs", "history_frame", "summary_frame", "TensorBoardLogger"]
