"""Building sweeps: ``tw.sweep`` for torch models, the launcher it shares with
``tw.sweep_estimator``, and ``tw.load_sweep`` for a sweep kept in storage.

Every argument is checked before the study is created and before any trial runs, so a mistake
costs nothing.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import optuna

from ..engine.builtin.checks import check_metrics
from ..engine.builtin.data import Data
from ..engine.fit.trainer import check_fit, is_training_function, not_data_nor_function, refuse_metrics
from ..engine.fit.params import plain_values
from ..hparams import HParams, as_hparams
from ..objective import COST_OBJECTIVES, Objective, Objectives
from ..space import Space
from .executors import make_executor
from .protocol import Trial
from .results import SWEEP_ATTR
from .resume import DEFAULT_TRIALS
from .fit_trial import ONLY_BUILT_IN, FitTrial
from .population import PopulationExecutor, plan_fit_population, plan_population, refuse_population_settings
from .spec import FIT, TORCH, LaunchPlan, SweepSpec
from .storage import mask_url, open_storage, scrub
from .strategies import make_pruner, make_sampler, strategy_name
from .study import Sweep, check_n_trials
from .trials import TorchTrial


def new_study(storage: Any, shown: str, name: str | None, objectives: list[Objective], sampler,
              pruner) -> optuna.Study:
    """A new Optuna study in ``storage`` (an opened storage, ``shown`` as its masked URL), with one
    direction per objective; a taken name is a ``ValueError`` before any trial."""
    name = name or f"sweep-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    try:
        return optuna.create_study(storage=storage, study_name=name, directions=[o.direction for o in objectives],
                                   sampler=sampler, pruner=pruner)
    except optuna.exceptions.DuplicatedStudyError:
        raise ValueError(f"name={name!r} is taken: a sweep with this name is already in {shown!r}; load it "
                         f"with tw.load_sweep({shown!r}, {name!r}) and call .resume(), or pick another name"
                         ) from None


@dataclass(frozen=True)
class SweepRequest:
    """What ``tw.sweep`` was asked to search and optimize, as given: the path that trains it (the
    built-in trainer or a training function) checks it in its own words before any trial."""

    space: Space
    base: Any = None
    seed: int | None = None
    metric: str | None = None
    direction: str | None = None
    objectives: list[Any] | None = None
    metrics: dict[str, Callable] | None = None
    population: dict[str, Any] = field(default_factory=dict)  # strategy="pbt": population, interval, ...

    def chosen(self, make: Callable[[str | None, str | None], Objective], pruner: Any) -> Objectives:
        """The sweep's objectives, each made (and checked) by ``make(name, direction)``."""
        return Objectives.of(objectives_of(make, self.metric, self.direction, self.objectives, pruner))


def launch(train_trial: Trial, spec: SweepSpec, plan: LaunchPlan) -> Sweep:
    """What ``tw.sweep`` and ``tw.sweep_estimator`` share: plan the trials, build sampler, pruner,
    executor and study (all checked before any trial), store ``spec`` in the study, then start."""
    strategy, pruner, n_trials, storage = plan.strategy, plan.pruner, plan.n_trials, plan.storage
    if strategy == "pbt" and getattr(train_trial, "population", None) is None and \
            not isinstance(plan.executor, PopulationExecutor):
        raise ValueError("strategy='pbt' trains the models of tw.sweep(data, ...) or tw.sweep(fit, ...) as one "
                         "population: this sweep's trials cannot take each other's weights; use strategy='random' "
                         "or 'bayes'")
    if strategy == "grid":
        n_trials = spec.space.grid_size if n_trials is None else min(n_trials, spec.space.grid_size)
    n_trials = DEFAULT_TRIALS if n_trials is None else n_trials
    check_n_trials(n_trials)
    sampler = make_sampler(strategy, spec.space, spec.seed)
    pruner_obj = make_pruner(pruner, spec.max_epochs)
    executor_obj = make_executor(plan.executor, plan.group_size)
    storage_obj = open_storage(storage)
    spec.strategy, spec.pruner, spec.n_trials = strategy_name(strategy), strategy_name(pruner), n_trials
    study = new_study(storage_obj, mask_url(storage), plan.name, spec.objectives, sampler, pruner_obj)
    study.set_user_attr(SWEEP_ATTR, spec.to_attr())
    sw = Sweep(study, spec, train_trial, executor_obj, storage_obj, plan.quiet).plan(n_trials)
    return sw.start(plan.background) if plan.start else sw


