"""Sweeps on digits, side by side in one run.

1. A 16-trial grid with the thread executor against a plain Optuna ``study.optimize`` loop calling
   the same training function (target: overhead ratio <= 1.05). Repeats interleaved, medians.
2. The same sweep on Dask with 2 single-thread workers against the thread executor (>= 1.3x
   expected on 2 cores); warm (workers have imported torch) and cold (a cluster started by the sweep).
3. 16 random trials with the successive-halving pruner against none: epochs saved (>= 50% expected)
   and the best accuracy of each (within 0.5 points), over a few seeds.
4. scikit-learn's GridSearchCV against ``tw.sweep_estimator`` on the same grid: same best
   parameters, time ratio.

    python benchmarks/bench_sweep.py [--repeats 5] [--epochs 10] [--threads 1] [--skip 3,4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import warnings

import optuna
import torch

import tunewidgets as tw
from common import plain_optuna, timed

optuna.logging.set_verbosity(optuna.logging.WARNING)


def suggest(trial):
    """The grid's values, asked as a hand-written Optuna objective asks them (``plain_optuna``)."""
    return {"lr": trial.suggest_float("lr", 1e-3, 1e-1, log=True), "layers": trial.suggest_int("layers", 1, 4)}


def overhead(data, space, base, repeats):
    ours, plain = [], []
    for _ in range(repeats):
        t, _ = timed(lambda: plain_optuna(data, space, base, suggest))
        plain.append(t)
        t, _ = timed(lambda: tw.sweep(data, space, strategy="grid", base=base))
        ours.append(t)
    o, p = statistics.median(ours), statistics.median(plain)
    print(f"(1) 16-trial grid, thread executor {o:.2f} s vs plain study.optimize {p:.2f} s: "
          f"overhead ratio {o / p:.3f} (target <= 1.05)   [runs: ours {[round(x, 2) for x in ours]}, "
          f"plain {[round(x, 2) for x in plain]}]")
    return o


def dask_speedup(data, space, base, thread_seconds, repeats):
    import distributed

    cold, _ = timed(lambda: tw.sweep(data, space, strategy="grid", base=base, executor="dask"))
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       scheduler_kwargs={"dashboard_address": ":0"})
    client = distributed.Client(cluster)
    try:
        tw.sweep(data, tw.Space(lr=[0.01, 0.02]), strategy="grid", base=base.replace(epochs=1), executor=client)
        warm = []
        for _ in range(repeats):
            t, _ = timed(lambda: tw.sweep(data, space, strategy="grid", base=base, executor=client))
            warm.append(t)
    finally:
        client.close()
        cluster.close()
    w = statistics.median(warm)
    print(f"(2) same grid on Dask, 2 workers x 1 thread: warm {w:.2f} s -> speed-up {thread_seconds / w:.2f}x "
          f"over the thread executor (expected >= 1.3x); cold (cluster started and stopped by the sweep) "
          f"{cold:.2f} s -> {thread_seconds / cold:.2f}x")


def pruning(data, base, seeds):
    space = tw.Space(lr=tw.LogUniform(1e-4, 1.0), optimizer=tw.Choice(["sgd", "adam"]),
                     units=tw.Choice([16, 64, 128]))
    for seed in seeds:
        full = tw.sweep(data, space, strategy="random", n_trials=16, base=base, seed=seed)
        pruned = tw.sweep(data, space, strategy="random", n_trials=16, base=base, seed=seed, pruner="halving")
        e_full, e_pruned = full.table()["epochs_trained"].sum(), pruned.table()["epochs_trained"].sum()
        counts = pruned.table()["status"].value_counts().to_dict()
        print(f"(3) seed {seed}: halving {e_pruned} epochs vs none {e_full}: {100 * (1 - e_pruned / e_full):.0f}% "
              f"saved (expected >= 50%); best val_accuracy {100 * pruned.best_value:.2f} vs "
              f"{100 * full.best_value:.2f} ({100 * (pruned.best_value - full.best_value):+.2f} points); {counts}")


def sklearn_grid(repeats):
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    grid = {"C": [0.001, 0.01, 0.1, 1.0], "penalty": ["l1", "l2"]}
    est = LogisticRegression(max_iter=500)
    ours, theirs = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(repeats):
            t, gs = timed(lambda: GridSearchCV(est, grid, cv=5, refit=False).fit(X, y))  # no refit: like ours
            theirs.append(t)
            t, sw = timed(lambda: tw.sweep_estimator(est, grid, X, y, cv=5))
            ours.append(t)
    o, g = statistics.median(ours), statistics.median(theirs)
    same = sw.best == gs.best_params_ and np.isclose(sw.best_value, gs.best_score_)
    failed = (sw.table()["status"] == "failed").sum()
    print(f"(4) LogisticRegression C x penalty (8 points, {failed} invalid -> failed rows): sweep_estimator "
          f"{o:.2f} s vs GridSearchCV {g:.2f} s, ratio {o / g:.2f}; best {sw.best} vs {gs.best_params_}, "
          f"score {sw.best_value:.4f} vs {gs.best_score_:.4f}: {'same' if same else 'DIFFERENT'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads in the kernel (1: the same per-trial resources as one Dask worker, "
                             "and far steadier on a busy machine)")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip, e.g. 3,4")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    skip = set(args.skip.split(","))
    data = tw.load_dataset("digits")
    base = tw.HParams(epochs=args.epochs, units=64, batch_size=64, device="cpu")
    space = tw.Space(lr=tw.LogUniform(1e-3, 1e-1, n=4), layers=tw.IntRange(1, 4))
    print(f"digits, {args.epochs} epochs per trial, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}, torch threads in the kernel: {torch.get_num_threads()}")
    tw.train(data, base.replace(epochs=1))  # warm-up
    thread_seconds = overhead(data, space, base, args.repeats) if not {"1", "2"} <= skip else None
    if "2" not in skip and thread_seconds:
        dask_speedup(data, space, base, thread_seconds, args.repeats)
    if "3" not in skip:
        pruning(data, base.replace(epochs=20), seeds=(0, 1, 2))
    if "4" not in skip:
        sklearn_grid(args.repeats)


if __name__ == "__main__":
    main()
