"""Copies of training state: weights, optimizer and scheduler state, taken safely.

A fork starts from its parent's copy, early stopping keeps the best weights, and population-based
training hands a donor's state to a member; every one of them needs a copy that shares no tensor with
the run that goes on training.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

import torch
from torch import nn


def state_snapshot(model: nn.Module) -> Callable[[], dict]:
    return lambda: copy.deepcopy(model.state_dict())


def copy_states(pairs: list[tuple[Any, Any]]) -> None:
    """Load each source's ``state_dict`` into its target (a ``None`` pair is skipped): a module's tensors
    are copied into the target's own; an optimizer's or scheduler's state is deep-copied first, since
    ``load_state_dict`` keeps tensors already on the right device as they are, shared with the source."""
    for target, source in pairs:
        if target is None or source is None:
            continue
        state = source.state_dict()
        target.load_state_dict(state if isinstance(target, torch.nn.Module) else copy.deepcopy(state))


def cpu_copy(state: Any) -> Any:
    """A copy of a ``state_dict`` (nested dicts and lists of tensors) with every tensor on the CPU."""
    if isinstance(state, torch.Tensor):
        return state.detach().to("cpu", copy=True)
    if isinstance(state, dict):
        return {k: cpu_copy(v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(cpu_copy(v) for v in state)
    return copy.deepcopy(state)
