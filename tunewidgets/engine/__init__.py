"""The training engine, no widget imports. A run and the one place that picks its trainer (``run.py``),
``tw.train`` (``training.py``), and the rooms: ``control/`` (what any run offers), ``builtin/`` (the built-in
trainer), ``fit/`` (a training function of yours), ``batched/`` (many configurations at once),
``population/`` (population-based training) and ``records/`` (what is kept)."""

from .control.callbacks import Callback
from .builtin.checks import require_data
from .control.run_control import RunControl
from .builtin.data import Data
from .builtin.datasets import DATASETS, load_dataset
from .builtin.device import describe_device, resolve_device
from .builtin.evaluation import Evaluation, evaluate, predict
from .control.events import EventChannel, EventQueue, MetricEvent
from .records.export import export_runs, history_frame, summary_frame
from .builtin.models import build_model, count_parameters
from .fit.params import Params
from .fit.report import Report, StopTraining
from .run import Run
from .training import train
from .records.tensorboard import TensorBoardLogger

__all__ = ["Callback", "Params", "Report", "StopTraining", "RunControl", "require_data", "Data", "DATASETS", "load_dataset", "describe_device", "resolve_device", "EventChannel",
           "EventQueue", "MetricEvent", "build_model", "count_parameters", "Run", "train", "Evaluation", "evaluate",
           "predict", "export_runs", "history_frame", "summary_frame", "TensorBoardLogger"]
