"""Batched executor: trials whose network structure agrees train together, in one vectorized pass.

On small models a step's overhead, not its arithmetic, dominates; training a group of trials as one
stacked computation (``engine.batched.GroupLoop``) multiplies sweep throughput.

- What is batched: trials that agree on model kind, layers, units, activation, batch size, epochs
  and device (``engine.batched.STRUCTURE``), up to ``group_size`` at a time. The default, "auto",
  asks up to 16 trials at once on a CPU machine (64 with a GPU) and cuts each group to what fits
  its device's memory budget (``engine.batched.sizing``: the CPU's cache, half the free GPU memory),
  so a big network trains in small groups instead of slowing every member. Learning rate,
  momentum, weight decay, L1, dropout rate, optimizer, schedule and seed stay per member. Groups
  train one after another in a kernel thread, on the kernel's device, as the thread executor does.
- Each member has its own shuffling order (its own generator, seeded with its seed) and its own
  dropout masks, drawn for the whole group from one generator (members with one seed share each
  step's draw, as sequential runs with one seed share their stream). So with dropout a member's
  curve is statistically, not bitwise, the one the thread executor gives; without dropout they agree
  to float rounding.
- Each member is an ordinary trial: it reports every epoch to its handle, so the table, live
  curves, pruning and storage behave as with the thread executor. A pruned or stopped member ends
  at the next epoch boundary (``sweep.stop()`` stopping every member ends the epoch at once); a
  diverging member ends diverged (failed in the table) and the rest go on. A member's ``seconds``
  is its group's wall time until it ended (members train at the same time).
- Pausing is not per member: members share every step, so pausing one would pause its group.
- Groups that cannot be batched (a factory building different layers, batch norm, data read
  through a DataLoader, an estimator sweep, ...) run one after another exactly as
  ``executor="thread"`` runs them; a warning names the reason and ``fallbacks`` keeps it.
- Bayesian strategies: the sweep asks a group's worth of trials before telling any; TPE's constant
  liar (and the GP sampler's handling of running trials) keeps one group's suggestions apart.
"""

from __future__ import annotations

import threading
import time
import warnings
from concurrent.futures import Future
from typing import Any

from ...engine.control.callbacks import Callback
from ...engine.control.threads import train_in_background
from ...guards import count_problem
from ..protocol import Trial, TrialJob, TrialResult
from ..trials import ReportEpochs, run_trial
from .base import LocalChannel

LINGER_SECONDS = 0.2  # wait this long for a group to fill after the last trial arrived


AUTO_LIMIT_CPU, AUTO_LIMIT_GPU = 16, 64  # trials asked at once with group_size="auto"


def check_group_size(group_size: Any) -> int | str:
    if group_size == "auto":
        return group_size
    problem = count_problem("group_size", group_size, hint="how many trials train together, e.g. 16")
    if problem:
        raise ValueError(problem.replace("must be", 'must be "auto" or'))
    return group_size


def auto_limit() -> int:
    import torch

    return AUTO_LIMIT_GPU if torch.cuda.is_available() else AUTO_LIMIT_CPU


class ResolveOnEnd(Callback):
    """Sets a member's future the moment it ends, so the sweep records it while the group goes on."""

    def __init__(self, future: Future, trial: Trial, started: float) -> None:
        self.future, self.trial, self.started = future, trial, started

    def on_train_end(self, run) -> None:
        if not self.future.done():
            self.future.set_result(self.trial.result_of(run, self.started))


