"""What a sweep costs per trial over the bare work, with each executor, in one run.

In the spirit of Ray Tune's scalability figures (the time to run many trials against the time the
trials themselves take): the same random search is run as a plain loop of ``tw.train`` calls (the
bare work) and as ``tw.sweep`` with each executor, and the cost per trial is

    (sweep time - bare time / parallel workers) / trials

where the bare time is the loop on the kernel's torch threads for the in-kernel executors, and on
one thread (what each worker has) for the Dask and process workers, timed right before and after
those executors (the mean of the two). A negative figure means the executor did the work faster
than the bare loop could (the batched executor trains many trials in one pass). Two sizes: many ~10 ms trials (iris, a tiny MLP) and fewer
~0.5 s trials (digits, the default MLP). Dask and the process pool run warm (their workers started
by an earlier sweep, as in a kernel that has swept before). Targets on 2 cores: thread <= 2 ms,
batched <= 1 ms amortized, Dask (warm) <= 20 ms.

    python benchmarks/bench_overhead.py [--tiny 1000] [--medium 50]
"""

from __future__ import annotations

import argparse
import os

import optuna
import torch

import tunewidgets as tw
from common import timed

optuna.logging.set_verbosity(optuna.logging.WARNING)
WORKERS = 2


def bare_loop(data, base, params, threads: int) -> float:
    kernel_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        def train_each():
            for p in params:
                tw.train(data, base.replace(**p))

        return timed(train_each)[0]
    finally:
        torch.set_num_threads(kernel_threads)


def sweep_seconds(data, base, space, n, executor) -> float:
    elapsed, sw = timed(lambda: tw.sweep(data, space, strategy="random", n_trials=n, base=base, executor=executor,
                                         seed=0))
    assert set(sw.table()["status"]) == {"complete"}, sw.table()["status"].value_counts()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", type=int, default=1000, help="trials of ~10 ms")
    parser.add_argument("--medium", type=int, default=50, help="trials of ~0.5 s")
    args = parser.parse_args()
    space = tw.Space(lr=tw.LogUniform(1e-4, 1e-1))
    cases = [("~10 ms", tw.load_dataset("iris"), tw.HParams(units=8, layers=1, epochs=8, batch_size=40, device="cpu"),
              args.tiny),
             ("~0.5 s", tw.load_dataset("digits"), tw.HParams(epochs=55, device="cpu"), args.medium)]
    executors = {"thread": ("thread", 1), "batched": ("batched", 1),
                 "dask (warm)": (tw.sweeps.DaskExecutor(n_workers=WORKERS), WORKERS),
                 "process (warm)": (tw.sweeps.ProcessExecutor(n_workers=WORKERS), WORKERS)}
    print(f"{os.cpu_count()} cores, {torch.get_num_threads()} torch threads in the kernel, load "
          f"{os.getloadavg()[0]:.1f}; cost per trial = (sweep - bare / workers) / trials")
    for name, (executor, _) in executors.items():  # start the workers (and torch in them) once
        if name.endswith("(warm)"):
            sweep_seconds(cases[0][1], cases[0][2], space, 2 * WORKERS, executor)
    print(f"| executor | {' | '.join(f'{n} trials of {size}' for size, _, _, n in cases)} |")
    print("| --- | " + " | ".join("---" for _ in cases) + " |")
    kernel = torch.get_num_threads()
    # Each executor is compared with the bare loop timed around it (before and after its group, the
    # mean): the machine's speed drifts by 10-30% over minutes, more than the costs measured here.
    groups = [(kernel, ["thread", "batched"]), (1, ["dask (warm)", "process (warm)"])]
    bare: dict[tuple[str, int], float] = {}
    elapsed: dict[tuple[str, str], float] = {}
    for size, data, base, n in cases:
        params = list(_random_params(space, n))
        for threads, names in groups:
            before = bare_loop(data, base, params, threads)
            for name in names:
                elapsed[name, size] = sweep_seconds(data, base, space, n, executors[name][0])
            bare[size, threads] = (before + bare_loop(data, base, params, threads)) / 2
    for t in sorted({kernel, 1}, reverse=True):
        print(f"| bare loop of tw.train, {t} torch thread(s) | {' | '.join(f'{bare[s, t]:.1f} s' for s, *_ in cases)} |")
    for name, (_, workers) in executors.items():
        cells = []
        for size, _, _, n in cases:
            cost = (elapsed[name, size] - bare[size, 1 if workers > 1 else kernel] / workers) / n
            cells.append(f"{elapsed[name, size]:.1f} s, {1000 * cost:+.1f} ms/trial")
        print(f"| {name} | {' | '.join(cells)} |")
    tw.sweeps.close_workers()


def _random_params(space, n):
    """The learning rates the seeded random search will try, so the bare loop does the same work."""
    sampler = optuna.samplers.RandomSampler(seed=0)
    study = optuna.create_study(sampler=sampler)
    dist = {"lr": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)}
    for _ in range(n):
        yield dict(study.ask(dist).params)


if __name__ == "__main__":
    main()
