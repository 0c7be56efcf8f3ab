"""``tw.sweep(..., strategy="pbt")``: a population, its members' starting values drawn at random,
checked in full before any trial.

Every ``interval`` epochs the worst ``quantile`` of the members take the best ones' weights and move
their values (``engine/population/decide.py`` decides). The built-in models train as one batched group, whose loop
copies the stacked rows in place; a training function's runs, or the built-in models with
``executor="thread"``, take turns and copy each other's state in memory (``engine/population/members.py``).
The population is the sweep's trials: ``n_trials`` is ``population``, and no pruner is used (the
exploits replace what a pruner would cut).

Members that take turns run on ``PopulationExecutor`` (below): each member trains in a thread of its own,
one at a time up to the next judged epoch, as ``executor="thread"`` trains one trial at a time; it is
built here, for a population, never by ``make_executor``.
"""

from __future__ import annotations

import math
from concurrent.futures import Future, wait
from typing import Any

from ..engine.batched import can_batch
from ..engine.batched.group import check_population
from ..engine.builtin.data import Data
from ..engine.control.knobs import LIVE_FIELDS, check_live_changes
from ..engine.builtin.models import build_model
from ..engine.control.threads import train_in_own_thread
from ..engine.population.decide import PBT, first_values
from ..engine.population.members import Population, PopulationMember
from ..guards import require_count
from ..hparams import HParams
from ..objective import COST_OBJECTIVES
from ..space import Choice
from .executors.base import LocalChannel
from .protocol import TrialJob, TrialResult
from .spec import LaunchPlan, SweepSpec
from .trials import run_trial

DEFAULTS = {"population": 16, "interval": 4, "quantile": 0.25, "resample": 0.25}


def refuse_population_settings(strategy: Any, settings: dict[str, Any]) -> None:
    """A ``ValueError`` for population settings given to another strategy."""
    given = [name for name, value in settings.items() if value is not None]
    if given:
        raise ValueError(f"{', '.join(given)} only applies to strategy='pbt' (population-based training), not "
                         f"strategy={strategy!r}")


def plan_population(data: Data, spec: SweepSpec, plan: LaunchPlan, settings: dict[str, Any]) -> tuple[PBT, int, Any]:
    """The population's ``PBT``, size and executor ("batched": one group; ``executor="thread"``: runs
    that take turns), or a ``ValueError`` in words for what it cannot do."""
    space, base, executor, group_size = spec.space, spec.base, plan.executor, plan.group_size
    pbt, size = plan_common(spec, plan, settings, base.epochs, LIVE_FIELDS)
    if executor not in (None, "batched", "thread"):
        raise ValueError(f"strategy='pbt' trains the population in the kernel: as one batched group (executor="
                         f"'batched', the default) or as runs that take turns (executor='thread'), not "
                         f"executor={executor!r}")
    batched = executor != "thread"
    if group_size is not None and (group_size != size or not batched):
        why = f"the population of {size} trains as one group" if batched else "its members are runs of their own"
        raise ValueError(f"group_size={group_size!r} is not allowed with strategy='pbt': {why}")
    members = [base.replace(**values) for values in first_values(space, size, spec.seed)]
    if batched:
        ok, why = can_batch(members, data)
        if not ok:
            raise ValueError(f"strategy='pbt' trains the population as one batched group, and this cannot: {why}; "
                             f"executor='thread' trains its members as runs that take turns")
    check_population(pbt, members, batched=batched)
    if not batched and "dropout" in pbt.names:
        check_dropout_explorable(space.dims["dropout"], members[0], data)
    return pbt, size, "batched" if batched else PopulationExecutor(pbt, size)


