"""Sweep: what a user holds of a hyperparameter search, live or loaded from storage.

A thin front (start, resume, stop, wait, the table and the best trial); the loop it drives lives in
``driver.py``, and building one in ``launch.py``. The Optuna study (in memory or in a storage URL)
is the durable record.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Iterable

import optuna
import pandas as pd
from optuna.trial import TrialState

from ..engine.builtin.data import Data
from ..engine.control.history import epoch_table
from ..engine.control.threads import free_idle_thread_team
from ..guards import require_count
from ..hparams import HParams
from ..objective import HasObjective, Objective
from ..space import Space
from . import logs
from .driver import SweepDriver, TrialBook
from .executors import make_executor
from .population import schedule_of
from .protocol import Executor, Trial, start_note
from .results import (RETRY_ATTR, SWEEP_ATTR, TrialRecord, best_record, curves_table, note_rerun,
                      record_from_trial, results_table)
from .resume import interrupted_to_rerun, missing_for_resume, resume_base, trial_to_resume, trials_to_run
from .storage import Heartbeat, fail_stale_trials, heartbeat_enabled
from .strategies import PRUNERS, STRATEGIES, distributions, make_pruner, make_sampler
from .spec import SweepSpec
from ..statuses import SWEEP_DONE_STATUSES, Status


def check_n_trials(n_trials: Any) -> None:
    require_count("n_trials", n_trials)


class Sweep(HasObjective):
    """A hyperparameter search: live while it runs, and the same object when loaded from storage.

    Example::

        sw = tw.sweep(data, tw.Space(lr=tw.LogUniform(1e-4, 1e-1)), strategy="bayes", n_trials=20,
                      pruner="median", start=False)
        feed = sw.events.listen()   # subscribed before the first trial: no event is missed
        sw.start(background=True)
        sw.progress                 # {'done': 3, 'running': 1, ...}
        sw.table()                  # ranked, best first
        sw.best                     # the best trial's HParams
        sw.stop(); sw.wait()
    """

    def __init__(self, study: optuna.Study, spec: SweepSpec, train_trial: Trial | None = None,
                 executor: Executor | None = None, storage: Any = None, quiet: bool = False) -> None:
        """``spec`` says what the sweep searches and trains; ``train_trial`` trains one trial (None for a
        sweep loaded from storage until ``resume(data=...)``); ``executor`` runs the trials, this start
        and every resume that names no other; ``storage`` is the opened Optuna storage (None: in
        memory); ``quiet`` keeps Optuna's per-trial log lines out while it runs."""
        self.study, self.spec = study, spec
        self.train_trial = train_trial
        self.executor = make_executor("thread") if executor is None else executor
        self.storage = storage
        self.quiet = quiet
        self.book = TrialBook()
        self.events = self.book.events
        self.status = Status.PENDING  # pending, running, paused, completed, stopped, failed, loaded
        self._status_lock = threading.Lock()  # pause/resume against the driver's end
        self.error: BaseException | None = None
        self.note: str | None = None  # what the sweep is busy with before its first trial, e.g. starting workers
        self._plan: int | None = None  # trials start() runs
        self._driver: SweepDriver | None = None
        self._thread: threading.Thread | None = None
        self._planned = 0
        self._started_at: float | None = None
        self._ended_at: float | None = None

    @classmethod
    def loaded(cls, study: optuna.Study, storage: Any, executor: Executor | None = None) -> "Sweep":
        """The sweep a stored study holds (``tw.load_sweep``): its table, curves and best at once;
        ``resume(data=...)`` trains more. A fresh sampler continues the study, its seed offset by the
        trials so far so a resumed random search does not repeat itself."""
        spec = SweepSpec.from_attr(study.user_attrs[SWEEP_ATTR])
        if spec.strategy not in (*STRATEGIES, "pbt"):
            spec.strategy = "bayes"  # a sampler object was stored by its class name
        seed = spec.seed if spec.seed is None else spec.seed + len(study.trials)
        study.sampler = make_sampler(spec.strategy, spec.space, seed)
        study.pruner = make_pruner(spec.pruner if spec.pruner in PRUNERS else None, spec.max_epochs)
        sw = cls(study, spec, executor=executor, storage=storage)
        sw.refresh()
        sw.status = Status.LOADED
        return sw

    # ---- what it searches ------------------------------------------------------------------------
    @property
    def space(self) -> Space:
        return self.spec.space

    @property
    def objective(self) -> Objective:
        """The objective that ranks the table, feeds the pruner and names the best."""
        return self.spec.objectives.primary

    @property
    def objectives(self) -> list[Objective]:
        """Every objective, the first one ranking (several: a multi-objective, Pareto sweep)."""
        return list(self.spec.objectives)

    @property
    def base(self) -> HParams | None:
        """The hyperparameters the space leaves out (None for an estimator sweep)."""
        return self.spec.base

    @property
    def info(self) -> dict[str, Any]:
        """What the study stores about the sweep (JSON): space, objectives, plan, what it trains."""
        return self.spec.to_attr()

    # ---- running -----------------------------------------------------------------------------
    def plan(self, n_trials: int) -> "Sweep":
        """Set what ``start()`` runs: ``n_trials`` trials on the sweep's executor (the launcher does this)."""
        check_n_trials(n_trials)
        self._plan = n_trials
        return self

    def start(self, background: bool = False) -> "Sweep":
        """Run the planned trials (``tw.sweep(..., start=False)`` builds a sweep that waits for this)."""
        if self._plan is None or self.status != Status.PENDING:
            raise RuntimeError(f"the sweep is {self.status}: start() runs a sweep built with start=False once; "
                               f"resume() adds trials")
        n_trials, self._plan = self._plan, None
        return self._run(self.executor, n_trials, background)

    def pause(self) -> None:
        """Hold the sweep: running trials pause where they are (in the kernel at the next batch, in
        workers at their epoch's end) and no new trial starts; ``resume()`` carries on, ``stop()`` ends it."""
        with self._status_lock:
            if self.status == Status.RUNNING and self._driver is not None:
                self._driver.pause(True)
                self.status = Status.PAUSED

    def resume(self, n_trials: int | None = None, data: Data | None = None, executor: Any = None,
               background: bool = False, metrics: dict | None = None, base: Any = None,
               fit: Any = None) -> "Sweep":
        """Carry on a paused sweep; or, on an ended one, run more trials: the rest of the plan unless
        ``n_trials`` says otherwise (a grid: the points not tried yet). Trials whose process died are run
        again first, with the same hyperparameters. A sweep loaded from storage needs ``data`` again
        (``metrics`` when it optimizes a custom one, ``base`` when its model was a factory, which cannot
        be stored); a sweep of a training function needs ``fit`` again. Returns ``self``."""
        with self._status_lock:
            if self.status == Status.PAUSED:
                self.status = Status.RUNNING
                self._driver.pause(False)
                return self
        if self.status in (Status.PENDING, Status.RUNNING):
            raise RuntimeError(f"the sweep is {self.status}: start() it, or wait() / stop() it first")
        if self.spec.strategy == "pbt":
            raise ValueError("a population-based sweep cannot run more trials: its members trained together and "
                             "took each other's weights; start a new tw.sweep(..., strategy='pbt')")
        base = resume_base(self.spec, base)
        train_trial = trial_to_resume(self.spec, data, metrics, fit) or self.train_trial
        if train_trial is None:
            raise ValueError(missing_for_resume(self.spec))
        if executor is not None:
            self.executor = make_executor(executor)
        self.spec.base, self.train_trial = base, train_trial
        self.refresh()
        records = self.records()
        reruns = interrupted_to_rerun(records, {t.user_attrs[RETRY_ATTR] for t in self.study.trials
                                                if RETRY_ATTR in t.user_attrs})
        n_trials = trials_to_run(n_trials, self.spec, records, len(reruns))
        check_n_trials(n_trials)
        for record in reruns[:n_trials]:
            self.study.enqueue_trial(record.params, user_attrs={RETRY_ATTR: record.number})
        self.spec.n_trials = sum(1 for r in records if r.status != Status.INTERRUPTED) + n_trials
        self.study.set_user_attr(SWEEP_ATTR, self.spec.to_attr())
        return self._run(self.executor, n_trials, background)

    def refresh(self) -> None:
        """Read every trial again from the study; a trial whose process died (no heartbeat within the
        storage's grace period) is marked failed there and shows as ``interrupted``."""
        fail_stale_trials(self.study, self.storage)
        trials = self.study.trials
        records = {t.number: record_from_trial(t, self.metric) for t in trials}
        for trial in trials:
            note_rerun(records, trial)
        with self.book.lock:
            self.book.records = records

    def _run(self, executor: Executor, n_trials: int, background: bool) -> "Sweep":
        """Open the executor (here, so errors surface before any trial; in the sweep's thread when it
        starts workers in the background, with ``progress['note']`` saying so), then drive the trials."""
        note = start_note(executor) if background else None
        if note is None:
            executor.open(self.train_trial)
        heartbeat = Heartbeat(self.storage, self.name) if heartbeat_enabled(self.storage) else None
        self._driver = driver = SweepDriver(self.study, self.spec.objectives, distributions(self.space), self.book,
                                            self._job_params, heartbeat)
        self.error = None
        self.status = Status.RUNNING
        self._planned += n_trials
        self._started_at, self._ended_at = time.time(), None
        if self.quiet:
            logs.quiet_begin()
        free_idle_thread_team()  # trials train in other threads while this one waits or returns
        if background:
            self._thread = threading.Thread(target=self._drive_and_keep_error,
                                            args=(executor, driver, n_trials, note), name="tunewidgets-sweep",
                                            daemon=True)
            self._thread.start()
        else:
            self._drive(executor, driver, n_trials)
        return self

    def _drive_and_keep_error(self, executor: Executor, driver: SweepDriver, n_trials: int, note: str | None) -> None:
        try:
            self._drive(executor, driver, n_trials, note)
        except BaseException as e:  # noqa: BLE001 - kept for wait() to raise in the caller's thread
            self.error = e

    def _drive(self, executor: Executor, driver: SweepDriver, n_trials: int, note: str | None = None) -> None:
        opened = note is None
        try:
            if not opened:
                self.note = note
                try:
                    executor.open(self.train_trial)
                    opened = True
                finally:
                    self.note = None
            driver.run(executor, n_trials)
        except BaseException:
            with self._status_lock:
                self.status = Status.STOPPED if isinstance(sys.exc_info()[1], KeyboardInterrupt) else Status.FAILED
            raise
        finally:
            self._planned -= n_trials - driver.launched
            try:
                if opened:
                    executor.close()
            finally:
                with self._status_lock:
                    if self.status in (Status.RUNNING, Status.PAUSED):
                        self.status = Status.STOPPED if driver.stopping else Status.COMPLETED
                self._ended_at = time.time()
                if driver.heartbeat is not None:
                    driver.heartbeat.stop()
                if self.quiet:
                    logs.quiet_end()

    def _job_params(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.spec.job_params(params)

    def stop(self) -> None:
        """Start no more trials and stop the running ones within an epoch; finished trials stay.
        Once it returns, no trial starts training."""
        if self._driver is not None:
            self._driver.stop()

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
        return self.status in SWEEP_DONE_STATUSES

    # ---- results -----------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.study.study_name

    def records(self, numbers: Iterable[int] | None = None) -> list[TrialRecord]:
        """A snapshot of every trial's record (params, status, value, rows, error), or of trials ``numbers``."""
        return self.book.snapshot(numbers)

    def table(self) -> pd.DataFrame:
        """One row per trial, ranked best first: rank, trial, status, the metric (best over epochs),
        epochs, seconds, each hyperparameter of the space, error (failed trials last, kept)."""
        return results_table(self.records(), self.space.names, self.spec.objectives)

    def curves(self) -> pd.DataFrame:
        """Every trial's per-epoch history in one long frame (``trial``, ``status``, ``epoch``, metrics)."""
        return curves_table(self.records())

    @property
    def runs(self) -> dict[int, pd.DataFrame]:
        """Each trial's history (like ``Run.history``), by trial number."""
        return {r.number: epoch_table(r.rows) for r in self.records()}

    def importances(self) -> dict[str, float]:
        """How much each hyperparameter mattered to the (first) objective, highest first: Optuna's fANOVA
        importances over the complete trials; empty before two trials completed or when they all agree."""
        complete = [t for t in self.study.trials if t.state == TrialState.COMPLETE]
        if len(complete) < 2 or not self.space.names:
            return {}
        target = (lambda t: t.values[0]) if len(self.objectives) > 1 else None
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)  # shares of variation: any direction
        try:
            return {k: float(v) for k, v in optuna.importance.get_param_importances(
                self.study, evaluator=evaluator, target=target).items()}
        except (ValueError, RuntimeError, ZeroDivisionError):  # e.g. one distinct value per parameter
            return {}

    def pareto_front(self) -> list[HParams | dict[str, Any]]:
        """The hyperparameters of the Pareto-optimal trials (none better in every objective), in the
        table's order (best first in the first objective)."""
        if len(self.objectives) < 2:
            raise ValueError("pareto_front() needs several objectives: tw.sweep(..., objectives=['val_accuracy', "
                             "'params'])")
        table = self.table()
        params = {r.number: r.params for r in self.records()}
        return [self.spec.full_params(params[int(t)]) for t in table.loc[table["pareto"], "trial"]]

    @property
    def best_trial(self) -> TrialRecord | None:
        """The best complete trial's record (its number, params, value and rows), or None."""
        return self.book.best(lambda records: best_record(records, self.objective))

    @property
    def best_params(self) -> dict[str, Any] | None:
        """The best complete trial's values of the space's dimensions, or None."""
        best = self.best_trial
        return None if best is None else dict(best.params)

    @property
    def best(self) -> HParams | dict[str, Any] | None:
        """The best complete trial's ``HParams`` (estimator sweeps: its parameters), or None."""
        params = self.best_params
        return None if params is None else self.spec.full_params(params)

    @property
    def best_schedule(self) -> list[dict[str, Any]] | None:
        """A population-based sweep's best member's values epoch by epoch, through the members whose
        weights it took: ``tw.train(data, sweep.best, schedule=sweep.best_schedule)`` trains one model
        along it from scratch. None for other strategies, or before a member completed."""
        best = self.best_trial
        if best is None or "lineage" not in best.extra:
            return None
        return schedule_of(best.number, {r.number: r for r in self.records()}, self.space.names)

    @property
    def best_value(self) -> float | None:
        best = self.best_trial
        return None if best is None else best.value

    @property
    def progress(self) -> dict[str, Any]:
        """Counts for a progress bar: planned, done, complete, pruned, stopped, failed, interrupted (their
        process died), running; a note such as "starting 2 workers" before the first trial; elapsed
        (seconds since the last start or resume, frozen when the sweep ends)."""
        statuses = self.book.statuses()
        counts = {s: statuses.count(s) for s in (Status.COMPLETE, Status.PRUNED, Status.STOPPED, Status.FAILED, Status.INTERRUPTED, Status.RUNNING)}
        planned = self._planned + (self._plan or 0)
        elapsed = (self._ended_at or time.time()) - self._started_at if self._started_at else 0.0
        return {"n_trials": max(planned, len(statuses)), "done": len(statuses) - counts[Status.RUNNING],
                **counts, "elapsed": elapsed, "note": self.note}

    def __repr__(self) -> str:
        p = self.progress
        best = self.best_value
        text = f", best {self.metric}={best:.4g}" if best is not None else ""
        return (f"<Sweep {self.name!r} {self.status}: {p['done']}/{p['n_trials']} trials done, "
                f"{p['pruned']} pruned, {p['failed']} failed{text}>")
