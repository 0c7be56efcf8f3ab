"""How much memory a run takes: what a sweep's table shows next to each trial's score.

On a GPU, CUDA's allocator peak over the run (``max_memory_allocated``, reset when the run begins);
on the CPU, the growth of the process's resident memory, sampled at each epoch's end (a cheap read;
memory freed and taken again within an epoch does not show). Both are the process's figures: runs
that train at the same time in one process see each other's memory, and the members of a batched
group, which share one peak, each report an equal share of it (``Run.memory_shared_by``).
"""

from __future__ import annotations

import psutil
import torch


class MemoryMeter:
    """Peak bytes a run adds above what the process (or the GPU) held when it began."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.cuda = device.type == "cuda"
        if self.cuda:
            torch.cuda.reset_peak_memory_stats(device)
            self.base = torch.cuda.memory_allocated(device)
        else:
            self.process = psutil.Process()
            self.base = self.peak = self.process.memory_info().rss

    def sample(self) -> None:
        if not self.cuda:
            self.peak = max(self.peak, self.process.memory_info().rss)

    def peak_bytes(self) -> int:
        if self.cuda:
            return max(0, torch.cuda.max_memory_allocated(self.device) - self.base)
        self.sample()
        return max(0, self.peak - self.base)
