"""SweepSpec: what a sweep searches and what it trains, the one description its study stores; and
LaunchPlan: how the caller asked it to run, which the study keeps only in part (strategy, pruner, trials).

A sweep is rebuilt from storage by this alone (``Sweep.loaded``), so everything resume needs lives
here: the space, the objectives, the plan (strategy, pruner, seed, trials) and, for a torch sweep,
the base hyperparameters, data name, task and custom metric names. An estimator sweep keeps what it
tuned in words (``about``): an estimator cannot be stored, so it is not resumed from storage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..hparams import MODELS, HParams
from ..objective import Objectives
from ..space import Space

TORCH = "torch"  # tw.sweep: torch models built from HParams
ESTIMATOR = "sklearn"  # tw.sweep_estimator: a scikit-learn estimator, cross-validated
FIT = "fit"  # tw.sweep(fit, ...): a training function of yours, fit(p, report)


@dataclass
class SweepSpec:
    """The space, objectives and plan of a sweep, and what its trials train."""

    space: Space
    objectives: Objectives
    trains: str = TORCH
    strategy: str = "random"
    pruner: str | None = None
    seed: int | None = None
    n_trials: int = 0  # planned so far, over every start and resume
    # torch: the fields the space leaves out (None when a factory built the model); a fit: a dict of values
    base: HParams | dict[str, Any] | None = None
    stored_base: dict[str, Any] = field(default_factory=dict)  # ``base`` as stored (a factory by name)
    data: str | None = None  # torch: the data's name and task, checked when a resume brings data again; a fit's name
    task: str | None = None
    metrics: list[str] = field(default_factory=list)  # torch: names of the user's own validation metrics
    about: dict[str, str] = field(default_factory=dict)  # an estimator sweep: estimator, cv, scoring in words

    @property
    def trains_torch(self) -> bool:
        return self.trains == TORCH

    @property
    def trains_fit(self) -> bool:
        return self.trains == FIT

    @property
    def max_epochs(self) -> int | None:
        """The most epochs any trial trains (what Hyperband's brackets span); 1 for an estimator; None
        for a training function without an ``epochs`` value (Hyperband then learns it)."""
        if self.trains == ESTIMATOR:
            return 1
        dim = self.space.dims.get("epochs")
        if dim is not None:
            return max(dim.grid())
        if self.trains_fit:
            epochs = self.stored_base.get("epochs")
            return epochs if isinstance(epochs, int) and not isinstance(epochs, bool) and epochs > 0 else None
        return self.base.epochs if self.base is not None else int(self.stored_base["epochs"])

    def full_params(self, params: dict[str, Any]) -> HParams | dict[str, Any]:
        """A trial's values of the space with the base's: an ``HParams`` for the built-in trainer, a
        dict for a training function (what ``tw.train(fit, ...)`` takes), the values alone for an
        estimator or a factory sweep loaded without its base."""
        if isinstance(self.base, HParams):
            return self.base.replace(**params)
        if self.trains_fit:
            return {**self.stored_base, **params}
        return dict(params)

    def job_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """What a trial is given: ``full_params`` as a plain dict."""
        full = self.full_params(params)
        return full.to_dict() if isinstance(full, HParams) else full

    @staticmethod
    def storable_base(base: HParams) -> dict[str, Any]:
        """``base`` as JSON: a model factory is kept by its name (it cannot be stored, and is given again)."""
        stored = base.to_dict()
        if callable(stored["model"]):
            stored["model"] = base.model_name
        return stored

    def to_attr(self) -> dict[str, Any]:
        """The study's user attribute (JSON) that ``from_attr`` reads back."""
        attr = {"kind": self.trains, "space": self.space.to_dict(), "objectives": self.objectives.to_dicts(),
                "strategy": self.strategy, "pruner": self.pruner, "seed": self.seed, "n_trials": self.n_trials}
        if self.trains_torch:
            attr.update(base=self.stored_base, data=self.data, task=self.task, metrics=list(self.metrics))
        elif self.trains_fit:
            attr.update(base=self.stored_base, data=self.data)
        return {**attr, **self.about}

    @classmethod
    def from_attr(cls, attr: dict[str, Any]) -> "SweepSpec":
        """A stored sweep's spec. Sweeps stored before ``objectives`` was a list name one objective as
        ``metric`` and ``direction``; a factory model's base is None (it is given again to resume)."""
        stored = attr.get("objectives") or [{"metric": attr["metric"], "direction": attr["direction"]}]
        trains = attr.get("kind", TORCH)
        known = {"kind", "space", "objectives", "metric", "direction", "strategy", "pruner", "seed", "n_trials",
                 "base", "data", "task", "metrics"}
        stored_base = attr.get("base") or {}
        base = HParams.from_dict(stored_base) if trains == TORCH and stored_base.get("model") in MODELS else None
        if trains == FIT:
            base = dict(stored_base)
        return cls(space=Space.from_dict(attr["space"]), objectives=Objectives.from_dicts(stored), trains=trains,
                   strategy=attr.get("strategy", "random"), pruner=attr.get("pruner"), seed=attr.get("seed"),
                   n_trials=int(attr.get("n_trials") or 0), base=base, stored_base=stored_base,
                   data=attr.get("data"), task=attr.get("task"), metrics=list(attr.get("metrics") or []),
                   about={k: v for k, v in attr.items() if k not in known})


@dataclass(frozen=True)
class LaunchPlan:
    """How a sweep was asked to run, as given: built once by ``tw.sweep`` or ``tw.sweep_estimator`` and
    checked by ``launch`` (a population's plan first by ``plan_population``)."""

    strategy: Any = "random"
    n_trials: int | None = None
    pruner: Any = None
    executor: Any = None
    group_size: int | str | None = None
    storage: Any = None
    name: str | None = None
    background: bool = False
    start: bool = True
    quiet: bool = False
