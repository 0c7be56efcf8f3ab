"""Sweep: the Optuna ask/tell loop, wiring only.

The kernel asks Optuna for trials, hands them to an executor with a reporter each, feeds every
reported epoch to Optuna's pruner, tells Optuna each outcome, and keeps a live record per trial
for the table, the curves and the event feed a widget drains. The Optuna study (in memory or in a
storage URL) is the durable record.
"""

from __future__ import annotations

import math
import sys
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any

import optuna
import pandas as pd
from optuna.trial import TrialState

from ..engine.data import Data
from ..engine.events import EventChannel, MetricEvent
from ..engine.metrics import PRIMARY_METRIC
from ..hparams import HParams, as_hparams
from ..space import Space
from .executors import make_executor
from .objectives import TorchObjective, error_text
from .protocol import Executor, Reporter, TrialJob, TrialResult
from .results import (RESULT_ATTR, SWEEP_ATTR, TrialRecord, best_of, curves_table, history_frame,
                      record_from_trial, results_table)
from .strategies import distributions, make_pruner, make_sampler, strategy_name

METRICS = {"classification": ("val_accuracy", "val_f1", "val_recall", "val_loss", "train_loss"),
           "regression": ("val_loss", "val_mse", "val_mae", "val_r2", "train_loss")}
MINIMIZED = ("loss", "mse", "mae")
DEFAULT_TRIALS = 20


def default_direction(metric: str) -> str:
    return "minimize" if any(metric.endswith(m) for m in MINIMIZED) else "maximize"


def check_direction(direction: str | None, metric: str) -> str:
    if direction is None:
        return default_direction(metric)
    if direction not in ("maximize", "minimize"):
        raise ValueError(f"direction={direction!r} is not allowed: must be 'maximize' or 'minimize'")
    return direction


def check_n_trials(n_trials: Any) -> None:
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ValueError(f"n_trials={n_trials!r} is not allowed: must be an integer >= 1")


def create_study(storage: Any, name: str | None, direction: str, sampler, pruner) -> optuna.Study:
    """A new Optuna study; a bad storage URL or a taken name is a ``ValueError`` before any trial."""
    name = name or f"sweep-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    try:
        return optuna.create_study(storage=storage, study_name=name, direction=direction, sampler=sampler,
                                   pruner=pruner)
    except optuna.exceptions.DuplicatedStudyError:
        raise ValueError(f"name={name!r} is taken: a sweep with this name is already in {storage!r}; load it "
                         f"with tw.load_sweep({storage!r}, {name!r}) and call .resume(), or pick another name"
                         ) from None
    except Exception as e:  # noqa: BLE001 - SQLAlchemy and Optuna raise many kinds for a bad URL
        raise ValueError(f"storage={storage!r} is not usable: {error_text(e)}. Use an Optuna storage URL such "
                         f"as 'sqlite:///sweeps.db' or 'postgresql://user:pass@host/db'") from None


