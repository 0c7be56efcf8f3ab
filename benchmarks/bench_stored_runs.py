"""What opening a panel on a runs file costs as the file grows: 500, 2,000 and 10,000 stored runs.

One real run is trained and kept (``TrainPanel(storage=...)`` writes the same rows), then copied
under new ids to make each file, so every stored run has a real history. Prints the seconds to open
``tw.TrainPanel(data, storage=...)`` per size (best of three), and the milliseconds each stored run
adds over a panel on an empty file: growth is linear when that figure stays flat (target: 2,000
runs open in under 2 s).

    python benchmarks/bench_stored_runs.py [--sizes 500 2000 10000]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
from pathlib import Path

import tunewidgets as tw
from common import timed
from tunewidgets.engine.records.run_store import RunStore


def runs_file(folder: Path, data, n_runs: int) -> str:
    """A runs file of ``n_runs`` copies of one real stored run (its row and its epochs)."""
    url = f"sqlite:///{folder / f'runs{n_runs}.db'}"
    store = RunStore(url)
    run = tw.train(data, tw.HParams(epochs=5, units=16, layers=1, device="cpu"), callbacks=[store.keeper()])
    store.close()
    with sqlite3.connect(folder / f"runs{n_runs}.db") as db:
        for copy in range(1, n_runs):
            db.execute("INSERT INTO runs SELECT ?, ?, hparams, status, parent, first_epoch, started + ?, ended, "
                       "error, data FROM runs WHERE id = ?", (f"copy{copy}", f"run {copy + 1}", copy, run.id))
            db.execute("INSERT INTO epochs SELECT ?, epoch, row FROM epochs WHERE run = ?", (f"copy{copy}", run.id))
    return url


def open_seconds(data, url: str) -> tuple[float, int]:
    """Best of three openings of a panel on ``url``, and how many runs it listed."""
    best, listed = float("inf"), 0
    for _ in range(3):
        seconds, panel = timed(lambda: tw.TrainPanel(data, storage=url))
        best, listed = min(best, seconds), len(panel.runs)
        panel.store.close()
    return best, listed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 2000, 10000])
    args = parser.parse_args()
    data = tw.load_dataset("digits")
    tw.TrainPanel(data)  # the first panel pays for imports and Bokeh's set-up: not a stored run's cost
    with tempfile.TemporaryDirectory() as folder:
        empty, _ = open_seconds(data, f"sqlite:///{Path(folder) / 'empty.db'}")
        print(f"a panel on an empty runs file opens in {empty:.2f} s")
        print(f"{'stored runs':>12} {'open (s)':>9} {'ms per run':>11} {'runs listed':>12}")
        for n_runs in args.sizes:
            seconds, listed = open_seconds(data, runs_file(Path(folder), data, n_runs))
            print(f"{n_runs:>12} {seconds:>9.2f} {1000 * (seconds - empty) / n_runs:>11.3f} {listed:>12}")


if __name__ == "__main__":
    main()
