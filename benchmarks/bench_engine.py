"""tw.train against a bare hand-written loop and the usual DataLoader loop, side by side.

Same model (seeded MLP), same data (digits), same epochs, same optimizer; every loop evaluates the
validation set once per epoch, as a real training loop does. Repeats are interleaved and the
medians compared, because the machine is noisy. Targets: tw.train / bare <= 1.05; faster than
the DataLoader loop.

    python benchmarks/bench_engine.py [--repeats 7] [--epochs 20]
"""

from __future__ import annotations

import argparse
import statistics

import torch
from torch.utils.data import DataLoader, TensorDataset

import tunewidgets as tw
from tunewidgets.engine.builtin.models import build_mlp
from common import timed


def bare_loop(data, hp):
    """What a careful person writes by hand: tensors in memory, batches by random index."""
    torch.manual_seed(hp.seed)
    model = build_mlp(hp, data)
    opt = torch.optim.Adam(model.parameters(), lr=hp.lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    x, y, xv, yv = data.x_train, data.y_train, data.x_val, data.y_val
    gen = torch.Generator().manual_seed(hp.seed)
    for _ in range(hp.epochs):
        model.train()
        total = 0.0
        for idx in torch.randperm(len(x), generator=gen).split(hp.batch_size):
            loss = loss_fn(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        model.eval()
        with torch.no_grad():
            out = model(xv)
            val_loss = loss_fn(out, yv).item()
            acc = (out.argmax(1) == yv).float().mean().item()
    return acc, val_loss


def dataloader_loop(data, hp):
    """The usual tutorial loop: a TensorDataset behind a shuffling DataLoader."""
    torch.manual_seed(hp.seed)
    model = build_mlp(hp, data)
    opt = torch.optim.Adam(model.parameters(), lr=hp.lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    train = DataLoader(TensorDataset(data.x_train, data.y_train), batch_size=hp.batch_size, shuffle=True)
    val = DataLoader(TensorDataset(data.x_val, data.y_val), batch_size=1024)
    for _ in range(hp.epochs):
        model.train()
        total = 0.0
        for xb, yb in train:
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
        model.eval()
        correct, n = 0, 0
        with torch.no_grad():
            for xb, yb in val:
                out = model(xb)
                correct += (out.argmax(1) == yb).sum().item()
                n += len(yb)
    return correct / n, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    data = tw.load_dataset("digits")
    hp = tw.HParams(epochs=args.epochs, batch_size=64, layers=2, units=128, lr=1e-3, optimizer="adam",
                    device="cpu")
    ways = {"tw.train": lambda: tw.train(data, hp).history["val_accuracy"].iloc[-1],
            "bare loop": lambda: bare_loop(data, hp)[0],
            "DataLoader": lambda: dataloader_loop(data, hp)[0]}
    times: dict[str, list[float]] = {k: [] for k in ways}
    accuracy: dict[str, float] = {}
    for fn in ways.values():  # warm-up
        fn()
    for _ in range(args.repeats):
        for name, fn in ways.items():
            seconds, accuracy[name] = timed(fn)
            times[name].append(seconds)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"digits MLP 64-128-128-10, {args.epochs} epochs, batch 64, Adam, "
          f"{torch.get_num_threads()} torch threads, median of {args.repeats} interleaved repeats")
    for name in ways:
        print(f"  {name:<11} {med[name]:.3f} s   final val accuracy {accuracy[name]:.3f}")
    print(f"ratio tw.train / bare loop  = {med['tw.train'] / med['bare loop']:.3f}  (target <= 1.05)")
    print(f"ratio tw.train / DataLoader = {med['tw.train'] / med['DataLoader']:.3f}  (target < 1)")


if __name__ == "__main__":
    main()