def sweep(data: Data | Callable, space: Space | dict, strategy: Any = "random", n_trials: int | None = None,
          base: HParams | dict | None = None, pruner: Any = None, executor: Any = None,
          storage: Any = None, name: str | None = None, seed: int | None = None, metric: str | None = None,
          direction: str | None = None, metrics: dict[str, Callable] | None = None, background: bool = False,
          group_size: int | str | None = None, start: bool = True, quiet: bool = False,
          objectives: list[Any] | None = None, population: int | None = None, interval: int | None = None,
          quantile: float | None = None, resample: float | None = None) -> Sweep:
    """Search hyperparameters of a torch model on ``data``, or of your own training function
    ``fit(p, report)``; return the ``Sweep``.

    ``strategy``: "grid", "random", "bayes" (TPE) or "gp". ``n_trials`` defaults to the whole grid,
    else 20. Fields not in ``space`` come from ``base``. ``pruner``: None, "median", "halving" or
    "hyperband" (steps are epochs). ``executor``: "thread" (the default: in the kernel), "process", "dask" (a
    local cluster), a ``distributed.Client``, a scheduler address, or "batched" (in the kernel,
    ``group_size`` trials of the same network structure trained together; the default "auto" fits
    each group to the memory of its device, up to 16 trials on a CPU, 64 on a GPU).
    ``storage``: an Optuna storage URL such as "sqlite:///sweeps.db" to keep the sweep;
    ``tw.load_sweep`` reads it back. The objective is ``metric`` (default: val_accuracy, or val_loss
    for regression), best over epochs; ``metrics={name: fn(outputs, targets)}`` adds your own
    validation metrics, and ``metric="val_<name>"`` optimizes one of them. ``start=False`` returns
    the sweep before its first trial (subscribe to ``sweep.events``, then ``sweep.start()``);
    ``quiet=True`` keeps Optuna's per-trial log lines out while it runs.

    ``strategy="pbt"`` is population-based training: ``population`` members (16) train from random
    draws of ``space``, whose dimensions must be live fields (lr, momentum, weight_decay, l1, dropout);
    every ``interval`` epochs (4) the worst ``quantile`` (0.25) take the best ones' weights and optimizer
    state and move their values (x0.8 / x1.2, or a fresh draw with probability ``resample``, 0.25). The
    built-in models train as one batched group (``executor="thread"``: as runs that take turns); a
    training function's members take turns, explore any of its names, and must
    ``report.watch(model, optimizer)``. The table's ``exploits`` and ``parents`` give each member's
    lineage, and its history the values each epoch trained with.

    A training function's space and ``base`` (a dict) take any names; ``metric`` is any name it
    reports (default val_loss), its direction inferred for names like loss, error, accuracy or f1
    and asked for otherwise. Every executor but "batched" runs it.

    Example::

        space = tw.Space(lr=tw.LogUniform(1e-4, 1e-1), layers=tw.IntRange(1, 3))
        sw = tw.sweep(data, space, strategy="grid", base=tw.HParams(epochs=10))
        sw.table().head()

        sw = tw.sweep(fit, tw.Space(lr=tw.LogUniform(1e-4, 1e-1)), base={"epochs": 10}, metric="val_f1")
    """
    space = Space(**space) if isinstance(space, dict) else space
    if not isinstance(space, Space):
        raise ValueError(f"space={space!r} is not allowed: must be a tw.Space (or a dict of dimensions)")
    settings = dict(population=population, interval=interval, quantile=quantile, resample=resample)
    if strategy != "pbt":
        refuse_population_settings(strategy, settings)
    request = SweepRequest(space, base, seed, metric, direction, objectives, metrics, settings)
    plan = LaunchPlan(strategy, n_trials, pruner, executor, group_size, storage, name, background, start, quiet)
    return (sweep_fit if is_training_function(data) else sweep_torch)(data, request, plan)


def sweep_torch(data: Data, request: SweepRequest, plan: LaunchPlan) -> Sweep:
    """``tw.sweep`` of the built-in trainer: data, fields and metrics checked, objectives by the task."""
    if not isinstance(data, Data):
        raise not_data_nor_function(data)
    space = request.space
    space.check_fields()
    base = as_hparams(request.base)
    metrics = check_metrics(request.metrics)
    chosen = request.chosen(lambda m, d: Objective.for_task(data.task, m, d, metrics), plan.pruner)
    spec = SweepSpec(space, chosen, TORCH, seed=request.seed, base=base, stored_base=SweepSpec.storable_base(base),
                     data=data.name, task=data.task, metrics=sorted(metrics))
    pbt = None
    if plan.strategy == "pbt":
        pbt, size, executor = plan_population(data, spec, plan, request.population)
        plan = replace(plan, n_trials=size, executor=executor, group_size=size if executor == "batched" else None)
    return launch(TorchTrial(data, metrics, population=pbt), spec, plan)


