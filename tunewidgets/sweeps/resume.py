"""Resuming a sweep: what it trains (the stored base), and how many trials (the plan's rest, with
the trials a dead process interrupted run again first, with the same hyperparameters).

Pure functions over what the storage holds (the sweep's info and its trial records), so each rule
is tested on its own.
"""

from __future__ import annotations

from typing import Any

from ..hparams import MODELS, HParams, as_hparams
from ..space import Space
from .results import TrialRecord

DEFAULT_TRIALS = 20
UNCHECKED_FIELDS = ("model", "device")  # may differ on resume: a factory is given again, a device may move


def stored_base(info: dict[str, Any]) -> HParams | None:
    """The base hyperparameters a torch sweep stored, or None when its model was a factory (not storable)."""
    base = info.get("base")
    if info.get("kind") != "torch" or base is None or base.get("model") not in MODELS:
        return None
    return HParams.from_dict(base)


def resume_base(info: dict[str, Any], current: HParams | None, given: Any) -> HParams | None:
    """The base a resumed torch sweep trains with: the one given (checked against the stored one), the
    sweep's own, or the stored one. A factory model cannot be stored, so it must be given again."""
    if info.get("kind") != "torch":
        return current
    stored = info.get("base") or {}
    if given is None:
        if current is None:
            raise ValueError(f"this sweep's base used the model factory {stored.get('model')!r}, which cannot be "
                             f"stored: resume it with resume(..., base=tw.HParams(model=<the factory>, ...)) "
                             f"with the same other values")
        return current
    base = as_hparams(given)
    if stored.get("model") is not None and base.model_name != stored["model"]:
        raise ValueError(f"base.model={base.model_name!r} is not allowed: the sweep was run with model "
                         f"{stored['model']!r}; a resumed sweep trains what it stored")
    wrong = [f"{name} (stored {stored[name]!r}, given {value!r})" for name, value in base.to_dict().items()
             if name in stored and name not in UNCHECKED_FIELDS and stored[name] != value]
    if wrong:
        raise ValueError(f"base differs from the stored one in {', '.join(wrong)}: a resumed sweep trains what "
                         f"it stored; start a new sweep to change them")
    return base


def interrupted_to_rerun(records: list[TrialRecord], rerun_of: set[int]) -> list[TrialRecord]:
    """Interrupted trials (their process died) that no trial has run again yet, oldest first."""
    return sorted((r for r in records if r.status == "interrupted" and r.number not in rerun_of),
                  key=lambda r: r.number)


def trials_to_run(n_trials: int | None, info: dict[str, Any], space: Space, records: list[TrialRecord],
                  reruns: int) -> int:
    """How many trials a resume runs: ``n_trials`` if given (a grid: at most the points left), else
    the rest of the plan (at least the ``reruns``), else ``DEFAULT_TRIALS`` more."""
    counted = sum(1 for r in records if r.status != "interrupted")
    if info.get("strategy") == "grid":
        left = space.grid_size - counted
        if left <= 0:
            raise ValueError(f"the grid is complete: all {space.grid_size} points were tried")
        return left if n_trials is None else min(n_trials, left)
    if n_trials is not None:
        return n_trials
    left = max(int(info.get("n_trials") or 0) - counted, reruns)
    return left if left > 0 else DEFAULT_TRIALS
