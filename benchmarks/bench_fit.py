"""What the training-function contract costs: ``tw.train(fit, params)`` against the same loop run bare.

The loop is a small multi-label classifier whose epoch takes about 10 ms on one CPU thread; it calls
``report.batch`` every batch and ``report.epoch`` every epoch. Bare, it gets a report that does
nothing; through ``tw.train`` it gets the run's (pause, stop, live knobs, history, events). Both run
interleaved in one process; prints the median ratio of their times (target <= 1.03).

    python benchmarks/bench_fit.py [--epochs 100] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics

import torch
from torch import nn

import tunewidgets as tw
from common import timed

G = torch.Generator().manual_seed(0)
X, RULES = torch.randn(1600, 40, generator=G), torch.randn(40, 3, generator=G)
Y = (X @ RULES > 0.3).float()


def fit(p, report):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(40, p.hidden), nn.ReLU(), nn.Linear(p.hidden, 3))
    opt = torch.optim.Adam(model.parameters(), lr=p.lr)
    report.watch(opt, model)
    loss_fn = nn.BCEWithLogitsLoss()
    for _ in range(p.epochs):
        for i in range(0, len(X), p.batch_size):
            loss = loss_fn(model(X[i:i + p.batch_size]), Y[i:i + p.batch_size])
            opt.zero_grad()
            loss.backward()
            opt.step()
            report.batch(loss=loss)
        report.epoch(loss=loss)
    return model


class BareReport:
    """A report that does nothing: the loop as it runs without tunewidgets."""

    def watch(self, *objects):
        pass

    def batch(self, **metrics):
        pass

    def epoch(self, **metrics):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    params = {"lr": 1e-3, "hidden": 64, "batch_size": 50, "epochs": args.epochs}
    p = tw.Params(params)
    bare, contract = [], []
    fit(tw.Params({**params, "epochs": 2}), BareReport())  # warm-up
    for _ in range(args.repeats):
        bare.append(timed(lambda: fit(p, BareReport()))[0])
        contract.append(timed(lambda: tw.train(fit, params))[0])
    per_epoch = statistics.median(bare) / args.epochs * 1000
    ratios = [c / b for c, b in zip(contract, bare)]
    print(f"epoch: {per_epoch:.1f} ms bare; {args.epochs} epochs x {args.repeats} repeats, interleaved")
    print(f"tw.train(fit) / bare loop: median {statistics.median(ratios):.3f} "
          f"(range {min(ratios):.3f}-{max(ratios):.3f}; target <= 1.03)")


if __name__ == "__main__":
    main()