def sweep_fit(fit: Callable, request: SweepRequest, plan: LaunchPlan) -> Sweep:
    """``tw.sweep`` of a training function: its base values checked, its objectives by any name."""
    check_fit(fit)
    refuse_metrics(request.metrics)
    if plan.executor == "batched" or plan.group_size is not None:
        raise ValueError(ONLY_BUILT_IN)
    stored = plain_values(request.base)
    chosen = request.chosen(lambda m, d: Objective.named(m or "val_loss", d), plan.pruner)
    spec = SweepSpec(request.space, chosen, FIT, seed=request.seed, base=stored, stored_base=stored,
                     data=getattr(fit, "__name__", "fit"))
    if plan.strategy == "pbt":
        _, size, executor = plan_fit_population(spec, plan, request.population)
        plan = replace(plan, n_trials=size, executor=executor)
    return launch(FitTrial(fit, chosen), spec, plan)


def objectives_of(make: Callable[[str | None, str | None], Objective], metric: str | None, direction: str | None,
                  objectives: list[Any] | None, pruner: Any) -> list[Objective]:
    """The sweep's objectives: ``metric`` (one), or ``objectives`` (names, ``(name, direction)`` pairs,
    or ``tw.Objective``s), each made (and checked) by ``make(name, direction)``."""
    if objectives is None:
        found = [make(metric, direction)]
        conflict = pruner_conflict([found[0].metric], pruner)
        if conflict:
            raise ValueError(f"{conflict}; leave pruner=None")
        return found
    if metric is not None or direction is not None:
        raise ValueError("pass either metric=/direction= (one objective) or objectives=[...] (several), not both")
    if isinstance(objectives, (str, Objective)) or not objectives:
        raise ValueError(f"objectives={objectives!r} is not allowed: must be a list such as ['val_accuracy', 'params']")
    found = []
    for index, item in enumerate(objectives):
        if isinstance(item, Objective):
            name, way = item.metric, item.direction
        elif isinstance(item, str):
            name, way = item, None
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            name, way = item  # (name, direction)
        else:
            raise ValueError(f"objectives[{index}]={item!r} is not allowed: each objective is a metric name such as "
                             f"'val_accuracy', a (name, direction) pair or a tw.Objective")
        found.append(make(name, way))
    if len({o.metric for o in found}) != len(found):
        raise ValueError(f"objectives={[o.metric for o in found]} name the same metric twice")
    conflict = pruner_conflict([o.metric for o in found], pruner)
    if conflict:
        raise ValueError(f"{conflict}; leave pruner=None")
    return found


def pruner_conflict(metrics: list[str], pruner: Any) -> str | None:
    """Why ``pruner`` cannot judge a sweep optimizing ``metrics``, or None (the rule the settings box
    shows too): a pruner judges one value per epoch, so not several objectives (a trial behind in one
    may lead in another), nor a cost known only when a trial ends."""
    if pruner in (None, "none"):
        return None
    if len(metrics) > 1:
        return (f"pruner={pruner!r} does not apply to several objectives: it judges one value per epoch, and a "
                f"trial behind in one objective may lead in another")
    if metrics and metrics[0] in COST_OBJECTIVES:
        return (f"pruner={pruner!r} has nothing to judge: {metrics[0]!r} is known only when a trial ends, "
                f"not each epoch")
    return None


def load_sweep(storage: Any, name: str | None = None, executor: Any = "thread") -> Sweep:
    """A sweep kept in ``storage``: the same table, curves and best; ``.resume(data=...)`` (a sweep of a
    training function: ``.resume(fit=...)``) runs the rest of its plan (trials whose process died first). Trials left running by a process that died
    show as ``interrupted``.

    ``name`` may be left out when the storage holds one sweep.
    """
    shown = mask_url(storage)
    storage_obj = open_storage(storage, must_exist=True)
    try:
        summaries = optuna.get_all_study_summaries(storage=storage_obj)
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"storage={shown!r} is not usable: {type(e).__name__}: {scrub(str(e), storage)}") from None
    names = [s.study_name for s in summaries]
    if name is None:
        if len(names) != 1:
            raise ValueError(f"name is required: {shown!r} holds {len(names)} sweeps {names}")
        name = names[0]
    if name not in names:
        raise ValueError(f"name={name!r} is not in {shown!r}: it holds {names}")
    study = optuna.load_study(study_name=name, storage=storage_obj)
    if SWEEP_ATTR not in study.user_attrs:
        raise ValueError(f"{name!r} in {shown!r} is an Optuna study not made by tw.sweep (no {SWEEP_ATTR!r})")
    return Sweep.loaded(study, storage_obj, make_executor(executor))
