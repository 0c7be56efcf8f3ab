"""``tw.sweep(..., strategy="pbt")``: a population trained as one batched group, its members' starting
values drawn at random, checked in full before any trial.

Every ``interval`` epochs the worst ``quantile`` of the members take the best ones' weights and move
their values (``engine/pbt.py`` decides, the group loop copies the stacked rows in place), so the
population is the sweep's trials: ``n_trials`` is ``population``, and no pruner is used (the
exploits replace what a pruner would cut).
"""

from __future__ import annotations

import math
from typing import Any

from ..engine.batched import can_batch
from ..engine.batched.group import check_population
from ..engine.data import Data
from ..engine.pbt import PBT, first_values
from ..guards import require_count
from ..hparams import HParams
from ..objective import COST_OBJECTIVES, Objectives
from ..space import Space

DEFAULTS = {"population": 16, "interval": 4, "quantile": 0.25, "resample": 0.25}


def refuse_population_settings(strategy: Any, settings: dict[str, Any]) -> None:
    """A ``ValueError`` for population settings given to another strategy."""
    given = [name for name, value in settings.items() if value is not None]
    if given:
        raise ValueError(f"{', '.join(given)} only applies to strategy='pbt' (population-based training), not "
                         f"strategy={strategy!r}")


def plan_population(data: Data, space: Space, base: HParams, objectives: Objectives, *, pruner: Any,
                    executor: Any, group_size: Any, n_trials: Any, seed: int | None,
                    settings: dict[str, Any]) -> tuple[PBT, int]:
    """The population's ``PBT`` and size, or a ``ValueError`` in words for what it cannot do."""
    chosen = {name: DEFAULTS[name] if value is None else value for name, value in settings.items()}
    size = require_count("population", chosen["population"], low=2, hint="members trained together, e.g. 16")
    if pruner not in (None, "none"):
        raise ValueError(f"pruner={pruner!r} is not used with strategy='pbt': every interval the worst members take "
                         f"the best ones' weights instead of being cut; leave pruner=None")
    if objectives.several:
        raise ValueError("strategy='pbt' ranks the members by one metric: pass metric=, not objectives=")
    metric = objectives.primary
    if metric.metric in COST_OBJECTIVES:
        raise ValueError(f"metric={metric.metric!r} is known only when a trial ends: strategy='pbt' ranks the members "
                         f"by a validation metric at every interval")
    if executor not in (None, "batched"):
        raise ValueError(f"strategy='pbt' trains the population as one batched group: leave executor out (or "
                         f"executor='batched'), not executor={executor!r}")
    if group_size not in (None, size):
        raise ValueError(f"group_size={group_size!r} is not allowed with strategy='pbt': the population of {size} "
                         f"trains as one group")
    if n_trials not in (None, size):
        raise ValueError(f"n_trials={n_trials!r} is not allowed with strategy='pbt': the members are the trials "
                         f"(population={size})")
    pbt = PBT(space, metric.metric, metric.direction, chosen["interval"], chosen["quantile"], chosen["resample"],
              seed=seed)
    if pbt.interval >= base.epochs:
        raise ValueError(f"interval={pbt.interval} is not allowed with epochs={base.epochs}: must be less than epochs, "
                         f"or no member ever takes another's weights")
    members = [base.replace(**values) for values in first_values(space, size, seed)]
    ok, why = can_batch(members, data)
    if not ok:
        raise ValueError(f"strategy='pbt' trains the population as one batched group, and this cannot: {why}")
    check_population(pbt, members)
    return pbt, size


def schedule_of(number: int, records: dict[int, Any], names: list[str], before: float = math.inf
                ) -> list[dict[str, Any]]:
    """Trial ``number``'s values epoch by epoch as schedule steps (``{"epoch": first epoch, **values}``),
    for its epochs up to ``before``: after its last exploit before then, the values it explored;
    until that exploit, the schedule of the member whose weights it took (Ray's replay does the same)."""
    record = records[number]
    jumps = [jump for jump in record.extra.get("lineage", []) if jump["epoch"] < before]
    if not jumps:
        return [{"epoch": 1, **{name: record.params[name] for name in names}}]
    last = jumps[-1]
    inherited = schedule_of(last["parent"], records, names, before=last["epoch"])
    return inherited + [{"epoch": last["epoch"] + 1, **last["values"]}]
