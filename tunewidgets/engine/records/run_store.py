"""A file that keeps runs as they train: hyperparameters, status, per-epoch history, parent.

``RunStore("sqlite:///runs.db")`` is what ``tw.TrainPanel(data, storage=...)`` uses: every run it
trains writes a row when it starts, one per finished epoch and its end, so after a kernel restart a
new panel on the same file shows them again (``load``). Weights are not kept: a loaded run has its
history, not its model. SQLite from the standard library; writes come from training threads, hence
one lock.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from ...hparams import MODELS, HParams
from ...urls import mask_url
from ..control.callbacks import Callback
from ..builtin.data import Data
from .export import strict_json
from ..fit.trainer import FitTrainer
from ..run import Run
from ...statuses import FINAL_STATUSES, Status

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, name TEXT, hparams TEXT, status TEXT, parent TEXT,
                                 first_epoch INTEGER, started REAL, ended REAL, error TEXT, data TEXT);
CREATE TABLE IF NOT EXISTS epochs (run TEXT, epoch INTEGER, row TEXT, PRIMARY KEY (run, epoch));
CREATE TABLE IF NOT EXISTS names (name TEXT PRIMARY KEY);
"""
RUN_COLUMNS = ("id", "name", "hparams", "status", "parent", "first_epoch", "started", "ended", "error", "data")
RUN_NAME = re.compile(r"run (\d+)")


def sqlite_file(url: Any) -> Path:
    """The file of a ``sqlite:///path`` URL; a ``ValueError`` that shows the form for anything else
    (a server URL is shown without its password)."""
    if not isinstance(url, str) or not url.startswith("sqlite:///") or len(url) <= len("sqlite:///"):
        raise ValueError(f"storage={mask_url(url)!r} is not allowed: runs are kept in a SQLite file, written "
                         f"'sqlite:///runs.db' (a path after the three slashes)")
    return Path(url[len("sqlite:///"):])


def open_runs_file(url: str) -> sqlite3.Connection:
    """A connection to the runs file ``url`` names, its tables made; a ``ValueError`` naming the
    storage and the file when it cannot be one (a folder, no such folder, not writable, not SQLite,
    another program's ``runs`` table), never SQLite's bare words."""
    path = sqlite_file(url)
    where = f"storage={mask_url(url)!r} cannot keep runs:"
    if path.is_dir():
        raise ValueError(f"{where} {str(path)!r} is a folder; name a file in it, e.g. "
                         f"'sqlite:///{path / 'runs.db'}'")
    if not path.parent.is_dir():
        raise ValueError(f"{where} the folder {str(path.parent)!r} does not exist (nothing was created)")
    db = None
    try:
        db = sqlite3.connect(path, check_same_thread=False)
        foreign = foreign_table(db)  # read before anything is written: another program's file stays as it was
        if foreign is None:
            db.executescript(SCHEMA)
            if "data" not in columns_of(db, "runs"):  # a file from before datasets were kept
                db.execute("ALTER TABLE runs ADD COLUMN data TEXT")
            db.commit()
    except sqlite3.Error as e:
        if db is not None:
            db.close()
        raise ValueError(f"{where} {str(path)!r} could not be opened and written as a SQLite file ({e}); "
                         f"give a new file name in a folder you can write to") from None
    if foreign is not None:
        db.close()
        raise ValueError(f"{where} {str(path)!r} holds {foreign} that is not a panel's; give another file")
    return db


