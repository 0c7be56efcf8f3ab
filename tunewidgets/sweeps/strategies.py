"""Strategy and pruner names -> Optuna samplers and pruners; a ``Space`` -> Optuna distributions.

Search and pruning rules are Optuna's; this module only picks and configures them.
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from ..space import Choice, IntRange, LogUniform, Space, Uniform

# The search strategies by name, each with the words a settings box shows for it.
STRATEGY_LABELS = {"grid": "grid", "random": "random", "bayes": "bayes (TPE)", "gp": "bayes (GP)"}
STRATEGIES = tuple(STRATEGY_LABELS)
MAX_GRID_POINTS = 1_000_000  # Optuna's grid sampler lists every point: a bigger grid is refused up front
PRUNERS = (None, "median", "halving", "hyperband")


class AskTellGridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler for ask/tell: the sweep loop, not ``study.stop()``, ends the grid
    (the stock ``after_trial`` calls ``study.stop()``, which only works inside ``study.optimize``)."""

    def after_trial(self, study, trial, state, values) -> None:  # noqa: D102
        return None


def distributions(space: Space) -> dict[str, BaseDistribution]:
    """Optuna distributions for each dimension (a grid samples from the same ones)."""
    out: dict[str, BaseDistribution] = {}
    for name, dim in space.dims.items():
        if isinstance(dim, LogUniform):
            out[name] = FloatDistribution(dim.low, dim.high, log=True)
        elif isinstance(dim, Uniform):
            out[name] = FloatDistribution(dim.low, dim.high)
        elif isinstance(dim, IntRange):
            high = dim.low + (dim.high - dim.low) // dim.step * dim.step  # Optuna wants high on the step
            out[name] = IntDistribution(dim.low, high, step=dim.step)
        elif isinstance(dim, Choice):
            out[name] = CategoricalDistribution(dim.values)
        else:
            raise ValueError(f"{name}: {type(dim).__name__} has no Optuna distribution")
    return out


def make_sampler(strategy: Any, space: Space, seed: int | None) -> optuna.samplers.BaseSampler:
    """``"grid"``, ``"random"``, ``"bayes"`` (TPE), ``"gp"`` (Gaussian process), or a sampler instance."""
    if isinstance(strategy, optuna.samplers.BaseSampler):
        return strategy
    if strategy == "grid":
        if space.grid_size > MAX_GRID_POINTS:
            raise ValueError(f"strategy='grid' is not allowed for this space: its grid has {space.grid_size:,} points, "
                             f"more than {MAX_GRID_POINTS:,}; use strategy='random' or 'bayes', or fewer points per "
                             f"dimension (n=, step=, shorter choices)")
        return AskTellGridSampler(space.grid_values(), seed=seed)
    if strategy in ("random", "pbt"):  # a population starts from random draws
        return optuna.samplers.RandomSampler(seed=seed)
    if strategy == "bayes":
        return optuna.samplers.TPESampler(seed=seed, constant_liar=True)  # trials asked together stay apart
    if strategy == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    raise ValueError(f"strategy={strategy!r} is not allowed: must be one of {STRATEGIES + ('pbt',)} or an Optuna "
                     f"sampler")


def make_pruner(pruner: Any, max_epochs: int | None) -> optuna.pruners.BasePruner:
    """None (no pruning), ``"median"``, ``"halving"`` (successive halving), ``"hyperband"``, or a pruner
    instance. Steps are epochs; ``max_epochs`` bounds Hyperband's brackets (None: Optuna finds it from
    the first trials that finish)."""
    if isinstance(pruner, optuna.pruners.BasePruner):
        return pruner
    if pruner is None or pruner == "none":
        return optuna.pruners.NopPruner()
    if pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    if pruner == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if pruner == "hyperband":
        top = "auto" if max_epochs is None else max(1, max_epochs)
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=top, reduction_factor=3)
    raise ValueError(f"pruner={pruner!r} is not allowed: must be one of {PRUNERS} or an Optuna pruner")


def strategy_name(strategy: Any) -> str | None:
    """What to store for a strategy or pruner: its name, or its class name for an instance."""
    return strategy if strategy is None or isinstance(strategy, str) else type(strategy).__name__
