"""Choosing the device a run trains on, and naming it for people."""

from __future__ import annotations

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
