"""Batched training against the same configurations trained one after another, in one run.

Digits, the default MLP (2 x 128, Adam, batch 64); 16 and 64 configurations from a grid of
learning rate x dropout x weight decay. Two levels, side by side:

- engine: ``train_batched`` (one group) against ``tw.train`` in a loop, each configuration with its
  own seed;
- sweep: ``tw.sweep(strategy="grid", executor="batched", group_size=n)`` against
  ``executor="thread"`` on the same grid (the whole sweep: Optuna ask/tell, pruner-free reporting).

Both sides train the same configurations for the same epochs and evaluate every epoch; repeats are
interleaved and the medians compared, because the machine is shared and noisy. Target on a 2-core
CPU: >= 3x for 16. Torch's default thread count unless ``--threads``.

    python benchmarks/bench_batched.py [--repeats 3] [--epochs 10] [--sizes 16 64] [--threads N]
                                       [--levels engine sweep] [--devices cpu cuda]
"""

from __future__ import annotations

import argparse
import itertools
import statistics

import optuna
import torch

import tunewidgets as tw
from tunewidgets.engine.batched import train_batched
from common import timed

optuna.logging.set_verbosity(optuna.logging.WARNING)

LRS = (3e-4, 1e-3, 3e-3, 1e-2)
DROPOUTS = (0.0, 0.1, 0.2, 0.3)
DECAYS = (0.0, 1e-4, 1e-3, 1e-2)


def configs(n: int, epochs: int, device: str) -> list[tw.HParams]:
    """16 = 4 lr x 2 dropout x 2 decay; 64 = 4 x 4 x 4; other sizes cycle through the full grid."""
    shape = {16: (4, 2, 2), 64: (4, 4, 4)}.get(n, (4, 4, 4))
    grid = itertools.product(LRS[:shape[0]], DROPOUTS[::4 // shape[1]], DECAYS[::4 // shape[2]])
    picked = list(itertools.islice(itertools.cycle(grid), n))
    return [tw.HParams(lr=lr, dropout=p, weight_decay=wd, epochs=epochs, seed=i, device=device)
            for i, (lr, p, wd) in enumerate(picked)]


def sweep_space(n: int) -> tw.Space:
    """The same lr x dropout x weight decay grid as ``configs`` (16 and 64 only)."""
    shape = {16: (4, 2, 2), 64: (4, 4, 4)}[n]
    return tw.Space(lr=list(LRS[:shape[0]]), dropout=list(DROPOUTS[::4 // shape[1]]),
                    weight_decay=list(DECAYS[::4 // shape[2]]))


def run_sweep(data, n: int, epochs: int, device: str, executor: str):
    return tw.sweep(data, sweep_space(n), strategy="grid", base=tw.HParams(epochs=epochs, device=device),
                    executor=executor, group_size=n if executor == "batched" else None, seed=0)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def report(device, level, n, names, times, accs) -> str:
    slow, fast = (statistics.median(times[(n, k)]) for k in names)
    print(f"{device:5} {level:6} {n:3d} configs: {names[0]} {slow:7.2f} s, {names[1]} {fast:7.2f} s, "
          f"ratio {slow / fast:5.2f}x   (mean best val_accuracy {accs[(n, names[0])]:.4f} vs "
          f"{accs[(n, names[1])]:.4f}; all times {[round(x, 2) for x in times[(n, names[0])]]} vs "
          f"{[round(x, 2) for x in times[(n, names[1])]]})")
    return f"{device:5} {level:6} {n:3d} configs: {names[1]} is {slow / fast:5.2f}x faster than {names[0]}"


def bench_engine(data, args, device) -> list[str]:
    train_batched(data, configs(2, 1, device))  # warm-up: first-call costs on both paths
    tw.train(data, configs(1, 1, device)[0])
    times = {(n, kind): [] for n in args.sizes for kind in ("sequential", "batched")}
    accs = {}
    for rep in range(args.repeats):
        for n in args.sizes:
            hps = configs(n, args.epochs, device)
            order = ("sequential", "batched") if rep % 2 == 0 else ("batched", "sequential")
            for kind in order:
                if kind == "sequential":
                    t, runs = timed(lambda: [tw.train(data, hp) for hp in hps])
                else:
                    t, runs = timed(lambda: train_batched(data, hps))
                sync(device)
                times[(n, kind)].append(t)
                print(f"  {device} engine {n} configs, repeat {rep + 1}: {kind} {t:.2f} s", flush=True)
                accs[(n, kind)] = statistics.mean(r.best_metric for r in runs)
    return [report(device, "engine", n, ("sequential", "batched"), times, accs) for n in args.sizes]


def bench_sweep(data, args, device) -> list[str]:
    sizes = [n for n in args.sizes if n in (16, 64)]
    for executor in ("thread", "batched"):  # warm-up
        tw.sweep(data, tw.Space(lr=[1e-3, 1e-2]), strategy="grid", base=tw.HParams(epochs=1, device=device),
                 executor=executor)
    times = {(n, kind): [] for n in sizes for kind in ("thread", "batched")}
    accs = {}
    for rep in range(args.repeats):
        for n in sizes:
            order = ("thread", "batched") if rep % 2 == 0 else ("batched", "thread")
            for kind in order:
                t, sw = timed(lambda: run_sweep(data, n, args.epochs, device, kind))
                sync(device)
                assert set(sw.table()["status"]) == {"complete"}, sw.table()
                times[(n, kind)].append(t)
                print(f"  {device} sweep {n} configs, repeat {rep + 1}: executor={kind!r} {t:.2f} s", flush=True)
                accs[(n, kind)] = sw.table()["val_accuracy"].mean()
    return [report(device, "sweep", n, ("thread", "batched"), times, accs) for n in sizes]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--sizes", type=int, nargs="+", default=[16, 64])
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--levels", nargs="+", default=["engine", "sweep"], choices=["engine", "sweep"])
    ap.add_argument("--devices", nargs="+", default=["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = tw.load_dataset("digits")
    print(f"digits {data.n_train} train / {data.n_val} val; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; {args.epochs} epochs; repeats interleaved: {args.repeats}")
    summary = []
    for device in args.devices:
        if "engine" in args.levels:
            summary += bench_engine(data, args, device)
        if "sweep" in args.levels:
            summary += bench_sweep(data, args, device)
    print("\nratios (medians):")
    print("\n".join(summary))


if __name__ == "__main__":
    main()
