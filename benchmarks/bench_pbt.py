"""Population-based training against a random search, both batched, side by side in one run.

Digits, the default MLP, SGD with momentum; 16 members (or trials) x 20 epochs, one batched group
each. PBT (interval 4, quantile 0.25, resample 0.25) explores lr and weight decay; the random search
draws both once per trial from the same space. Both train the same total epochs.

- cost: PBT's wall time over the random search's (exploits copy stacked rows in place, so the
  target is <= 1.15);
- quality: each seed's best validation loss (lowest over every epoch of every member), PBT against
  random search (target: PBT no worse on the median seed);
- batched against one after another: the same population with ``executor="thread"``, its members
  runs of their own that take turns and copy each other's state in memory (what a training function's
  population does), its wall time over the batched population's (on a GPU: ``--members 64``).

Repeats alternate which arm runs first, because the machine is shared and noisy.

    python benchmarks/bench_pbt.py [--seeds 3] [--members 16] [--epochs 20] [--interval 4] [--threads N]
                                   [--no-turns]
"""

from __future__ import annotations

import argparse
import statistics

import optuna
import torch

import tunewidgets as tw
from common import timed

optuna.logging.set_verbosity(optuna.logging.WARNING)

SPACE = tw.Space(lr=tw.LogUniform(1e-3, 1.0), weight_decay=tw.LogUniform(1e-6, 1e-2))


def one_sweep(data, strategy: str, members: int, epochs: int, interval: int, seed: int):
    base = tw.HParams(epochs=epochs, optimizer="momentum", momentum=0.9)
    if strategy in ("pbt", "turns"):
        return tw.sweep(data, SPACE, strategy="pbt", population=members, interval=interval, base=base,
                        metric="val_loss", seed=seed, quiet=True, executor="thread" if strategy == "turns" else None)
    return tw.sweep(data, SPACE, strategy="random", n_trials=members, executor="batched", group_size=members,
                    base=base, metric="val_loss", seed=seed, quiet=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--members", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--interval", type=int, default=4)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-turns", action="store_true", help="leave out the population trained one after another")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = tw.load_dataset("digits")
    one_sweep(data, "random", 4, 2, 1, 0)  # warm up torch and Optuna before anything is timed
    ratios, pairs, turns = [], [], []
    print(f"{args.members} members x {args.epochs} epochs, interval {args.interval}, torch threads "
          f"{torch.get_num_threads()}")
    for seed in range(args.seeds):
        order = ("random", "pbt") if seed % 2 == 0 else ("pbt", "random")
        order += () if args.no_turns else ("turns",)
        seconds, best = {}, {}
        for strategy in order:
            seconds[strategy], sw = timed(lambda: one_sweep(data, strategy, args.members, args.epochs,
                                                            args.interval, seed))
            best[strategy] = sw.best_value
        ratios.append(seconds["pbt"] / seconds["random"])
        pairs.append((best["pbt"], best["random"]))
        print(f"seed {seed}: wall pbt {seconds['pbt']:.2f} s, random {seconds['random']:.2f} s "
              f"({ratios[-1]:.3f}x); best val_loss pbt {best['pbt']:.4f}, random {best['random']:.4f}")
        if "turns" in seconds:
            turns.append(seconds["pbt"] / seconds["turns"])
            print(f"  one after another: wall {seconds['turns']:.2f} s (batched {turns[-1]:.3f}x of it), "
                  f"best val_loss {best['turns']:.4f}")
    median_seed = sorted(range(args.seeds), key=lambda i: pairs[i][0] - pairs[i][1])[args.seeds // 2]
    pbt_best, random_best = pairs[median_seed]
    print(f"cost: PBT / random search wall time, median {statistics.median(ratios):.3f}x "
          f"(min {min(ratios):.3f}, max {max(ratios):.3f}); target <= 1.15")
    print(f"quality: median seed ({median_seed}) best val_loss pbt {pbt_best:.4f} vs random {random_best:.4f} "
          f"({'no worse' if pbt_best <= random_best else 'worse'}); target: no worse")
    if turns:
        print(f"batched PBT / the same population one after another, wall time: median {statistics.median(turns):.3f}x "
              f"(min {min(turns):.3f}, max {max(turns):.3f})")


if __name__ == "__main__":
    main()
