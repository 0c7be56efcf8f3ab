"""Can these configurations train as one group? The answer, or the reason why not.

The caller (``train_batched``, the batched sweep executor) falls back to training one after another
with the reason as its message.
"""

from __future__ import annotations

from typing import Any, Iterable

import torch

from ...hparams import HParams, as_hparams
from ..builtin.checks import check_against_data
from ..builtin.data import Data
from ..builtin.device import resolve_device
from ..builtin.models import build_model
from .stacked import StackedParams, VmapForward

STRUCTURE = ("model", "layers", "units", "activation", "batch_size", "epochs")  # and the device they resolve to


def can_batch(hparams_list: Iterable[HParams | dict], data: Data) -> tuple[bool, str]:
    """``(True, '')`` when the configurations can train as one group, else ``(False, why)``.

    The caller falls back to training one after another with ``why`` as the message.
    """
    try:
        hps = [as_hparams(hp) for hp in hparams_list]
    except ValueError as e:
        return False, str(e)
    if not hps:
        return False, "no configurations to train"
    if not isinstance(data, Data):
        return False, f"data is a {type(data).__name__}, not a tw.Data"
    if not data.in_memory:
        return False, "the data is batched through a DataLoader; batched training needs in-memory data"
    for name in STRUCTURE:
        values = {_key(getattr(hp, name)) for hp in hps}
        if len(values) > 1:
            return False, f"members differ in {name} ({', '.join(sorted(map(str, values)))}); they must agree"
    hp = hps[0]
    try:
        check_against_data(hp, data)
        devices = {resolve_device(spec) for spec in {h.device for h in hps}}
    except ValueError as e:
        return False, str(e)
    if len(devices) > 1:
        return False, f"members train on different devices ({', '.join(sorted(map(str, devices)))})"
    device = devices.pop()
    if device.type not in ("cpu", "cuda"):
        return False, f"batched training runs on the CPU or CUDA, not {device.type}"
    if hp.amp and device.type == "cuda":
        return False, "mixed precision (amp=True) is not batched"
    if hp.model == "mlp":
        return True, ""
    return _check_generic(hps, data)


def structure_key(params: dict[str, Any]) -> tuple:
    """What must agree for configurations to share a group, as one comparable value (the device as
    written; ``can_batch`` also compares where it resolves to)."""
    return tuple(_key(params.get(name)) for name in (*STRUCTURE, "device"))


def _key(value):
    """A field's value for comparison; a model factory counts by identity."""
    if value is None or isinstance(value, (str, int, float)):
        return value
    return getattr(value, "__qualname__", repr(value)) + f"@{id(value)}"


def _check_generic(hps: list[HParams], data: Data) -> tuple[bool, str]:
    """A non-MLP model batches if all members build the same buffer-free architecture and vmap runs it."""
    with torch.random.fork_rng(devices=[]):
        try:
            models = [build_model(hp, data) for hp in hps]
        except Exception as e:  # noqa: BLE001 - a factory's error is the reason
            return False, f"building the model failed: {e!r}"
    name = hps[0].model_name
    buffers = [n for n, _ in models[0].named_buffers()]
    if buffers:
        norm = [type(m).__name__ for m in models[0].modules() if getattr(m, "running_mean", None) is not None]
        what = f"batch norm ({norm[0]}) keeps running statistics" if norm else f"it has buffers ({buffers[0]})"
        return False, f"model {name!r} cannot be batched: {what}, which cannot be stacked across members"
    if not list(models[0].parameters()):
        return False, f"model {name!r} has no parameters"
    first = repr(models[0])
    for hp, m in zip(hps[1:], models[1:]):
        if repr(m) != first or [p.shape for p in m.parameters()] != [p.shape for p in models[0].parameters()]:
            return False, (f"model {name!r} builds different architectures for different members "
                           f"(e.g. seed {hp.seed}); they must be identical, dropout rates included")
    try:
        stacked = StackedParams(models[:2])
        x = data.x_train[:2].unsqueeze(0).expand(len(stacked.flat), *data.x_train[:2].shape)
        VmapForward(models[0], stacked.names)(stacked.leaves, x, training=True)
    except Exception as e:  # noqa: BLE001
        return False, f"model {name!r} cannot run under torch.func.vmap: {e!r}"
    return True, ""
