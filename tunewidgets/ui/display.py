"""``show``: put static Bokeh figures in the notebook through the same widget the panels use."""

from __future__ import annotations

from typing import Any

from .base.bokeh_view import BokehView


def show(*figures: Any, ncols: int | None = None) -> BokehView:
    """Display one or more Bokeh figures (side by side with ``ncols``) and return the view.

    Example::

        from tunewidgets.plotting.compare import runs_figure
        tw.show(runs_figure(runs, "val_loss"), runs_figure(runs, "val_accuracy"), ncols=2)
    """
    from bokeh.layouts import column, gridplot
    from IPython.display import display

    if not figures:
        raise ValueError("show() needs at least one figure")
    layout = figures[0] if len(figures) == 1 else (
        gridplot(list(figures), ncols=ncols, toolbar_location="right") if ncols else column(*figures))
    view = BokehView(layout)
    display(view)
    return view