class BatchedExecutor:
    """Trains up to ``group_size`` structurally equal trials at once, in the kernel. See the module docstring.

    Example::

        sw = tw.sweep(data, tw.Space(lr=tw.LogUniform(1e-4, 1e-1), dropout=[0.0, 0.2]), n_trials=32,
                      executor="batched", group_size=16)
    """

    def __init__(self, group_size: int | str = "auto") -> None:
        self.group_size = check_group_size(group_size)
        self.limit = self.slots = auto_limit() if group_size == "auto" else group_size
        self.groups: list[list[int]] = []  # trial numbers trained together, group by group
        self.fallbacks: list[dict[str, Any]] = []  # {"trials": [...], "reason": "..."} run one after another

    # ---- protocol ------------------------------------------------------------------------------
    def open(self, train_trial: Any) -> None:
        self.train_trial = train_trial
        self.channel = LocalChannel()
        self._queue: list[tuple[TrialJob, Future]] = []
        self._cond = threading.Condition()
        self._closed = False
        self._last_arrival = 0.0
        self._warned: set[str] = set()
        self._loop_job = train_in_background(self._loop)

    def submit(self, jobs: list[TrialJob]) -> list[Future]:
        futures = [Future() for _ in jobs]
        with self._cond:
            for job in jobs:
                self.channel.handles[job.number] = job.handle
            self._queue.extend(zip(jobs, futures))
            self._last_arrival = time.monotonic()
            self._cond.notify_all()
        return futures

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._loop_job.result()

    # ---- the worker thread -----------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return
                while len(self._queue) < self.slots and not self._closed:  # let a group fill up
                    left = self._last_arrival + LINGER_SECONDS - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                batch = self._take()
            try:
                self._run(batch)
            except BaseException as e:  # noqa: BLE001 - never leave a trial without a result
                for _, future in batch:
                    if not future.done():
                        future.set_result(TrialResult.failed(e))

    def _take(self) -> list[tuple[TrialJob, Future]]:
        """The oldest trial and those queued after it with the same structure, up to the group size."""
        first = self._queue[0][0].params
        key, size = self.train_trial.group_key(first), self._size_for(first)
        self.slots = size  # the sweep asks no more trials than such a group holds (with "auto")
        batch, rest = [], []
        for item in self._queue:
            same = len(batch) < size and self.train_trial.group_key(item[0].params) == key
            (batch if same else rest).append(item)
        self._queue = rest
        return batch

    def _size_for(self, params: dict[str, Any]) -> int:
        """``group_size``, or with "auto" the most members of this structure that fit the memory budget."""
        if self.group_size != "auto":
            return self.group_size
        return self.train_trial.group_size_for(params, self.limit)

    def _run(self, batch: list[tuple[TrialJob, Future]]) -> None:
        live = []
        for job, future in batch:
            if job.handle.stop_status:  # stopped while it waited: no epoch, as a queued thread trial
                future.set_result(TrialResult(job.handle.stop_status))
            else:
                live.append((job, future))
        if len(live) < 2:
            return self._one_by_one(live)
        group, why = self.train_trial.plan_group([job.params for job, _ in live])
        if len(group) < 2:
            return self._fall_back(live, why) if why else self._one_by_one(live)
        chosen = set(group)
        self._train_group([live[i] for i in group])
        self._one_by_one([item for i, item in enumerate(live) if i not in chosen])

    def _train_group(self, members: list[tuple[TrialJob, Future]]) -> None:
        trial: Trial = self.train_trial
        started = time.perf_counter()
        runs, trained = [], []
        for job, future in members:
            try:
                runs.append(trial.new_run(job.number, job.params, [ReportEpochs(job.number, self.channel),
                                                                   ResolveOnEnd(future, trial, started)]))
                trained.append((job, future))
            except Exception as e:  # noqa: BLE001 - as the thread path reports it
                future.set_result(TrialResult.failed(e, started))
        self.groups.append([job.number for job, _ in trained])
        try:
            trial.train_group(runs)
        except Exception as e:  # noqa: BLE001 - the group could not run: its members fail with the reason
            for _, future in trained:
                if not future.done():
                    future.set_result(TrialResult.failed(e, started))
        for run, (_, future) in zip(runs, trained):  # a member whose end callback did not run
            if not future.done():
                future.set_result(trial.result_of(run, started))

    def _fall_back(self, items: list[tuple[TrialJob, Future]], reason: str) -> None:
        numbers = [job.number for job, _ in items]
        self.fallbacks.append({"trials": numbers, "reason": reason})
        if reason not in self._warned:
            self._warned.add(reason)
            warnings.warn(f"executor='batched': trials {numbers} run one after another as with "
                          f"executor='thread', because {reason}", stacklevel=1)
        self._one_by_one(items)

    def _one_by_one(self, items: list[tuple[TrialJob, Future]]) -> None:
        """The thread executor's path: each trial trained on its own, in this thread."""
        for job, future in items:
            future.set_result(run_trial(self.train_trial, job.number, job.params, self.channel))
