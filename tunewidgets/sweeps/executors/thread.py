"""The default executor: trials one after another in a kernel training thread, on the kernel's device."""

from __future__ import annotations

from concurrent.futures import Future, wait
from typing import Any

from ...engine.control.threads import train_in_background
from ..protocol import TrialJob
from ..trials import run_trial
from .base import LocalChannel


class ThreadExecutor:
    """Trials one after another in a kernel thread (the right choice for one GPU, and small sweeps)."""

    slots = 1

    def open(self, train_trial: Any) -> None:
        self.train_trial = train_trial
        self.channel = LocalChannel()
        self.futures: list[Future] = []

    def submit(self, jobs: list[TrialJob]) -> list[Future]:
        futures = []
        for job in jobs:
            self.channel.handles[job.number] = job.handle
            futures.append(train_in_background(run_trial, self.train_trial, job.number, job.params, self.channel))
        self.futures += futures
        return futures

    def close(self) -> None:
        wait(self.futures)  # the training threads are shared and stay; this sweep's trials have ended