def columns_of(db: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


def foreign_table(db: sqlite3.Connection) -> str | None:
    """Which existing table (with its columns) is not what a runs file holds, or None."""
    expected = {"runs": [set(RUN_COLUMNS), set(RUN_COLUMNS[:-1])], "epochs": [{"run", "epoch", "row"}],
                "names": [{"name"}]}
    for table, allowed in expected.items():
        columns = columns_of(db, table)
        if columns and set(columns) not in allowed:
            return f"a {table!r} table (columns {columns})"
    return None


class RunStore:
    """Runs kept in a SQLite file. Example::

        store = RunStore("sqlite:///runs.db")
        run = tw.train(data, hp, callbacks=[store.keeper()])
        store.load(data)      # [<Run 'run 1' completed, ...>]

    ``load`` gives the runs of the dataset it is given; those of another dataset and damaged rows
    stay in the file, and ``skipped`` says which and why.
    """

    def __init__(self, url: str) -> None:
        self.path = sqlite_file(url)
        self._lock = threading.Lock()
        self._db = open_runs_file(url)
        self.skipped: list[str] = []  # the last load's runs not given back, each with why

    def keeper(self) -> Callback:
        """A callback that writes a run into this store as it trains."""
        return KeepRun(self)

    def write(self, sql: str, values: tuple) -> None:
        with self._lock:
            try:
                self._db.execute(sql, values)
                self._db.commit()
            except sqlite3.Error:
                self._db.rollback()  # else the next write would find a transaction already open
                raise

    def new_name(self, taken: Iterable[str] = ()) -> str:
        """``run N``, N one past the highest in the file (and in ``taken``), reserved at once: panels
        and processes sharing a file never give two runs one name."""
        with self._lock:
            if self._db.in_transaction:
                self._db.rollback()
            try:
                self._db.execute("BEGIN IMMEDIATE")  # SQLite's write lock: other connections wait here
            except sqlite3.OperationalError as e:
                raise ValueError(f"the runs file {str(self.path)!r} could not be written to name a run ({e}): "
                                 f"another program holds it") from None
            try:
                names = [n for (n,) in self._db.execute("SELECT name FROM runs UNION SELECT name FROM names")]
                numbers = [int(m.group(1)) for n in [*names, *taken] if n and (m := RUN_NAME.fullmatch(n))]
                name = f"run {max(numbers, default=0) + 1}"
                self._db.execute("INSERT INTO names VALUES (?)", (name,))
                self._db.commit()
            except BaseException:
                self._db.rollback()
                raise
        return name

    def load(self, target: Data | FitTrainer, factories: dict[str, Callable] | None = None) -> list[Run]:
        """The runs stored for ``target`` (a ``tw.Data``, or the trainer of a training function of yours),
        oldest first, finished and with their histories (no weights). A model factory cannot be stored:
        pass it in ``factories`` by name, or its runs get a stand-in that says so when used. Runs of other
        data or functions, and rows that cannot be read, are left in the file and listed in ``skipped``."""
        with self._lock:
            runs = self._db.execute(f"SELECT {', '.join(RUN_COLUMNS)} FROM runs ORDER BY started").fetchall()
            epochs = self._db.execute("SELECT run, epoch, row FROM epochs ORDER BY run, epoch").fetchall()
        rows: dict[str, list[str]] = {}
        for run_id, _epoch, row in epochs:
            rows.setdefault(run_id, []).append(row)
        loaded: dict[str, Run] = {}
        wanted = {"fit": target.name} if isinstance(target, FitTrainer) else target.signature
        self.skipped, others = [], {"data": 0, "fit": 0}
        for record in runs:
            stored = dict(zip(RUN_COLUMNS, record))
            trained_on = stored_signature(stored["data"])
            if trained_on is not None and trained_on != wanted or trained_on is None and "fit" in wanted:
                others["fit" if trained_on and "fit" in trained_on else "data"] += 1
                continue
            try:
                loaded[stored["id"]] = restore(target, stored, rows.get(stored["id"], []), loaded, factories or {})
            except (ValueError, TypeError, KeyError, AttributeError) as e:  # json.JSONDecodeError is a ValueError
                self.skipped.append(f"{stored['name']!r} was skipped: its stored row cannot be read ({e})")
        if others["fit"]:
            which = "other training functions" if isinstance(target, FitTrainer) else "training functions of yours"
            self.skipped.append(f"{others['fit']} run(s) of {which} are kept in the file, not shown")
        if others["data"]:
            shown = f"data than {target.name!r}" if isinstance(target, Data) else "data"
            self.skipped.append(f"{others['data']} run(s) trained on other {shown} are kept in the file, not shown")
        return list(loaded.values())

    def close(self) -> None:
        with self._lock:
            self._db.close()


def stored_signature(stored: str | None) -> dict | None:
    """What a stored run trained on (``stored_data``), None when not recorded; unreadable: ``{}``,
    which matches no dataset."""
    if stored is None:
        return None
    try:
        signature = json.loads(stored)
    except ValueError:
        return {}
    return signature if isinstance(signature, dict) else {}


def restore(target: Data | FitTrainer, stored: dict[str, Any], rows: list[str], loaded: dict[str, Run],
            factories: dict[str, Callable]) -> Run:
    """One stored run as a finished ``Run`` (its parent among ``loaded``); raises on a damaged row."""
    values = json.loads(stored["hparams"])
    if not isinstance(values, dict):
        raise ValueError(f"its values are {values!r}, not a dict")
    if isinstance(target, FitTrainer):
        target, hparams = target.again(), values
    else:
        if values["model"] not in MODELS:
            values["model"] = factories.get(values["model"]) or missing_factory(values["model"])
        hparams = HParams.from_dict(values)
    return StoredRun.read(stored, rows).as_run(target, hparams, loaded.get(stored["parent"]))


@dataclass(frozen=True)
class StoredRun:
    """What the file keeps of a run besides its values and parent, checked: enough to show it again
    as a finished ``Run`` (its weights are not kept)."""

    id: str
    name: str
    status: str
    rows: list[dict[str, Any]]  # one per finished epoch
    first_epoch: int = 0
    started: float | None = None
    ended: float | None = None
    error: str | None = None

    @classmethod
    def read(cls, stored: dict[str, Any], rows: list[str]) -> "StoredRun":
        """A ``runs`` row (by column) and its epochs' rows; raises on a damaged one. A run its kernel
        left running is stopped: its finished epochs are all there is."""
        status, error = stored["status"], stored["error"]
        if status == Status.RUNNING:  # its kernel ended while it trained
            status, error = Status.STOPPED, "the kernel ended while this run trained; its finished epochs are kept"
        for key in ("started", "ended"):
            if stored[key] is not None and not isinstance(stored[key], (int, float)):
                raise ValueError(f"its {key} time is {stored[key]!r}, not a number")
        if not isinstance(stored["first_epoch"], int) or not isinstance(stored["name"], str):
            raise ValueError("its name or first epoch is missing")
        return cls(stored["id"], stored["name"], status, [stored_epoch(row) for row in rows], stored["first_epoch"],
                   stored["started"], stored["ended"], error)

    def as_run(self, target: Data | FitTrainer, hparams: HParams | dict[str, Any], parent: Run | None) -> Run:
        """A finished run with this history, status and times, continuing ``parent``; no model."""
        if self.status not in FINAL_STATUSES:
            raise ValueError(f"status={self.status!r} is not allowed for a stored run: must be one of "
                             f"{FINAL_STATUSES}")
        run = Run(target, hparams, name=self.name, parent=parent)
        run.id, run.first_epoch, run.started_at, run.ended_at = self.id, self.first_epoch, self.started, self.ended
        run.error = RuntimeError(self.error) if self.error else None
        run.load_history(self.rows, self.status)
        return run


def missing_factory(name: str) -> Callable:
    """A stand-in for a model factory that was not given again: named like it, and saying so if called."""
    def factory(hparams, data):
        raise ValueError(f"model factory {name!r} was not stored with its runs (functions cannot be): pass it "
                         f"again, e.g. tw.TrainPanel(data, tw.HParams(model={name}), storage=...)")
    factory.__name__ = factory.__qualname__ = name
    return factory


def stored_epoch(text: str) -> dict[str, Any]:
    """One stored epoch: a dict with an integer ``epoch`` and numbers (or null) for values."""
    row = json.loads(text)
    if not isinstance(row, dict) or not isinstance(row.get("epoch"), int):
        raise ValueError(f"an epoch row holds no epoch number: {text[:60]!r}")
    bad = [k for k, v in row.items() if v is not None and not isinstance(v, (int, float))]
    if bad:
        raise ValueError(f"an epoch row's {', '.join(bad)} is not a number")
    return row


def stored_data(run: Run) -> dict[str, Any]:
    """What a run trained on, as the file keeps it: its data's signature, or its training function's
    name (a function of yours brings its own data)."""
    return run.data.signature if run.data is not None else {"fit": getattr(run.trainer, "name", "fit")}


class KeepRun(Callback):
    """Writes one run into a ``RunStore``: its start, every finished epoch, its end."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def on_train_start(self, run) -> None:
        values = run.hparams_dict()
        self.store.write(f"INSERT OR REPLACE INTO runs ({', '.join(RUN_COLUMNS)}) VALUES ({', '.join('?' * 10)})",
                         (run.id, run.name, json.dumps(values), Status.RUNNING, run.parent.id if run.parent else None,
                          run.first_epoch, run.started_at or time.time(), None, None,
                          json.dumps(stored_data(run))))

    def on_epoch_end(self, run, metrics: dict[str, Any]) -> None:
        self.store.write("INSERT OR REPLACE INTO epochs VALUES (?, ?, ?)", (run.id, int(metrics["epoch"]),
                                                                          json.dumps(strict_json(metrics))))

    def on_train_end(self, run) -> None:
        values = run.hparams_dict()  # live knobs may have moved
        self.store.write("UPDATE runs SET status = ?, ended = ?, error = ?, hparams = ? WHERE id = ?",
                         (run.status, run.ended_at, repr(run.error) if run.error else None, json.dumps(values), run.id))
