"""Choosing the device a run trains on, and naming it for people."""

from __future__ import annotations

import threading

import torch

# Torch threads a CPU run uses when it trains off the main thread (None: leave torch's setting).
# Why: the kernel's own OpenMP team plus a second team in a training thread exceed the cores, and
# libgomp then sleeps between parallel regions: training measured 3-4x slower on 2 cores. One
# thread costs nothing on small MLPs and at most 1.4x on the built-in CNN/ResNet.
BACKGROUND_CPU_THREADS: int | None = 1


def resolve_device(spec: str = "auto") -> torch.device:
    """'auto' picks CUDA, then Apple MPS, then the CPU; an explicit device must be available."""
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(spec)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={spec!r} is not available: this torch sees no CUDA GPU; use 'auto' or 'cpu'")
        index = device.index if device.index is not None else torch.cuda.current_device()
        if index >= torch.cuda.device_count():
            raise ValueError(f"device={spec!r} is not available: only {torch.cuda.device_count()} CUDA device(s)")
        return torch.device("cuda", index)
    if device.type == "mps" and not _mps_available():
        raise ValueError(f"device={spec!r} is not available: MPS needs an Apple-silicon Mac; use 'auto' or 'cpu'")
    return device


def background_cpu_threads(device: torch.device) -> int | None:
    """The torch threads a run on ``device`` trains with off the main thread, or None to keep them."""
    if device.type != "cpu" or not BACKGROUND_CPU_THREADS:
        return None
    return min(BACKGROUND_CPU_THREADS, torch.get_num_threads())


def pin_training_thread(device: torch.device) -> None:
    """Call from the thread that trains: off the main thread, apply ``BACKGROUND_CPU_THREADS``."""
    threads = background_cpu_threads(device)
    if threads and threading.current_thread() is not threading.main_thread() and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def describe_device(device: torch.device, threads: int | None = None) -> str:
    """A short label such as ``cuda:0 (NVIDIA H100)`` or ``cpu (2 threads)``."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    if device.type == "mps":
        return "mps (Apple GPU)"
    threads = threads or torch.get_num_threads()
    return f"cpu ({threads} thread{'s' if threads != 1 else ''})"


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())
