"""Notebook front-ends (ipywidgets + jupyter_bokeh) over the engine: thin views, no training logic."""

from .bokeh_view import BokehView, bokehjs_loader
from .controls import HParamsControls
from .sweep_panel import SweepPanel
from .train_panel import TrainPanel

__all__ = ["BokehView", "HParamsControls", "SweepPanel", "TrainPanel", "bokehjs_loader"]
