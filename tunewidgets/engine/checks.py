"""Checks that need the data: raised before any training, in the words the user's fields use.

The API, the widgets and the sweeps call the same functions, so a mistake reads the same wherever
it is made.
"""

from __future__ import annotations

from typing import Any, Callable

from ..hparams import HParams
from .data import Data
from .models import require_images


def require_data(data: Any, name: str = "data") -> Data:
    """``data`` itself if it is a ``tw.Data``; otherwise a ``ValueError`` that says how to make one."""
    if not isinstance(data, Data):
        raise ValueError(f"{name}={type(data).__name__} is not allowed: must be a tw.Data "
                         f"(tw.load_dataset, tw.Data.from_arrays or tw.Data.from_datasets)")
    return data


def check_against_data(hp: HParams, data: Data) -> None:
    """Checks that need both the hyperparameters and the data."""
    if data.n_train == 0 or data.n_val == 0:
        raise ValueError("data is empty: it needs at least one training and one validation sample")
    if hp.batch_size > data.n_train:
        raise ValueError(f"batch_size={hp.batch_size} is not allowed: must be >= 1 and <= the "
                         f"{data.n_train} training samples")
    if isinstance(hp.model, str) and hp.model in ("cnn", "resnet"):
        require_images(hp, data)


def check_metrics(metrics: dict[str, Callable] | None) -> dict[str, Callable]:
    """Extra validation metrics: ``{name: fn(outputs, targets) -> float}`` with identifier names."""
    if metrics is None:
        return {}
    if not isinstance(metrics, dict):
        raise ValueError(f"metrics={metrics!r} is not allowed: must be a dict of name -> fn(outputs, targets)")
    for key, fn in metrics.items():
        if not (isinstance(key, str) and key.isidentifier()) or not callable(fn):
            raise ValueError(f"metrics[{key!r}] is not allowed: keys must be identifiers and values callables "
                             f"fn(outputs, targets) -> float")
    return dict(metrics)