class Sweep:
    """A hyperparameter search: live while it runs, and the same object when loaded from storage.

    Example::

        sw = tw.sweep(data, tw.Space(lr=tw.LogUniform(1e-4, 1e-1)), strategy="bayes", n_trials=20,
                      pruner="median", background=True)
        sw.progress                 # {'done': 3, 'running': 1, ...}
        sw.table()                  # ranked, best first
        sw.best                     # the best trial's HParams
        sw.stop(); sw.wait()
    """

    def __init__(self, study: optuna.Study, space: Space, metric: str, direction: str, info: dict[str, Any],
                 base: HParams | None = None, objective: Any = None, executor: Any = "thread",
                 records: dict[int, TrialRecord] | None = None) -> None:
        self.study = study
        self.space = space
        self.metric, self.direction = metric, direction
        self.info = info
        self.base = base
        self.objective = objective
        self.executor_spec = executor
        self.events = EventChannel()
        self.status = "pending"  # pending, running, completed, stopped, failed
        self.error: BaseException | None = None
        self._records: dict[int, TrialRecord] = dict(records or {})
        self._trials: dict[int, optuna.Trial] = {}
        self._reporters: dict[int, Reporter] = {}
        self._lock = threading.RLock()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self._planned = len(self._records)
        self._started_at: float | None = None
        self._ended_at: float | None = None
        self._distributions = distributions(space)
        self._pruning = not isinstance(study.pruner, optuna.pruners.NopPruner)

    # ---- running -----------------------------------------------------------------------------
    def resume(self, n_trials: int | None = None, data: Data | None = None, executor: Any = None,
               background: bool = False) -> "Sweep":
        """Run ``n_trials`` more trials (a grid: the grid points not tried yet). A sweep loaded from
        storage needs ``data`` again. Returns ``self``."""
        if self.status == "running":
            raise RuntimeError("the sweep is still running: wait() or stop() it first")
        if data is not None:
            if self.info.get("kind") != "torch":
                raise ValueError("data= only applies to sweeps of torch models")
            self.objective = _torch_objective(data, self.metric, self.direction, self.info)
        if self.objective is None:
            if self.info.get("kind") != "torch":
                raise ValueError("an estimator sweep loaded from storage cannot be resumed: run "
                                 "tw.sweep_estimator again (with the same storage and a new name)")
            raise ValueError("this sweep was loaded from storage: pass data= (the same tw.Data) to resume it")
        if self.info.get("strategy") == "grid":
            left = self.space.grid_size - len(self.study.trials)
            if left <= 0:
                raise ValueError(f"the grid is complete: all {self.space.grid_size} points were tried")
            n_trials = left if n_trials is None else min(n_trials, left)
        n_trials = DEFAULT_TRIALS if n_trials is None else n_trials
        check_n_trials(n_trials)
        executor_obj = make_executor(self.executor_spec if executor is None else executor)
        return self._start(executor_obj, n_trials, background)

    def _start(self, executor: Executor, n_trials: int, background: bool) -> "Sweep":
        executor.open(self.objective)  # errors (no cluster, bad pool) surface here, before any trial
        self._stopping = False
        self._done.clear()
        self.error = None
        self.status = "running"
        self._planned += n_trials
        self._started_at = time.time()
        self._ended_at = None
        if background:
            self._thread = threading.Thread(target=self._drive_safely, args=(executor, n_trials),
                                            name="tunewidgets-sweep", daemon=True)
            self._thread.start()
        else:
            self._drive(executor, n_trials)
        return self

    def _drive_safely(self, executor: Executor, n_trials: int) -> None:
        try:
            self._drive(executor, n_trials)
        except BaseException as e:  # noqa: BLE001 - kept for wait() to raise in the caller's thread
            self.error = e

    def _drive(self, executor: Executor, n_trials: int) -> None:
        pending: dict[Future, TrialJob] = {}
        launched = 0
        try:
            while True:
                want = min(executor.slots - len(pending), n_trials - launched)
                if want > 0 and not self._stopping:
                    jobs = [self._ask() for _ in range(want)]
                    pending.update(zip(executor.submit(jobs), jobs))
                    launched += want
                if not pending:
                    break
                finished, _ = wait(list(pending), timeout=0.25, return_when=FIRST_COMPLETED)
                for future in finished:
                    self._finish(pending.pop(future), future)
        except BaseException:
            self._stopping = True
            for job in pending.values():
                job.reporter.request_stop("stopped")
            finished, _ = wait(list(pending), timeout=60)
            for future, job in pending.items():
                self._finish(job, future if future in finished else None)
            self.status = "stopped" if isinstance(sys.exc_info()[1], KeyboardInterrupt) else "failed"
            raise
        finally:
            self._planned -= n_trials - launched
            try:
                executor.close()
            finally:
                if self.status == "running":
                    self.status = "stopped" if self._stopping else "completed"
                self._ended_at = time.time()
                self._done.set()

    def _ask(self) -> TrialJob:
        with self._lock:
            trial = self.study.ask(self._distributions)
            params = dict(trial.params)
            number = trial.number
            self._trials[number] = trial
            self._records[number] = TrialRecord(number, params)
            reporter = Reporter(number, self._on_epoch)
            self._reporters[number] = reporter
        self._publish(number, "status", 0, {"status": "running", "params": params})
        return TrialJob(number, self._job_params(params), reporter)

    def _job_params(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.base is None:
            return dict(params)
        return self.base.replace(**params).to_dict()

    def _on_epoch(self, number: int, row: dict[str, Any]) -> str | None:
        """A trial's epoch arrived (any thread): record it, feed the pruner; ``"pruned"`` stops the trial."""
        epoch = int(row["epoch"])
        value = row.get(self.metric)
        with self._lock:
            record = self._records[number]
            if record.status != "running":
                return None
            if epoch <= len(record.rows):  # a trial retried after a worker died starts over
                del record.rows[epoch - 1:]
            record.rows.append(dict(row))
            prune = False
            if isinstance(value, (int, float)) and math.isfinite(value) and epoch not in record.reported:
                trial = self._trials[number]
                trial.report(float(value), epoch)
                record.reported.add(epoch)
                prune = self._pruning and trial.should_prune()
        self._publish(number, "epoch", epoch, dict(row))
        return "pruned" if prune else None

    def _finish(self, job: TrialJob, future: Future | None) -> None:
        if future is None:
            result = TrialResult("failed", error="interrupted: the sweep ended before this trial finished")
        else:
            try:
                result = future.result()
            except BaseException as e:  # noqa: BLE001 - a dead worker, a broken pool, a cancelled task
                result = TrialResult("failed", error=error_text(e))
        status, error = _table_status(result, job.reporter.stop_status, self.metric)
        with self._lock:
            record = self._records[job.number]
            trial = self._trials.pop(job.number)
            rows = result.rows or record.rows
            for row in rows:  # steps the live feed did not deliver (or delivered after a retry)
                v, epoch = row.get(self.metric), int(row["epoch"])
                if isinstance(v, (int, float)) and math.isfinite(v) and epoch not in record.reported:
                    trial.report(float(v), epoch)
                    record.reported.add(epoch)
            value = result.value if math.isfinite(result.value) else best_of(rows, self.metric, self.direction)
            record.rows, record.status, record.error = list(rows), status, error
            record.value, record.seconds, record.extra = value, result.seconds, dict(result.extra)
            trial.set_user_attr(RESULT_ATTR, record.to_attr())
            if status == "complete":
                self.study.tell(trial, value)
            else:
                self.study.tell(trial, state=TrialState.FAIL if status == "failed" else TrialState.PRUNED)
            self._reporters.pop(job.number, None)
        self._publish(job.number, "status", len(rows), {"status": status, "value": value, "error": error})

    def _publish(self, number: int, kind: str, epoch: int, values: dict[str, Any]) -> None:
        self.events.publish(MetricEvent(f"trial-{number}", kind, epoch, 0, {**values, "trial": number}, time.time()))

    def stop(self) -> None:
        """Start no more trials and stop the running ones within an epoch; finished trials stay."""
        self._stopping = True
        with self._lock:
            reporters = list(self._reporters.values())
        for reporter in reporters:
            reporter.request_stop("stopped")

    def wait(self, timeout: float | None = None) -> str:
        """Block until the sweep ends (or ``timeout`` seconds pass); return its status.
        Raises what ended a background sweep, if it failed."""
        if self._thread is not None:
            self._thread.join(timeout)
        if self.error is not None:
            raise self.error
        return self.status

    @property
    def done(self) -> bool:
        return self.status in ("completed", "stopped", "failed", "loaded")

    # ---- results -----------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.study.study_name

    def records(self) -> list[TrialRecord]:
        with self._lock:
            return [TrialRecord(r.number, dict(r.params), r.status, r.value, list(r.rows), r.error, r.seconds,
                                r.started, dict(r.extra)) for r in self._records.values()]

    def table(self) -> pd.DataFrame:
        """One row per trial, ranked best first: rank, trial, status, the metric (best over epochs),
        epochs, seconds, each hyperparameter of the space, error (failed trials last, kept)."""
        return results_table(self.records(), self.space.names, self.metric, self.direction)

    def curves(self) -> pd.DataFrame:
        """Every trial's per-epoch history in one long frame (``trial``, ``status``, ``epoch``, metrics)."""
        return curves_table(self.records())

    @property
    def runs(self) -> dict[int, pd.DataFrame]:
        """Each trial's history (like ``Run.history``), by trial number."""
        return {r.number: history_frame(r) for r in self.records()}

    def _best_record(self) -> TrialRecord | None:
        complete = [r for r in self.records() if r.status == "complete" and math.isfinite(r.value)]
        if not complete:
            return None
        sign = -1.0 if self.direction == "maximize" else 1.0
        return min(complete, key=lambda r: (sign * r.value, r.number))

    @property
    def best_params(self) -> dict[str, Any] | None:
        """The best complete trial's values of the space's dimensions, or None."""
        best = self._best_record()
        return None if best is None else dict(best.params)

    @property
    def best(self) -> HParams | dict[str, Any] | None:
        """The best complete trial's ``HParams`` (estimator sweeps: its parameters), or None."""
        params = self.best_params
        if params is None or self.base is None:
            return params
        return self.base.replace(**params)

    @property
    def best_value(self) -> float | None:
        best = self._best_record()
        return None if best is None else best.value

    @property
    def progress(self) -> dict[str, Any]:
        """Counts for a progress bar: planned, done, complete, pruned, stopped, failed, running; elapsed
        (seconds since the last start or resume, frozen when the sweep ends)."""
        statuses = [r.status for r in self.records()]
        counts = {s: statuses.count(s) for s in ("complete", "pruned", "stopped", "failed", "running")}
        elapsed = (self._ended_at or time.time()) - self._started_at if self._started_at else 0.0
        return {"n_trials": max(self._planned, len(statuses)), "done": len(statuses) - counts["running"],
                **counts, "elapsed": elapsed}

    def __repr__(self) -> str:
        p = self.progress
        best = self.best_value
        text = f", best {self.metric}={best:.4g}" if best is not None else ""
        return (f"<Sweep {self.name!r} {self.status}: {p['done']}/{p['n_trials']} trials done, "
                f"{p['pruned']} pruned, {p['failed']} failed{text}>")


def _table_status(result: TrialResult, stop_status: str | None, metric: str) -> tuple[str, str | None]:
    """Map a run's status to the table's: complete, pruned, stopped or failed (with a reason)."""
    s = result.status
    if s in ("completed", "early_stopped"):
        if not math.isfinite(result.value):
            return "failed", result.error or f"no finite {metric} was measured"
        return "complete", None
    if s == "pruned" or (s == "stopped" and stop_status == "pruned"):
        return "pruned", None
    if s == "stopped":
        return "stopped", "stopped by sweep.stop()"
    return "failed", result.error or s


def _torch_objective(data: Data, metric: str, direction: str, info: dict[str, Any]) -> TorchObjective:
    if not isinstance(data, Data):
        raise ValueError(f"data={type(data).__name__} is not allowed: must be a tw.Data (tw.load_dataset, "
                         f"tw.Data.from_arrays or tw.Data.from_datasets)")
    allowed = METRICS[data.task]
    if metric not in allowed:
        raise ValueError(f"metric={metric!r} is not allowed for {data.task}: must be one of {allowed}")
    if info.get("task") not in (None, data.task):
        raise ValueError(f"data is a {data.task} task, but the sweep was a {info['task']} task")
    return TorchObjective(data, metric, direction)


def _max_epochs(space: Space, base: HParams) -> int:
    dim = space.dims.get("epochs")
    return max(dim.grid()) if dim is not None else base.epochs


def _base_for_storage(base: HParams) -> dict[str, Any]:
    d = base.to_dict()
    if callable(d["model"]):
        d["model"] = base.model_name
    return d


def sweep(data: Data, space: Space | dict, strategy: Any = "random", n_trials: int | None = None,
          base: HParams | dict | None = None, pruner: Any = None, executor: Any = "thread",
          storage: Any = None, name: str | None = None, seed: int | None = None, metric: str | None = None,
          direction: str | None = None, background: bool = False, group_size: int | None = None) -> Sweep:
    """Search hyperparameters of a torch model on ``data``; return the ``Sweep``.

    ``strategy``: "grid", "random", "bayes" (TPE) or "gp". ``n_trials`` defaults to the whole grid,
    else 20. Fields not in ``space`` come from ``base``. ``pruner``: None, "median", "halving" or
    "hyperband" (steps are epochs). ``executor``: "thread" (in the kernel), "process", "dask" (a
    local cluster), a ``distributed.Client``, a scheduler address, or "batched" (in the kernel,
    ``group_size`` trials of the same network structure trained together, default 16; see
    ``sweep.batched_executor``). ``storage``: an Optuna storage URL such as "sqlite:///sweeps.db"
    to keep the sweep; ``tw.load_sweep`` reads it back.
    The objective is ``metric`` (default: val_accuracy, or val_loss for regression), best over epochs.

    Example::

        space = tw.Space(lr=tw.LogUniform(1e-4, 1e-1), layers=tw.IntRange(1, 3))
        sw = tw.sweep(data, space, strategy="grid", base=tw.HParams(epochs=10))
        sw.table().head()
    """
    if not isinstance(data, Data):
        raise ValueError(f"data={type(data).__name__} is not allowed: must be a tw.Data")
    space = Space(**space) if isinstance(space, dict) else space
    if not isinstance(space, Space):
        raise ValueError(f"space={space!r} is not allowed: must be a tw.Space (or a dict of dimensions)")
    base = as_hparams(base)
    metric = metric or PRIMARY_METRIC[data.task][0]
    direction = check_direction(direction, metric)
    objective = _torch_objective(data, metric, direction, {})
    if strategy == "grid":
        n_trials = space.grid_size if n_trials is None else min(n_trials, space.grid_size)
    n_trials = DEFAULT_TRIALS if n_trials is None else n_trials
    check_n_trials(n_trials)
    sampler = make_sampler(strategy, space, seed)
    pruner_obj = make_pruner(pruner, _max_epochs(space, base))
    executor_obj = make_executor(executor, group_size)
    study = create_study(storage, name, direction, sampler, pruner_obj)
    info = {"kind": "torch", "space": space.to_dict(), "base": _base_for_storage(base), "metric": metric,
            "direction": direction, "strategy": strategy_name(strategy), "pruner": strategy_name(pruner),
            "seed": seed, "data": data.name, "task": data.task}
    study.set_user_attr(SWEEP_ATTR, info)
    sw = Sweep(study, space, metric, direction, info, base=base, objective=objective,
               executor=executor if group_size is None else executor_obj)  # resume() keeps the group size
    return sw._start(executor_obj, n_trials, background)


def load_sweep(storage: Any, name: str | None = None, executor: Any = "thread") -> Sweep:
    """A sweep kept in ``storage``: the same table, curves and best; ``.resume(n, data=...)`` adds trials.

    ``name`` may be left out when the storage holds one sweep.
    """
    try:
        summaries = optuna.get_all_study_summaries(storage=storage)
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"storage={storage!r} is not usable: {error_text(e)}") from None
    names = [s.study_name for s in summaries]
    if name is None:
        if len(names) != 1:
            raise ValueError(f"name is required: {storage!r} holds {len(names)} sweeps {names}")
        name = names[0]
    if name not in names:
        raise ValueError(f"name={name!r} is not in {storage!r}: it holds {names}")
    study = optuna.load_study(study_name=name, storage=storage)
    info = study.user_attrs.get(SWEEP_ATTR)
    if info is None:
        raise ValueError(f"{name!r} in {storage!r} is an Optuna study not made by tw.sweep (no {SWEEP_ATTR!r})")
    space = Space.from_dict(info["space"])
    seed = info.get("seed")
    n_done = len(study.trials)
    strategy = info["strategy"] if info["strategy"] in ("grid", "random", "bayes", "gp") else "bayes"
    # A fresh sampler continues the study; offset its seed so a resumed random search does not repeat.
    study.sampler = make_sampler(strategy, space, None if seed is None else seed + n_done)
    base = None
    if info["kind"] == "torch":
        base = HParams.from_dict(info["base"]) if info["base"]["model"] in ("mlp", "cnn", "resnet") else None
        max_epochs = _max_epochs(space, base or HParams(epochs=info["base"]["epochs"]))
    else:
        max_epochs = 1
    pruner = info.get("pruner")
    study.pruner = make_pruner(pruner if pruner in ("median", "halving", "hyperband") else None, max_epochs)
    records = {t.number: record_from_trial(t, info["metric"]) for t in study.trials}
    sw = Sweep(study, space, info["metric"], info["direction"], info, base=base, executor=executor, records=records)
    sw.status = "loaded"
    return sw
