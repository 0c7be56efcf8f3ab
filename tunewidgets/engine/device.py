"""Choosing the device a run trains on, naming it for people, and keeping a CPU run that trains
off the kernel's main thread as fast as one on it."""

from __future__ import annotations

import ctypes
import functools

import torch


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


def free_idle_thread_team() -> None:
    """Let the calling thread's OpenMP worker threads go before another thread trains.

    Why: libgomp counts the OpenMP threads of every team in the process, and once there are more
    than CPUs (the kernel's own team, left from earlier torch work on the main thread, plus the
    training thread's team) it stops spin-waiting between parallel regions, so each of the many
    small regions of a training step pays a sleep and a wake-up. Measured on 2 cores: a small CNN
    2.6x and the default MLP 4x slower than on the main thread. With the idle team freed (OpenMP
    5.0's ``omp_pause_resource_all``), a background run is as fast as the main thread; the caller's
    team comes back on its next parallel region. A no-op where the runtime lacks the call.
    """
    pause = _omp_pause_resource_all()
    if pause is not None:
        pause(2)  # omp_pause_hard: the thread pool itself is released


@functools.lru_cache(maxsize=1)
def _omp_pause_resource_all():
    """The OpenMP runtime torch loaded (libgomp, or LLVM's libomp) exports it; None elsewhere."""
    try:
        return ctypes.CDLL(None).omp_pause_resource_all
    except (AttributeError, OSError):
        return None


def describe_device(device: torch.device, threads: int | None = None) -> str:
    """A short label such as ``cuda:0 (NVIDIA H100)`` or ``cpu (2 threads)`` (torch's thread count,
    which a training thread takes over from the kernel)."""
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
