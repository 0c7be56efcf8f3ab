"""TensorBoardLogger: write each run's epoch metrics where TensorBoard can show them.

TensorBoard is an optional extra (``pip install "tunewidgets[tensorboard]"``): the import happens
when a logger is created, with an error that says so.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..control.callbacks import Callback


class TensorBoardLogger(Callback):
    """A callback writing one TensorBoard run per training run, under ``logdir/<run name>``.

    Example::

        tw.train(data, hp, callbacks=[tw.TensorBoardLogger("runs")])
        # then: tensorboard --logdir runs
    """

    def __init__(self, logdir: str | Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError('TensorBoardLogger needs the tensorboard package: pip install "tunewidgets[tensorboard]"'
                              ) from e
        self._writer_class = SummaryWriter
        self.logdir = Path(logdir)
        self._writers: dict[str, object] = {}

    def _folder(self, run) -> str:
        return str(self.logdir / re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{run.name}-{run.id[:6]}"))

    def on_train_start(self, run) -> None:
        self._writers[run.id] = self._writer_class(self._folder(run))

    def on_epoch_end(self, run, metrics) -> None:
        writer = self._writers[run.id]
        for key, value in metrics.items():
            if key != "epoch" and isinstance(value, (int, float)):
                writer.add_scalar(key, value, metrics["epoch"])

    def on_train_end(self, run) -> None:
        writer = self._writers.pop(run.id, None)
        if writer is None:
            return
        hparams = {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in run.hparams_dict().items()}
        best = run.best_metric
        writer.add_hparams(hparams, {f"best_{run.metric}": best if best == best else 0.0}, run_name=".")
        writer.close()
