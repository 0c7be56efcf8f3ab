"""Every executor on one grid, side by side in one process, against a plain Optuna loop.

The grid: 16 configurations (4 learning rates x 4 dropout rates), the default MLP 64-128-128-10 on
digits, Adam, batch 64, 20 epochs. Timed in this order, each repeat interleaved, medians compared:

- a plain ``study.optimize`` loop calling ``tw.train`` (what one writes by hand; the reference);
- ``executor="thread"`` (trials one after another in a kernel training thread);
- ``executor="batched"`` (the 16 configurations trained as one group); target <= 0.30x the plain loop;
- ``executor="dask"`` and ``executor="process"`` with 2 single-thread workers: the first sweep starts
  the workers (reported once, cold), later sweeps find them warm; target for warm Dask: >= 1.6x
  faster than the thread executor on 2 cores.

    python benchmarks/bench_executors.py [--repeats 3] [--epochs 20]
"""

from __future__ import annotations

import argparse
import os
import statistics

import optuna
import torch

import tunewidgets as tw
from common import plain_optuna, timed

optuna.logging.set_verbosity(optuna.logging.WARNING)


def suggest(trial):
    """The grid's values, asked as a hand-written Optuna objective asks them (``plain_optuna``)."""
    return {"lr": trial.suggest_float("lr", 1e-4, 1e-1, log=True), "dropout": trial.suggest_float("dropout", 0.0, 0.3)}


def seconds(fn) -> float:
    return timed(fn)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    data = tw.load_dataset("digits")
    base = tw.HParams(epochs=args.epochs, batch_size=64, optimizer="adam", device="cpu", seed=0)
    space = tw.Space(lr=tw.LogUniform(1e-4, 1e-1, n=4), dropout=tw.Uniform(0.0, 0.3, n=4))
    workers = {"dask": tw.sweeps.DaskExecutor(n_workers=2), "process": tw.sweeps.ProcessExecutor(n_workers=2)}
    print(f"16-config grid, {args.epochs} epochs, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads "
          f"in the kernel, load {os.getloadavg()[0]:.1f}, {args.repeats} interleaved repeats")
    tw.train(data, base.replace(epochs=1))  # warm-up
    cold = {name: seconds(lambda e=e: tw.sweep(data, space, strategy="grid", base=base, executor=e))
            for name, e in workers.items()}
    runs: dict[str, list[float]] = {k: [] for k in ("plain Optuna loop", "thread", "batched", "dask", "process")}
    for _ in range(args.repeats):
        runs["plain Optuna loop"].append(seconds(lambda: plain_optuna(data, space, base, suggest)))
        for name, executor in (("thread", "thread"), ("batched", "batched"), *workers.items()):
            runs[name].append(seconds(lambda e=executor: tw.sweep(data, space, strategy="grid", base=base,
                                                                  executor=e)))
    median = {k: statistics.median(v) for k, v in runs.items()}
    plain, thread = median["plain Optuna loop"], median["thread"]
    for name, value in median.items():
        print(f"  {name:<18} {value:6.2f} s   {value / plain:.2f}x the plain loop   "
              f"{thread / value:.2f}x as fast as the thread executor   runs {[round(x, 2) for x in runs[name]]}")
    for name, value in cold.items():
        print(f"  {name + ' (cold)':<18} {value:6.2f} s   first sweep: starts the workers, torch imported in each")
    print(f"batched / plain = {median['batched'] / plain:.2f} (target <= 0.30); "
          f"thread / dask (warm) = {thread / median['dask']:.2f} (target >= 1.6); "
          f"thread / process (warm) = {thread / median['process']:.2f}")
    tw.sweeps.close_workers()


if __name__ == "__main__":
    main()
