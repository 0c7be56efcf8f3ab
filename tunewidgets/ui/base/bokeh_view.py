"""A jupyter_bokeh widget that does not double streamed data and is current when re-displayed.

Two fixes over ``jupyter_bokeh.BokehModel`` (both seen with a real browser attached):

- With a browser attached, every streamed batch comes back from the page as a ``jsevent`` and
  jupyter_bokeh applies it a second time on the Python side (5 rows become 10). Echoed
  ``ColumnsStreamed`` / ``ColumnsPatched`` events are ignored here: Python is the only writer.
- A view opened after streaming began would start from the data at construction time; the render
  bundle is rebuilt from the current document whenever a page asks for the widget's state.

``bokehjs_loader()`` brings BokehJS into the page (inline, works offline) without writing it into
saved notebooks.
"""

from __future__ import annotations

import functools
import json
import threading
from typing import Any

import ipywidgets as widgets
from bokeh.core.json_encoder import serialize_json
from jupyter_bokeh import BokehModel

ECHOED_EVENTS = ("ColumnsStreamed", "ColumnsPatched")


@functools.lru_cache(maxsize=1)
def bokehjs_loader() -> widgets.Output:
    """A hidden widget that loads BokehJS into the page: inline (works offline), once per page.

    jupyter_bokeh's views call ``window.Bokeh``, which its extension does not ship, so the page needs
    BokehJS. ``output_notebook()`` would put it in a cell's outputs, twice (as JavaScript and as a
    Bokeh load bundle, ~8 MB a saved notebook); in this widget's state it is sent to the page but
    never written into the notebook file. Only the core bundle (what the panels' figures use), and
    it is skipped when the page already holds this version.
    """
    import bokeh
    from bokeh.resources import Resources

    core = Resources(mode="inline", components=["bokeh"]).js_raw[0]
    script = (f"if (window.Bokeh === undefined || window.Bokeh.version !== {json.dumps(bokeh.__version__)}) "
              f"{{ (function () {{\n{core}\n}}).call(window); }}")
    loader = widgets.Output(layout=widgets.Layout(display="none"))
    loader.outputs = ({"output_type": "display_data", "data": {"application/javascript": script}, "metadata": {}},)
    loader.add_class("tw-bokehjs-loader")
    return loader


class BokehView(BokehModel):
    """Show a Bokeh layout in ipywidgets; share ``lock`` with whoever changes the document."""

    def __init__(self, model: Any, lock: threading.RLock | None = None, **kwargs: Any) -> None:
        self.lock = lock if lock is not None else threading.RLock()
        self.patches_sent = 0  # document patches forwarded to the page (one per stream call)
        self.echoes_ignored = 0
        with self.lock:
            super().__init__(model, **kwargs)

    def close(self) -> None:
        """Once: jupyter_bokeh's close unregisters from the document and raises when called again, as
        ipywidgets' ``__del__`` does after an explicit close."""
        if not getattr(self, "_closed", False):
            self._closed = True
            super().close()

    def _sync_model(self, model: Any, content: dict[str, Any], buffers: list[Any]) -> None:
        if content.get("event") == "jsevent" and content.get("kind") in ECHOED_EVENTS:
            self.echoes_ignored += 1
            return
        with self.lock:
            super()._sync_model(model, content, buffers)

    def _document_patched(self, event: Any) -> None:
        if event.setter is self:
            return
        self.patches_sent += 1
        super()._document_patched(event)

    @property
    def bokeh_model(self) -> Any:
        """The Bokeh layout (or figure) this widget shows."""
        return self._model

    def get_state(self, key: Any = None, drop_defaults: bool = False) -> dict[str, Any]:
        """The state a page receives, with the render bundle built from the document as it is now: a
        page that connects after data was streamed (Voila runs the notebook before its page connects;
        a second view opened later) starts from all of it."""
        state = super().get_state(key, drop_defaults)
        if "render_bundle" in state:
            with self.lock:
                state["render_bundle"] = serialize_json(self._model_to_traits(self._model))
        return state

    def refresh(self) -> None:
        """Send the current document to the views already open (a view opened now starts from it)."""
        with self.lock:
            self.send_state("render_bundle")

    def _repr_mimebundle_(self, **kwargs: Any):
        from IPython.display import display

        display(bokehjs_loader())
        self.refresh()
        return super()._repr_mimebundle_(**kwargs)