def check_dropout_explorable(dim: Any, member: HParams, data: Data) -> None:
    """Members that train as runs of their own take each other's weights, so each must have dropout layers:
    a model built with dropout=0 has none (and its layers' places differ), some models have none at all."""
    low = min(dim.grid()) if isinstance(dim, Choice) else dim.low
    if low <= 0:
        raise ValueError("dropout cannot be explored from 0 with executor='thread': a model built with dropout=0 has "
                         "no dropout layers, so its weights do not fit the others'; explore from a rate above 0, "
                         "e.g. tw.Uniform(0.05, 0.5)")
    check_live_changes(member, {"dropout": member.dropout}, build_model(member, data))


def plan_fit_population(spec: SweepSpec, plan: LaunchPlan, settings: dict[str, Any]) -> tuple[PBT, int, Any]:
    """A population of a training function's runs (it must ``report.watch(model, optimizer)``), which
    take turns in the kernel: its ``PBT``, size and executor, or a ``ValueError`` in words."""
    executor = plan.executor
    if executor not in (None, "thread"):
        raise ValueError(f"strategy='pbt' with a training function trains its members as runs in the kernel that "
                         f"take each other's weights in memory: leave executor out (or executor='thread'), not "
                         f"executor={executor!r}")
    epochs = spec.base.get("epochs")
    if not isinstance(epochs, int) or isinstance(epochs, bool) or "epochs" in spec.space.names:
        raise ValueError("strategy='pbt' judges the members every interval epochs and not after the last: give "
                         "base={'epochs': N, ...} (your function reads p.epochs), not epochs in the space")
    pbt, size = plan_common(spec, plan, settings, epochs, None)
    return pbt, size, PopulationExecutor(pbt, size)


def plan_common(spec: SweepSpec, plan: LaunchPlan, settings: dict[str, Any], epochs: int,
                fields: tuple[str, ...] | None) -> tuple[PBT, int]:
    """What every population is checked for, and its ``PBT`` (``fields``: the names that may move)."""
    pruner, n_trials, objectives = plan.pruner, plan.n_trials, spec.objectives
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
    if n_trials not in (None, size):
        raise ValueError(f"n_trials={n_trials!r} is not allowed with strategy='pbt': the members are the trials "
                         f"(population={size})")
    pbt = PBT(spec.space, metric.metric, metric.direction, chosen["interval"], chosen["quantile"],
              chosen["resample"], seed=spec.seed, fields=fields)
    if pbt.interval >= epochs:
        raise ValueError(f"interval={pbt.interval} is not allowed with epochs={epochs}: must be less than epochs, "
                         f"or no member ever takes another's weights")
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

class PopulationChannel(LocalChannel):
    """The in-kernel channel, and each member's place in the population for its run."""

    def __init__(self) -> None:
        super().__init__()
        self.members: dict[int, PopulationMember] = {}

    def callbacks(self, number: int) -> list[Any]:
        member = self.members.get(number)
        return [member] if member is not None else []


class PopulationExecutor:
    """Trains the ``size`` members of a population judged by ``pbt``. See the module docstring."""

    def __init__(self, pbt: PBT, size: int) -> None:
        self.pbt, self.slots = pbt, size  # every member is asked at once: they wait for one another

    def open(self, train_trial: Any) -> None:
        self.train_trial = train_trial
        self.population = Population(self.pbt)
        self.channel = PopulationChannel()
        self.futures: list[Future] = []

    def submit(self, jobs: list[TrialJob]) -> list[Future]:
        members = [self.population.member() for _ in jobs]  # every member joins before the first trains
        futures = []
        for job, member in zip(jobs, members):
            self.channel.handles[job.number] = job.handle
            if member is not None:
                self.channel.members[job.number] = member
            futures.append(train_in_own_thread(self._train, job, member, name=f"tunewidgets-member-{job.number}"))
        self.futures += futures
        return futures

    def _train(self, job: TrialJob, member: PopulationMember | None) -> TrialResult:
        try:
            return run_trial(self.train_trial, job.number, job.params, self.channel)
        finally:
            if member is not None:
                member.leave()  # a run that could not be built never started: nobody waits for it

    def close(self) -> None:
        wait(self.futures)
