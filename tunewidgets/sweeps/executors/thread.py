"""The default executor: trials one after another in a kernel thread, on the kernel's device."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..protocol import TrialJob
from ..trials import run_trial
from .base import LocalChannel


class ThreadExecutor:
    """Trials one after another in a kernel thread (the right choice for one GPU, and small sweeps)."""

    slots = 1

    def open(self, train_trial: Any) -> None:
        self.train_trial = train_trial
        self.channel = LocalChannel()
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tunewidgets-trial")

    def submit(self, jobs: list[TrialJob]) -> list[Future]:
        futures = []
        for job in jobs:
            self.channel.reporters[job.number] = job.reporter
            futures.append(self.pool.submit(run_trial, self.train_trial, job.number, job.params, self.channel))
        return futures

    def close(self) -> None:
        self.pool.shutdown(wait=True)
