"""A file that keeps runs as they train: hyperparameters, status, per-epoch history, parent.

``RunStore("sqlite:///runs.db")`` is what ``tw.TrainPanel(data, storage=...)`` uses: every run it
trains writes a row when it starts, one per finished epoch and its end, so after a kernel restart a
new panel on the same file shows them again (``load``). Weights are not kept: a loaded run has its
history, not its model. SQLite from the standard library; writes come from training threads, hence
one lock.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable

from ..hparams import MODELS, HParams
from .callbacks import Callback
from .data import Data
from .export import strict_json
from .run import Run

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, name TEXT, hparams TEXT, status TEXT, parent TEXT,
                                 first_epoch INTEGER, started REAL, ended REAL, error TEXT);
CREATE TABLE IF NOT EXISTS epochs (run TEXT, epoch INTEGER, row TEXT, PRIMARY KEY (run, epoch));
"""


def sqlite_file(url: Any) -> Path:
    """The file of a ``sqlite:///path`` URL; a ``ValueError`` that shows the form for anything else."""
    if not isinstance(url, str) or not url.startswith("sqlite:///") or len(url) <= len("sqlite:///"):
        shown = url if isinstance(url, str) else type(url).__name__
        raise ValueError(f"storage={shown!r} is not allowed: runs are kept in a SQLite file, written "
                         f"'sqlite:///runs.db' (a path after the three slashes)")
    return Path(url[len("sqlite:///"):])


class RunStore:
    """Runs kept in a SQLite file. Example::

        store = RunStore("sqlite:///runs.db")
        run = tw.train(data, hp, callbacks=[store.keeper()])
        store.load(data)      # [<Run 'run 1' completed, ...>]
    """

    def __init__(self, url: str) -> None:
        self.path = sqlite_file(url)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        with self._lock:
            self._db.executescript(SCHEMA)
            self._db.commit()

    def keeper(self) -> Callback:
        """A callback that writes a run into this store as it trains."""
        return KeepRun(self)

    def write(self, sql: str, values: tuple) -> None:
        with self._lock:
            self._db.execute(sql, values)
            self._db.commit()

    def load(self, data: Data, factories: dict[str, Callable] | None = None) -> list[Run]:
        """The stored runs, oldest first, finished and with their histories (no weights). A model
        factory cannot be stored: pass it in ``factories`` by name, or its runs get a stand-in that
        says so when used."""
        with self._lock:
            runs = self._db.execute("SELECT id, name, hparams, status, parent, first_epoch, started, ended, error "
                                    "FROM runs ORDER BY started").fetchall()
            epochs = self._db.execute("SELECT run, row FROM epochs ORDER BY run, epoch").fetchall()
        rows: dict[str, list[dict]] = {}
        for run_id, row in epochs:
            rows.setdefault(run_id, []).append(json.loads(row))
        loaded: dict[str, Run] = {}
        for run_id, name, hparams, status, parent, first_epoch, started, ended, error in runs:
            values = json.loads(hparams)
            if values["model"] not in MODELS:
                values["model"] = (factories or {}).get(values["model"]) or missing_factory(values["model"])
            if status == "running":  # its kernel ended while it trained
                status, error = "stopped", "the kernel ended while this run trained; its finished epochs are kept"
            loaded[run_id] = Run.restored(data, HParams.from_dict(values), run_id=run_id, name=name, status=status,
                                          rows=rows.get(run_id, []), parent=loaded.get(parent),
                                          first_epoch=first_epoch, started=started, ended=ended, error=error)
        return list(loaded.values())

    def close(self) -> None:
        with self._lock:
            self._db.close()


def missing_factory(name: str) -> Callable:
    """A stand-in for a model factory that was not given again: named like it, and saying so if called."""
    def factory(hparams, data):
        raise ValueError(f"model factory {name!r} was not stored with its runs (functions cannot be): pass it "
                         f"again, e.g. tw.TrainPanel(data, tw.HParams(model={name}), storage=...)")
    factory.__name__ = factory.__qualname__ = name
    return factory


class KeepRun(Callback):
    """Writes one run into a ``RunStore``: its start, every finished epoch, its end."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def on_train_start(self, run) -> None:
        values = run.hparams.to_dict()
        values["model"] = run.hparams.model_name
        self.store.write("INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (run.id, run.name, json.dumps(values), "running", run.parent.id if run.parent else None,
                          run.first_epoch, run.started_at or time.time(), None, None))

    def on_epoch_end(self, run, metrics: dict[str, Any]) -> None:
        self.store.write("INSERT OR REPLACE INTO epochs VALUES (?, ?, ?)", (run.id, int(metrics["epoch"]),
                                                                          json.dumps(strict_json(metrics))))

    def on_train_end(self, run) -> None:
        values = run.hparams.to_dict()  # live knobs may have moved
        values["model"] = run.hparams.model_name
        self.store.write("UPDATE runs SET status = ?, ended = ?, error = ?, hparams = ? WHERE id = ?",
                         (run.status, run.ended_at, repr(run.error) if run.error else None, json.dumps(values), run.id))
