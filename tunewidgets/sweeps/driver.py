"""The loop behind a sweep: ask Optuna for trials, hand them to an executor, feed the pruner, tell
Optuna the outcomes, and keep the live record a table, a plot or a widget reads.

``Sweep`` (``study.py``) is what a user holds; this module is what it drives, as Optuna's
``study.py`` sits over ``_optimize.py``.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any, Callable, Iterable

import optuna
from optuna.trial import TrialState

from ..engine.control.events import EventChannel, MetricEvent
from ..objective import Objectives, is_finite_number
from .protocol import Executor, TrialHandle, TrialJob, TrialResult
from .results import RESULT_ATTR, TrialRecord, note_rerun
from .storage import Heartbeat
from ..statuses import Status

STOP_GRACE_SECONDS = 60  # how long a failing sweep waits for its running trials to stop


class TrialBook:
    """The live record of a sweep's trials: written by the driver, read by the ``Sweep`` (any thread)."""

    def __init__(self, records: dict[int, TrialRecord] | None = None) -> None:
        self.lock = threading.RLock()
        self.records: dict[int, TrialRecord] = dict(records or {})
        self.events = EventChannel()

    def snapshot(self, numbers: Iterable[int] | None = None) -> list[TrialRecord]:
        """Copies of the records (of trials ``numbers`` only, when given)."""
        with self.lock:
            if numbers is None:
                return [r.copy() for r in self.records.values()]
            return [self.records[n].copy() for n in numbers if n in self.records]

    def statuses(self) -> list[str]:
        """Each trial's status, without copying the records (a progress line asks often)."""
        with self.lock:
            return [r.status for r in self.records.values()]

    def best(self, choose: Callable[[Iterable[TrialRecord]], TrialRecord | None]) -> TrialRecord | None:
        """A copy of the record ``choose`` picks, chosen under the lock without copying the others."""
        with self.lock:
            best = choose(self.records.values())
            return best.copy() if best is not None else None

    def publish(self, number: int, kind: str, epoch: int, values: dict[str, Any]) -> None:
        self.events.publish(MetricEvent(f"trial-{number}", kind, epoch, 0, {**values, "trial": number}, time.time()))


