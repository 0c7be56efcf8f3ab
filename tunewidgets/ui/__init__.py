"""Notebook front-ends (ipywidgets + jupyter_bokeh) over the engine: thin views, no training logic."""

from .base.bokeh_view import BokehView, bokehjs_loader
from .train.controls import HParamsControls
from .sweep.panel import SweepPanel
from .train.panel import TrainPanel

__all__ = ["BokehView", "HParamsControls", "SweepPanel", "TrainPanel", "bokehjs_loader"]
