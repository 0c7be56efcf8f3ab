"""Batched training (one group) against the same configurations trained one after another (tw.train).

Digits, the default MLP (2 x 128, Adam, batch 64); 16 and 64 configurations from a grid of
learning rate x dropout x weight decay, each with its own seed. Both sides train the same
configurations for the same epochs and evaluate every epoch; repeats are interleaved and the medians
compared, because the machine is shared and noisy. Target on a 2-core CPU: >= 3x for 16.

    python benchmarks/bench_batched.py [--repeats 3] [--epochs 10] [--sizes 16 64] [--threads N]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

import torch

import tunewidgets as tw
from tunewidgets.engine.batched import train_batched

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


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--sizes", type=int, nargs="+", default=[16, 64])
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--devices", nargs="+", default=["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = tw.load_dataset("digits")
    print(f"digits {data.n_train} train / {data.n_val} val; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; {args.epochs} epochs; repeats interleaved: {args.repeats}")
    for device in args.devices:
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
                    print(f"  {device} {n} configs, repeat {rep + 1}: {kind} {t:.2f} s", flush=True)
                    accs[(n, kind)] = statistics.mean(r.best_metric for r in runs)
        for n in args.sizes:
            seq, bat = (statistics.median(times[(n, k)]) for k in ("sequential", "batched"))
            print(f"{device:5} {n:3d} configs: sequential {seq:7.2f} s, batched {bat:7.2f} s, "
                  f"ratio {seq / bat:5.2f}x   (mean best val_accuracy {accs[(n, 'sequential')]:.4f} vs "
                  f"{accs[(n, 'batched')]:.4f}; all times {[round(x, 2) for x in times[(n, 'sequential')]]} vs "
                  f"{[round(x, 2) for x in times[(n, 'batched')]]})")


if __name__ == "__main__":
    main()