class SweepDriver:
    """Runs the trials of one start (or resume) of a sweep; ``stop()`` from any thread is final:
    no trial is registered, and so none trains, once it has returned."""

    def __init__(self, study: optuna.Study, objectives: Objectives, distributions: dict[str, Any],
                 book: TrialBook, job_params: Callable[[dict[str, Any]], dict[str, Any]],
                 heartbeat: Heartbeat | None = None) -> None:
        self.study, self.objectives, self.objective, self.book = study, objectives, objectives.primary, book
        self.heartbeat = heartbeat
        self.distributions = distributions
        self.job_params = job_params
        self.pruning = not isinstance(study.pruner, optuna.pruners.NopPruner)
        self.stopping = False
        self.paused = False
        self._wake = threading.Event()
        self.launched = 0
        self._trials: dict[int, optuna.Trial] = {}
        self._handles: dict[int, TrialHandle] = {}

    def run(self, executor: Executor, n_trials: int) -> None:
        """Keep ``executor``'s slots full until ``n_trials`` were launched and all ended, or a stop."""
        pending: dict[Future, TrialJob] = {}
        try:
            while True:
                want = min(executor.slots - len(pending), n_trials - self.launched)
                jobs = [job for job in (self.ask() for _ in range(max(want, 0))) if job is not None]
                if jobs:
                    pending.update(zip(executor.submit(jobs), jobs))
                    self.launched += len(jobs)
                if not pending:
                    if self.paused and not self.stopping and self.launched < n_trials:
                        self._wake.wait(0.25)  # paused between trials: wait for resume() or stop()
                        self._wake.clear()
                        continue
                    return
                finished, _ = wait(list(pending), timeout=0.25, return_when=FIRST_COMPLETED)
                for future in finished:
                    self.finish(pending.pop(future), future)
        except BaseException:
            self.stop()
            finished, _ = wait(list(pending), timeout=STOP_GRACE_SECONDS)
            for future, job in pending.items():
                self.finish(job, future if future in finished else None)
            raise

    def stop(self) -> None:
        """Ask no more trials; stop the running ones (each within an epoch, or at once in the kernel)."""
        with self.book.lock:
            self.stopping = True
            handles = list(self._handles.values())
        for handle in handles:
            handle.request_stop(Status.STOPPED)
        self._wake.set()

    def pause(self, paused: bool = True) -> None:
        """Ask no new trial and hold the running ones where they are (False: carry on)."""
        with self.book.lock:
            self.paused = paused
            handles = list(self._handles.values())
        for handle in handles:
            handle.request_pause(paused)
        self._wake.set()

    # ---- one trial's life ----------------------------------------------------------------------
    def ask(self) -> TrialJob | None:
        """A new trial from Optuna, registered; None while the sweep is paused or once it is stopping
        (checked under the lock ``stop()`` and ``pause()`` take, so a trial is either registered before,
        and stopped or paused with the others, or not at all)."""
        with self.book.lock:
            if self.stopping or self.paused:
                return None
            trial = self.study.ask(self.distributions)
            params, number = dict(trial.params), trial.number
            self._trials[number] = trial
            self.book.records[number] = TrialRecord(number, params)
            handle = self._handles[number] = TrialHandle(number, self.on_epoch)
            note_rerun(self.book.records, trial)
        if self.heartbeat is not None:
            self.heartbeat.add(number)
        self.book.publish(number, "status", 0, {"status": Status.RUNNING, "params": params})
        return TrialJob(number, self.job_params(params), handle, judged_each_epoch=self.pruning)

    def on_epoch(self, number: int, row: dict[str, Any]) -> str | None:
        """A trial's epoch arrived (any thread): record it, feed the pruner; ``"pruned"`` stops the trial."""
        epoch = int(row["epoch"])
        with self.book.lock:
            record = self.book.records[number]
            if record.status != Status.RUNNING:
                return None
            if epoch <= len(record.rows):  # a trial retried after a worker died starts over
                del record.rows[epoch - 1:]
            record.rows.append(dict(row))
            prune = self._report(number, record, row) and self.pruning and self._trials[number].should_prune()
        self.book.publish(number, "epoch", epoch, dict(row))
        return Status.PRUNED if prune else None

    def _report(self, number: int, record: TrialRecord, row: dict[str, Any]) -> bool:
        """Give Optuna the objective's value of an epoch once (its intermediate value, for the pruner);
        True when it was given now."""
        value, epoch = row.get(self.objective.metric), int(row["epoch"])
        if not self.objectives.reported_each_epoch:
            return False
        if not is_finite_number(value) or epoch in record.reported:
            return False
        self._trials[number].report(float(value), epoch)
        record.reported.add(epoch)
        return True

    def finish(self, job: TrialJob, future: Future | None) -> None:
        """Record a trial's outcome and tell Optuna (complete, pruned or failed)."""
        if future is None:
            result = TrialResult.failed("interrupted: the sweep ended before this trial finished")
        else:
            try:
                result = future.result()
            except BaseException as e:  # noqa: BLE001 - a dead worker, a broken pool, a cancelled task
                result = TrialResult.failed(e)
        with self.book.lock:
            record = self.book.records[job.number]
            rows = result.rows or record.rows
            # A worker's last epochs can reach the kernel after its result (two channels race): give the
            # live feed those rows now, before the status, since a late one is dropped once the trial ends.
            late = [dict(row) for row in rows[len(record.rows):]]
            for row in rows:  # steps the live feed did not deliver (or delivered after a retry)
                self._report(job.number, record, row)
            trial = self._trials.pop(job.number)
            # The one place a trial is valued: each objective from its rows and costs, unless the trial
            # valued itself (a cross-validated mean has no epoch rows to take it from).
            values = self.objectives.values(rows, result.seconds, result.extra)
            if is_finite_number(result.value):
                values[0] = result.value
            value = values[0]
            status, error = table_status(result.status, values, result.error, job.handle.stop_status,
                                         self.objectives)
            record.rows, record.status, record.error = list(rows), status, error
            record.value, record.seconds, record.extra = value, result.seconds, dict(result.extra)
            if self.objectives.several:
                record.values = values
            trial.set_user_attr(RESULT_ATTR, record.to_attr())
            if status == Status.COMPLETE:
                self.study.tell(trial, record.values or value)
            else:
                self.study.tell(trial, state=TrialState.FAIL if status == Status.FAILED else TrialState.PRUNED)
            self._handles.pop(job.number, None)
        if self.heartbeat is not None:
            self.heartbeat.remove(job.number)
        for row in late:
            self.book.publish(job.number, "epoch", int(row["epoch"]), row)
        self.book.publish(job.number, "status", len(rows), {"status": status, "value": value, "error": error})


def table_status(s: str, values: list[float], error: str | None, stop_status: str | None,
                 objectives: Objectives) -> tuple[str, str | None]:
    """Map a run's status ``s`` to the table's: complete, pruned, stopped or failed (with a reason).
    A finished trial without a finite value for every objective failed, as Optuna records it."""
    if s in (Status.COMPLETED, Status.EARLY_STOPPED):
        missing = [o.metric for o, v in zip(objectives, values) if not is_finite_number(v)]
        if missing:
            return Status.FAILED, error or f"no finite {' or '.join(missing)} was measured"
        return Status.COMPLETE, None
    if s == Status.PRUNED or (s == Status.STOPPED and stop_status == Status.PRUNED):
        return Status.PRUNED, None
    if s == Status.STOPPED:
        return Status.STOPPED, "stopped by sweep.stop()"
    return Status.FAILED, error or s
