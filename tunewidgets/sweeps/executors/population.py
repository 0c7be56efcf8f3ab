"""Population executor: population-based training's members as runs of their own, in the kernel.

Each member trains in a thread of its own, and the members take turns (``engine.pbt_members``): one
trains at a time up to the next judged epoch, as ``executor="thread"`` trains one trial at a time,
and at each judgement the worst take the best ones' weights and optimizer state in memory. This is
how a training function of yours (which watches its model and optimizer) is a population, and how
the built-in models train as one when ``executor="thread"`` is asked for instead of one batched group.
"""

from __future__ import annotations

from concurrent.futures import Future, wait
from typing import Any

from ...engine.pbt import PBT
from ...engine.pbt_members import Population, PopulationMember
from ...engine.threads import train_in_own_thread
from ..protocol import TrialJob, TrialResult
from ..trials import run_trial
from .base import LocalChannel


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
            self.channel.reporters[job.number] = job.reporter
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
