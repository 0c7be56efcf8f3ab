"""``tw.train``: the one call that trains, with the built-in trainer or a training function of yours."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from ..hparams import HParams
from ..objective import Objective
from .control.callbacks import Callback
from .builtin.data import Data
from .fit.trainer import FitTrainer, is_training_function, refuse_metrics
from .run import Run
from .population.schedule import FollowSchedule, check_schedule, check_steps_apply


def train(data: Data | Callable, hparams: HParams | dict | None = None, *, background: bool = False,
          callbacks: Iterable[Callback] = (), name: str | None = None,
          metrics: dict[str, Callable] | None = None, metric: str | None = None, direction: str | None = None,
          schedule: list[dict[str, Any]] | str | None = None, **overrides: Any) -> Run:
    """Train a model and return its ``Run``.

    ``data`` is a ``tw.Data`` that the built-in trainer trains ``hparams`` (a ``tw.HParams``) on, or a
    training function of yours, ``fit(p, report)``, given its hyperparameters as a dict of any names
    (see ``tw.Report``). Blocks until done, or with ``background=True`` returns at once while a
    thread trains. Keyword overrides change single values: ``tw.train(data, hp, lr=0.01)``.
    ``metrics`` adds validation metrics of your own to the built-in trainer, ``{name: fn(outputs,
    targets) -> float}``, as ``val_<name>`` history columns. ``metric`` (and ``direction``) says
    which history column ``run.best_metric`` reads (a training function's default: ``val_loss``; the
    direction is inferred from names such as loss, error, accuracy or f1, and asked for otherwise).
    ``schedule`` given a list trains along values that change at given epochs, ``[{"epoch": 1, "lr": 0.01},
    {"epoch": 9, "lr": 0.003}]``: the first step's values start the run, each later one moves its live
    knobs (``sweep.best_schedule`` replays what population-based training found). Given a name
    (``"step"``, ``"cosine"``, ...) it is the ``HParams`` field, the learning-rate schedule's kind.

    Example::

        data = tw.load_dataset("digits")
        run = tw.train(data, tw.HParams(lr=3e-3, epochs=20))
        run.status, run.history["val_accuracy"].max()

        run = tw.train(fit, {"lr": 1e-3, "hidden": 64, "epochs": 10}, background=True)
    """
    is_fit = is_training_function(data)
    if is_fit:
        refuse_metrics(metrics)
    target = FitTrainer(data, metric, direction) if is_fit else data
    if isinstance(schedule, str):
        overrides["schedule"] = schedule  # the learning-rate schedule's kind, an HParams field ("step", ...)
        schedule = None
    steps = check_schedule(schedule) if schedule is not None else None
    if steps is not None:
        overrides = {**{k: v for k, v in steps[0].items() if k != "epoch"}, **overrides}
        callbacks = [*callbacks, FollowSchedule(steps)]
    run = Run(target, hparams, callbacks=callbacks, name=name, metrics=metrics, **overrides)
    if steps is not None:
        check_steps_apply(run, steps)
    if (metric is not None or direction is not None) and run.data is not None:
        run.objective = Objective.for_task(run.data.task, metric, direction, run.extra_metrics)
    return run.start(background=background)
