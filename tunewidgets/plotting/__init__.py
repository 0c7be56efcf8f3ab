"""Bokeh figures built once and streamed into. Imports bokeh only (no widgets, no engine)."""

from .charts import LRFinderChart
from .curves import LiveCurves

__all__ = ["LiveCurves", "LRFinderChart"]
