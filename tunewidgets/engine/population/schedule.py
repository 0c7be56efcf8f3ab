"""Training along a schedule of values: ``tw.train(data, hp, schedule=[...])``.

A schedule is a list of steps, each ``{"epoch": first epoch trained with them, **values}``, the first
at epoch 1. It replays what population-based training found (``sweep.best_schedule``: a member's
values epoch by epoch, through the members whose weights it took), as Ray Tune's
``PopulationBasedTrainingReplay`` does. Later steps move live knobs between two epochs, as
``run.update`` does, so a new ``lr`` scales a decayed rate in proportion, as the population did.
"""

from __future__ import annotations

from typing import Any

from ..control.callbacks import Callback


def check_schedule(schedule: Any) -> list[dict[str, Any]]:
    """The schedule's steps as plain dicts, or a ``ValueError`` that says which step is wrong."""
    if not isinstance(schedule, (list, tuple)) or not schedule:
        raise ValueError(f"schedule={schedule!r} is not allowed: must be a list of steps such as "
                         f"[{{'epoch': 1, 'lr': 0.01}}, {{'epoch': 5, 'lr': 0.003}}] (or a schedule's name, e.g. 'step')")
    steps, last = [], 0
    for index, step in enumerate(schedule):
        if not isinstance(step, dict) or not isinstance(step.get("epoch"), int) or isinstance(step["epoch"], bool):
            raise ValueError(f"schedule[{index}]={step!r} is not allowed: each step is a dict with an integer 'epoch' "
                             f"(the first epoch trained with its values)")
        if step["epoch"] <= last or (index == 0 and step["epoch"] != 1):
            raise ValueError(f"schedule[{index}] epoch={step['epoch']} is not allowed: the first step is at epoch 1 "
                             f"and each later one after the one before")
        steps.append(dict(step))
        last = step["epoch"]
    return steps


def check_steps_apply(run: Any, steps: list[dict[str, Any]]) -> None:
    """Each later step's values can move live on ``run`` (still pending): a ``ValueError`` now, not mid-run."""
    for index, step in enumerate(steps[1:], start=1):
        try:
            run.trainer.checked_changes(run, {k: v for k, v in step.items() if k != "epoch"})
        except ValueError as e:
            raise ValueError(f"schedule[{index}] (epoch {step['epoch']}): {e}") from None


class FollowSchedule(Callback):
    """Moves the run's live knobs to each later step's values when the epoch before it ends."""

    def __init__(self, steps: list[dict[str, Any]]) -> None:
        self.changes = {step["epoch"]: {k: v for k, v in step.items() if k != "epoch"} for step in steps[1:]}

    def on_epoch_end(self, run, metrics: dict[str, Any]) -> None:
        values = self.changes.get(metrics["epoch"] + 1)
        if values:
            run.update(**values)
