"""Callback hooks: user code (and the sweep and population hooks) called by the training loop at fixed points.

Hooks run in the training thread. Raising in a hook ends the run with status ``failed``; calling
``run.stop()`` from a hook ends it cleanly after the current batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .run_like import RunLike


class Callback:
    """Subclass and override any of the hooks.

    Example::

        class PrintEpochs(tw.Callback):
            def on_epoch_end(self, run, metrics):
                print(metrics["epoch"], metrics["val_loss"])

        tw.train(data, hp, callbacks=[PrintEpochs()])
    """

    def on_train_start(self, run: "RunLike") -> None:
        """Before the first batch; ``run.model`` is built and on its device."""

    def on_batch_end(self, run: "RunLike", step: int, loss: float) -> None:
        """After each optimizer step (only called when overridden: it costs a device sync)."""

    def on_epoch_end(self, run: "RunLike", metrics: dict[str, Any]) -> None:
        """After validation; ``metrics`` is the new row of ``run.history``."""

    def on_train_end(self, run: "RunLike") -> None:
        """Once, whatever the outcome; ``run.status`` is final."""


def overrides(callback: Callback, hook: str) -> bool:
    """True when ``callback`` defines its own ``hook`` (so the loop can skip costly no-ops)."""
    return getattr(type(callback), hook, None) is not getattr(Callback, hook)
