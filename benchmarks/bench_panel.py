"""What the TrainPanel costs: the same run with the panel streaming versus ``tw.train`` headless.

Both in one process, interleaved, so machine noise hits both alike. Prints the time ratio (target
<= 1.10), the Bokeh messages the panel sent per second, and the plot's row count after a long
run (bounded by the rollover).

    python benchmarks/bench_panel.py [--epochs 40] [--repeats 5] [--long-epochs 600] [--rollover 500]
"""

from __future__ import annotations

import argparse
import statistics

import torch

import tunewidgets as tw
from common import timed


def timed_headless(data, hp) -> float:
    return timed(lambda: tw.train(data, hp))[0]


def timed_panel(data, hp) -> tuple[float, int, float]:
    """Seconds from Start to the last point plotted, Bokeh patches sent, and the run's own seconds."""
    panel = tw.TrainPanel(data, hp)
    before = panel.plots.patches_sent
    seconds, run = timed(lambda: started_and_waited(panel))
    return seconds, panel.plots.patches_sent - before, run.elapsed


def started_and_waited(panel):
    """Start the panel's run (as the Start button does) and wait for its last point; the run."""
    run = panel.start()
    panel.wait()
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--long-epochs", type=int, default=600)
    parser.add_argument("--rollover", type=int, default=500)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 avoids oversubscription)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = tw.load_dataset("digits")
    hp = tw.HParams(lr=3e-3, units=64, epochs=args.epochs, seed=0)
    timed_headless(data, hp.replace(epochs=2))  # warm-up: first-call costs of torch and Bokeh
    timed_panel(data, hp.replace(epochs=2))

    headless, panel, rates = [], [], []
    for _ in range(args.repeats):
        headless.append(timed_headless(data, hp))
        seconds, patches, _ = timed_panel(data, hp)
        panel.append(seconds)
        rates.append(patches / seconds)
    h, p = statistics.median(headless), statistics.median(panel)
    print(f"digits MLP, {args.epochs} epochs, {args.repeats} interleaved repeats, torch threads {args.threads}")
    print(f"  headless tw.train   median {h:.3f} s  ({', '.join(f'{x:.3f}' for x in headless)})")
    print(f"  TrainPanel + plots  median {p:.3f} s  ({', '.join(f'{x:.3f}' for x in panel)})")
    print(f"  ratio panel/headless {p / h:.3f}  (target <= 1.10)")
    print(f"  Bokeh messages per second (document patches) median {statistics.median(rates):.1f}")

    long = tw.TrainPanel(data, hp.replace(epochs=args.long_epochs), rollover=args.rollover)
    seconds, run = timed(lambda: started_and_waited(long))
    epoch_rows, batch_rows = long.curves.rows(run.id, "epochs"), long.curves.rows(run.id, "batches")
    print(f"long run: {run.epochs_done} epochs in {seconds:.1f} s, rollover {args.rollover}: "
          f"plot rows {epoch_rows} (epochs) + {batch_rows} (batches), "
          f"{long.plots.patches_sent / seconds:.1f} Bokeh messages/s")


if __name__ == "__main__":
    main()
