"""A jupyter_bokeh widget that does not double streamed data and is current when re-displayed.

Two fixes over ``jupyter_bokeh.BokehModel`` (both seen with a real browser attached):

- With a browser attached, every streamed batch comes back from the page as a ``jsevent`` and
  jupyter_bokeh applies it a second time on the Python side (5 rows become 10). Echoed
  ``ColumnsStreamed`` / ``ColumnsPatched`` events are ignored here: Python is the only writer.
- A view opened after streaming began would start from the data at construction time; the render
  bundle is rebuilt from the current document whenever the widget is displayed again.

Also loads BokehJS into the page, once per kernel, with inline resources (works offline).
"""

from __future__ import annotations

import threading
from typing import Any

from jupyter_bokeh import BokehModel

ECHOED_EVENTS = ("ColumnsStreamed", "ColumnsPatched")
_bokehjs_loaded = False


def load_bokehjs(force: bool = False) -> bool:
    """Publish BokehJS (inline, no CDN) into the current cell once per kernel; False outside a kernel."""
    global _bokehjs_loaded
    if _bokehjs_loaded and not force:
        return True
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return False
    from bokeh.io import output_notebook
    from bokeh.resources import INLINE

    output_notebook(resources=INLINE, hide_banner=True)
    _bokehjs_loaded = True
    return True


class BokehView(BokehModel):
    """Show a Bokeh layout in ipywidgets; share ``lock`` with whoever changes the document."""

    def __init__(self, model: Any, lock: threading.RLock | None = None, **kwargs: Any) -> None:
        self.lock = lock if lock is not None else threading.RLock()
        self.patches_sent = 0  # document patches forwarded to the page (one per stream call)
        self.echoes_ignored = 0
        with self.lock:
            super().__init__(model, **kwargs)

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

    def refresh(self) -> None:
        """Rebuild what new (and open) views render from the document as it is now."""
        with self.lock:
            self.update_from_model(self._model)

    def _repr_mimebundle_(self, **kwargs: Any):
        load_bokehjs()
        self.refresh()
        return super()._repr_mimebundle_(**kwargs)
