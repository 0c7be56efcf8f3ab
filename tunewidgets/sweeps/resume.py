"""Resuming a sweep: what it trains (the stored base), and how many trials (the plan's rest, with
the trials a dead process interrupted run again first, with the same hyperparameters).

Pure functions over what the storage holds (the sweep's spec and its trial records), so each rule
is tested on its own.
"""

from __future__ import annotations

from typing import Any

from ..engine.builtin.checks import require_data
from ..engine.fit.trainer import check_fit
from ..hparams import HParams, as_hparams
from ..objective import Objective
from .fit_trial import FitTrial
from .protocol import Trial
from .results import TrialRecord
from .spec import SweepSpec
from .trials import TorchTrial
from ..statuses import Status

DEFAULT_TRIALS = 20
UNCHECKED_FIELDS = ("model", "device")  # may differ on resume: a factory is given again, a device may move


def resume_base(spec: SweepSpec, given: Any) -> HParams | dict[str, Any] | None:
    """The base a resumed torch sweep trains with: the one given (checked against the stored one), or
    the sweep's own (the stored one, for a loaded sweep). A factory model cannot be stored, so it must
    be given again. A training function's base is its stored values (a given one must equal them)."""
    current = spec.base
    if spec.trains_fit and given is not None and dict(given) != spec.stored_base:
        raise ValueError(f"base={dict(given)!r} differs from the stored {spec.stored_base!r}: a resumed sweep "
                         f"trains what it stored; start a new sweep to change them")
    if not spec.trains_torch:
        return current
    stored = spec.stored_base
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


def trial_to_resume(spec: SweepSpec, data: Any, metrics: dict | None, fit: Any) -> Trial | None:
    """What a resume trains when ``data`` or ``fit`` is given again (checked against the sweep), else None."""
    if fit is not None:
        if not spec.trains_fit:
            raise ValueError("fit= only applies to sweeps of a training function; this sweep trains "
                             + ("torch models: pass data=" if spec.trains_torch else "an estimator"))
        return FitTrial(check_fit(fit), spec.objectives)
    if data is None:
        return None
    if not spec.trains_torch:
        raise ValueError("data= only applies to sweeps of torch models"
                         + (f"; this sweep trains {spec.data}: pass fit=" if spec.trains_fit else ""))
    require_data(data)
    if spec.task not in (None, data.task):
        raise ValueError(f"the data is {data.task}, the sweep was {spec.task}: resume it with data of the same task")
    metrics = dict(metrics or {})
    for objective in spec.objectives:  # the same checks as tw.sweep (a custom metric needs metrics=)
        Objective.for_task(data.task, objective.metric, objective.direction, metrics)
    return TorchTrial(data, metrics)


def missing_for_resume(spec: SweepSpec) -> str:
    """Why a sweep loaded from storage cannot resume with nothing given, and what to give."""
    if spec.trains_fit:
        return (f"this sweep was loaded from storage: pass fit= (the training function {spec.data!r}) to "
                f"resume it")
    if not spec.trains_torch:
        return ("an estimator sweep loaded from storage cannot be resumed: run tw.sweep_estimator again (with "
                "the same storage and a new name)")
    return "this sweep was loaded from storage: pass data= (the same tw.Data) to resume it"


def interrupted_to_rerun(records: list[TrialRecord], rerun_of: set[int]) -> list[TrialRecord]:
    """Interrupted trials (their process died) that no trial has run again yet, oldest first."""
    return sorted((r for r in records if r.status == Status.INTERRUPTED and r.number not in rerun_of),
                  key=lambda r: r.number)


def trials_to_run(n_trials: int | None, spec: SweepSpec, records: list[TrialRecord], reruns: int) -> int:
    """How many trials a resume runs: ``n_trials`` if given (a grid: at most the points left), else
    the rest of the plan (at least the ``reruns``), else ``DEFAULT_TRIALS`` more."""
    counted = sum(1 for r in records if r.status != Status.INTERRUPTED)
    if spec.strategy == "grid":
        left = spec.space.grid_size - counted
        if left <= 0:
            raise ValueError(f"the grid is complete: all {spec.space.grid_size} points were tried")
        return left if n_trials is None else min(n_trials, left)
    if n_trials is not None:
        return n_trials
    left = max(spec.n_trials - counted, reruns)
    return left if left > 0 else DEFAULT_TRIALS
