"""Checks that need the data: raised before any training, in the words the user's fields use.

The API, the widgets and the sweeps call the same functions, so a mistake reads the same wherever
it is made.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from ...hparams import HParams
from .data import Data
from .metrics import CLASSIFICATION, REGRESSION
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


BUILT_IN_NAMES = ("loss", *CLASSIFICATION, *REGRESSION)  # history columns val_<name>


def check_metrics(metrics: dict[str, Callable] | None) -> dict[str, Callable]:
    """Extra validation metrics: ``{name: fn(outputs, targets) -> float}`` with identifier names that
    are not a built-in's (a custom ``accuracy`` would silently take ``val_accuracy``'s column)."""
    if metrics is None:
        return {}
    if not isinstance(metrics, dict):
        raise ValueError(f"metrics={metrics!r} is not allowed: must be a dict of name -> fn(outputs, targets)")
    for key, fn in metrics.items():
        if not (isinstance(key, str) and key.isidentifier()) or not callable(fn):
            raise ValueError(f"metrics[{key!r}] is not allowed: keys must be identifiers and values callables "
                             f"fn(outputs, targets) -> float")
        if key in BUILT_IN_NAMES:
            raise ValueError(f"metrics[{key!r}] is not allowed: {key!r} is a built-in metric (its column is "
                             f"val_{key}); give yours another name, e.g. 'my_{key}'")
    return dict(metrics)


@torch.no_grad()
def check_output_width(model: torch.nn.Module, hp: HParams, data: Data, device: torch.device) -> None:
    """A user's factory must give one output per class (or per regression target): checked on two
    training samples before any training, with both numbers in the message."""
    sample = data.x_train[:2] if data.in_memory else torch.stack([torch.as_tensor(data.train_dataset[0][0])])
    was_training = model.training
    model.eval()  # no batch-norm statistics are touched by the probe
    try:
        out = model(sample.to(device))
    except Exception as e:  # noqa: BLE001 - the factory's own error, said with what went in
        raise ValueError(f"model factory {hp.model_name!r} fails on input of shape {tuple(sample.shape)}: "
                         f"{type(e).__name__}: {e}") from None
    finally:
        model.train(was_training)
    wanted = f"{data.n_outputs} classes" if data.task == "classification" else \
        f"{data.n_outputs} regression target(s)"
    if out.ndim != 2 or out.shape[1] != data.n_outputs:  # (N,) would broadcast silently against (N, 1)
        raise ValueError(f"model factory {hp.model_name!r} outputs shape {tuple(out.shape[1:])} per sample, but "
                         f"the data has {wanted}: it must output shape ({data.n_outputs},) per sample, a batch "
                         f"of shape (batch, {data.n_outputs})")
