"""Notebook front-ends (ipywidgets + jupyter_bokeh) over the engine: thin views, no training logic."""

from .bokeh_view import BokehView, load_bokehjs
from .controls import HParamsControls
from .sweep_panel import SweepPanel
from .train_panel import TrainPanel

__all__ = ["BokehView", "HParamsControls", "SweepPanel", "TrainPanel", "load_bokehjs"]
