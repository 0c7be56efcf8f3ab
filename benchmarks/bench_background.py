"""Training off the kernel's main thread, as the TrainPanel and in-kernel sweeps do, against the
same training on the main thread, side by side in one process.

The main thread uses torch first, as a notebook kernel has by the time a panel trains. Each model is
timed three ways, interleaved, medians compared: on the main thread; in a background thread (what
``tw.train(..., background=True)`` does); and in a background thread without freeing the main
thread's idle OpenMP team first (``engine/builtin/device.py``), which shows the slowdown that fix removes.
Target: background / main <= 1.05 for the default MLP and the built-in CNN on digits.

    python benchmarks/bench_background.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
from unittest import mock

import torch

import tunewidgets as tw
from common import timed


def train_seconds(data, hp, background: bool) -> float:
    """Seconds from the call to the run's end, on the main thread or in a background one."""
    def train():
        run = tw.train(data, hp, background=background)
        run.wait()
        return run

    seconds, run = timed(train)
    assert run.status == "completed", run.status
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    cases = {
        "MLP 64-128-128-10, 10 epochs": (tw.load_dataset("digits"), tw.HParams(epochs=10, seed=0, device="cpu")),
        "CNN 2x32 on 8x8 images, 4 epochs": (tw.load_dataset("digits", images=True),
                                             tw.HParams(model="cnn", layers=2, units=32, epochs=4, seed=0,
                                                        device="cpu")),
    }
    print(f"torch {torch.__version__}, {torch.get_num_threads()} torch threads, {args.repeats} interleaved repeats")
    for name, (data, hp) in cases.items():
        train_seconds(data, hp, background=False)  # warm-up: the main thread's OpenMP team now exists
        times = {"main": [], "background": [], "background, team not freed": []}
        for _ in range(args.repeats):
            times["main"].append(train_seconds(data, hp, background=False))
            times["background"].append(train_seconds(data, hp, background=True))
            train_seconds(data, hp, background=False)
            with mock.patch("tunewidgets.engine.control.threads.free_idle_thread_team", lambda: None):
                times["background, team not freed"].append(train_seconds(data, hp, background=True))
            train_seconds(data, hp, background=True)  # frees the teams the unpatched run left
        medians = {k: statistics.median(v) for k, v in times.items()}
        base = medians["main"]
        print(f"{name}: main {base:.3f} s; " + "; ".join(
            f"{k} {v:.3f} s ({v / base:.2f}x)" for k, v in medians.items() if k != "main"))
        print(f"  background / main = {medians['background'] / base:.3f} (target <= 1.05)")


if __name__ == "__main__":
    main()
