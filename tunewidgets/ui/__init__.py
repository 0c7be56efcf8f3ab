"""Notebook front-ends (ipywidgets + jupyter_bokeh) over the engine: thin views, no training logic."""

from .bokeh_view import BokehView, load_bokehjs
from .controls import HParamsControls
from .train_panel import TrainPanel

__all__ = ["BokehView", "HParamsControls", "TrainPanel", "load_bokehjs"]
