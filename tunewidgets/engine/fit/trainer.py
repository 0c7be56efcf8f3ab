"""A training function of yours as a run's trainer: ``tw.train(fit, {"lr": 1e-3, "epochs": 10})``.

``fit(p, report)`` gets the run's hyperparameters ``p`` (a live ``Params``) and its ``Report``;
what it reports is the run's history, and a module it returns (or watched first) is ``run.model``.
The contract is in ``report.py``.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, Callable

from torch import nn

from ...hparams import check_field
from ...objective import Objective
from ..control.state import copy_states
from ..builtin.data import Data
from .params import Params
from .report import Report, StopTraining
from ..control.trainer import Trainer
from ...statuses import Status

WATCHED_KNOBS = ("lr", "momentum", "weight_decay", "dropout")  # what report.watch applies

if TYPE_CHECKING:  # pragma: no cover
    from ..control.run_like import RunLike


def is_training_function(target: Any) -> bool:
    """True for a training function of yours (what ``tw.train``, ``tw.sweep`` and the panels take besides
    a ``tw.Data``); not a class or a model, which are callable too. The one test every entry point asks."""
    return callable(target) and not isinstance(target, (type, nn.Module, Data, Trainer))


def not_data_nor_function(target: Any, name: str = "data") -> ValueError:
    """The error for a target that is neither a ``tw.Data`` nor a training function, in one wording for
    every entry point; a torch model (or its class) is told where a network of its own goes."""
    is_model = isinstance(target, nn.Module) or (isinstance(target, type) and issubclass(target, nn.Module))
    hint = (": a torch model goes in the hyperparameters, model=lambda hp, data: YourNet(...), or is built "
            "and trained inside fit(p, report)") if is_model else ""
    what = target.__name__ if isinstance(target, type) else type(target).__name__
    return ValueError(f"{name}={what} is not allowed: must be a tw.Data (tw.load_dataset, tw.Data.from_arrays "
                      f"or tw.Data.from_datasets) or a training function fit(p, report){hint}")


def refuse_metrics(metrics: Any) -> None:
    """``metrics=`` is the built-in trainer's: a training function computes and reports its own."""
    if metrics is not None:
        raise ValueError("metrics= adds validation metrics to the built-in trainer: a training function "
                         "reports its own, report.epoch(val_top2=...)")


def check_fit(fit: Any) -> Callable:
    """``fit`` itself if it can be called as ``fit(p, report)``; a ``ValueError`` showing the form otherwise."""
    if not callable(fit):
        raise ValueError(f"{type(fit).__name__} is not a training function: write def fit(p, report): ... and "
                         f"pass it, or pass a tw.Data for the built-in trainer")
    try:
        inspect.signature(fit).bind(None, None)
    except TypeError:
        raise ValueError(f"training function {getattr(fit, '__name__', fit)!r} must take two arguments, "
                         f"fit(p, report): p holds the hyperparameters, report takes the metrics") from None
    except ValueError:  # a builtin without a signature: let the call tell
        pass
    return fit


class FitTrainer(Trainer):
    """Runs ``fit(p, report)``; ``metric``/``direction`` choose what the run's ``best_metric`` is (by
    default ``val_loss``, minimized)."""

    def __init__(self, fit: Callable, metric: str | None = None, direction: str | None = None) -> None:
        self.fit = check_fit(fit)
        self.objective = Objective.named(metric or "val_loss", direction)
        self.forks_because_not = (f"{self.name} is a training function of yours: tunewidgets cannot restart it "
                                  f"from a run's weights; train a new run with the values you want")
        self.report: Report | None = None  # while it trains

    def again(self) -> "FitTrainer":
        """A trainer of the same function and objective, for another run (a stored one read back)."""
        return FitTrainer(self.fit, self.objective.metric, self.objective.direction)

    @property
    def name(self) -> str:
        return getattr(self.fit, "__name__", "fit")

    def params_of(self, hparams: Any, overrides: dict[str, Any]) -> Params:
        return Params.of(hparams, **overrides)

    def prepare(self, run: "RunLike") -> None:
        run.device_label = f"as {self.name} chooses"

    def train(self, run: "RunLike") -> str:
        self.report = report = Report(run, run.hparams)
        try:
            returned = self.fit(report.params, report)
        except StopTraining as stop:
            cause = stop.__context__  # raised by a report call in a ``finally`` while the fit failed
            if isinstance(cause, Exception):
                raise cause from None
            return stop.status
        finally:
            self.report = None
        if isinstance(returned, nn.Module):
            run.model = returned
        if report.ended is not None:  # the fit caught its StopTraining and returned
            return report.ended
        return run.control.stop_status if run.control.stop_requested else Status.COMPLETED  # it saw should_stop

    def checked_changes(self, run: "RunLike", changes: dict[str, Any]) -> Params:
        """Names the run has, values of the same kind; the knobs a report applies to watched objects
        (lr, momentum, weight_decay, dropout) also within the built-in trainer's ranges."""
        new = run.hparams.replace(**changes)
        for name in set(changes) & set(WATCHED_KNOBS):
            check_field(name, changes[name])
        return new

    def population_problem(self, run: "RunLike") -> str | None:
        report = self.report
        if report is None or not (report.modules and report.optimizers):
            return (f"{self.name} is a population member (strategy='pbt'): call report.watch(model, optimizer) "
                    f"in it, since a member takes another's weights and optimizer state")
        return None

    def take_state_of(self, run: "RunLike", donor: "RunLike", names: list[str]) -> None:
        mine, theirs = self.report, donor.trainer.report
        problem = self.population_problem(run) or donor.trainer.population_problem(donor)
        if problem:
            raise ValueError(problem)
        kinds = ("modules", "optimizers", "schedulers")
        differ = [kind for kind in kinds if len(getattr(mine, kind)) != len(getattr(theirs, kind))]
        if differ:
            raise ValueError(f"{run.name} and {donor.name} watch different numbers of {', '.join(differ)}: "
                             f"every member of a population must report.watch the same objects")
        try:
            copy_states([pair for kind in kinds for pair in zip(getattr(mine, kind), getattr(theirs, kind))])
        except (RuntimeError, ValueError, KeyError) as e:  # torch's own words for a shape that differs
            raise ValueError(f"{run.name} cannot take {donor.name}'s weights: the members of a population share one "
                             f"shape, so explore only values that do not change it (put the others in base=); "
                             f"{type(e).__name__}: {str(e).splitlines()[0]}") from None
        values = {name: theirs.params[name] for name in names}  # what its report applied
        mine.take_values(values)
        run.hparams = run.hparams.replace(**values)
