"""How many members a batched group should hold, from the memory the group may use.

A bigger group amortizes each step's fixed cost over more members, until memory sets the limit:

- on a GPU, device memory: a group uses at most half of what is free when it starts;
- on a CPU, the last-level cache: once the stacked weights, gradients, optimizer state and
  activations outgrow it, every step waits on main memory and each member trains slower than in a
  smaller group. Measured on a 2-core EPYC (32 MiB L3), digits, 5 epochs: a 512-unit MLP costs
  145-165 ms per member in groups of 2-4 (about 6 MB each) but 275-285 ms in groups of 32-128; a
  128-unit MLP (about 0.6 MB a member) holds 20-25 ms per member up to 128.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import torch

from ...hparams import HParams
from ..builtin.data import Data
from ..builtin.device import resolve_device
from ..builtin.models import build_model, count_parameters

FLOAT_BYTES = 4
COPIES_PER_PARAMETER = 5  # the weight, its gradient, Adam's two moments and the update's scratch buffer
ACTIVATION_COPIES = 3  # a hidden layer's pre-activation, activation and dropout mask, kept for backward
DEFAULT_CACHE_BYTES = 32 * 2**20  # where the cache size cannot be read
GPU_SHARE = 0.5


def member_bytes(hp: HParams, data: Data) -> int:
    """An estimate of what one member adds to a group: parameter state plus one batch's activations."""
    with torch.device("meta"):  # shapes only: nothing is allocated
        params = count_parameters(build_model(hp, data))
    hidden = hp.layers * hp.units if hp.model == "mlp" else 0
    activations = hp.batch_size * (math.prod(data.input_shape) + hidden * ACTIVATION_COPIES)
    return FLOAT_BYTES * (params * COPIES_PER_PARAMETER + activations)


@functools.cache
def cpu_cache_bytes() -> int:
    """The largest CPU cache (Linux's sysfs), or 32 MiB where it is not published."""
    sizes = []
    for entry in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        text = entry.read_text().strip().upper()
        units = {"K": 2**10, "M": 2**20, "G": 2**30}
        try:
            sizes.append(int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text))
        except ValueError:
            continue
    return max(sizes, default=DEFAULT_CACHE_BYTES)


def memory_budget(device: torch.device) -> int:
    """Bytes a group may fill on ``device``."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free * GPU_SHARE)
    return cpu_cache_bytes()


def fitting_group_size(hp: HParams, data: Data, limit: int) -> int:
    """The most members (at least 1, at most ``limit``) of ``hp``'s structure that fit the budget of
    the device they train on. Where no estimate can be made (a factory that cannot build on the meta
    device, a device that is not there: the trials report that error themselves) it is ``limit``."""
    try:
        per_member = member_bytes(hp, data)
        budget = memory_budget(resolve_device(hp.device))
    except Exception:  # noqa: BLE001 - no estimate; training raises the real error per trial
        return limit
    return max(1, min(limit, budget // max(per_member, 1)))
