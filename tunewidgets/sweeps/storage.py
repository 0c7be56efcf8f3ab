"""Where a sweep is kept: storage URLs checked, passwords never shown, heartbeats for crash detection.

- A URL's password is masked (``postgresql://alice:***@host/db``) in every message and repr;
  ``scrub`` also removes it from a database driver's own error text, with SQLAlchemy's noise
  (``[SQL: ...]``, links to its background pages).
- ``open_storage`` gives Optuna an ``RDBStorage`` with a heartbeat: a sweep records one for each
  running trial, so a trial whose process died (a killed kernel, a crashed script) is recognized
  as stale when the sweep is loaded or resumed, and run again (Optuna's own mechanism for this).
- A plain path is answered with the ``sqlite:///`` form; loading a SQLite file that does not exist
  says so and creates nothing.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from ..urls import mask_url, scrub

# Optuna warns that heartbeats belong to study.optimize; a sweep's ask/tell loop records its own.
warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")

HEARTBEAT_SECONDS = 10  # how often a running trial's heartbeat is written
GRACE_SECONDS = 30  # a running trial without a heartbeat for this long belongs to a dead process
def sqlite_path(url: str) -> Path | None:
    """The file a ``sqlite:///`` URL names (None for other URLs and in-memory SQLite)."""
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///"):].split("?")[0]
    return Path(path) if path and path != ":memory:" else None


def check_url(storage: Any) -> None:
    """A ``ValueError`` for a storage that cannot be an Optuna storage (a plain path, a non-string)."""
    if storage is None or not isinstance(storage, str):
        return
    if "://" not in storage:
        raise ValueError(f"storage={mask_url(storage)!r} is not a storage URL: for a SQLite file write "
                         f"'sqlite:///{storage}' (or a URL such as 'postgresql://user:pass@host/db')")


def open_storage(storage: Any, must_exist: bool = False) -> Any:
    """What Optuna gets: None (in memory), a storage object as given, or an ``RDBStorage`` with a
    heartbeat for a URL. ``must_exist``: a SQLite file that is not there is an error, not created."""
    check_url(storage)
    if not isinstance(storage, str):
        return storage
    path = sqlite_path(storage)
    if must_exist and path is not None and not path.exists():
        raise ValueError(f"storage={mask_url(storage)!r}: the file {str(path)!r} does not exist (nothing was "
                         f"created); check the path, relative to {str(Path.cwd())!r}")
    import optuna

    try:
        with warnings.catch_warnings():  # heartbeats are marked experimental in Optuna
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(storage, heartbeat_interval=HEARTBEAT_SECONDS,
                                              grace_period=GRACE_SECONDS)
    except Exception as e:  # noqa: BLE001 - SQLAlchemy and drivers raise many kinds for a bad URL
        raise ValueError(f"storage={mask_url(storage)!r} is not usable: {type(e).__name__}: {scrub(str(e), storage)}. "
                         f"Use an Optuna storage URL such as 'sqlite:///sweeps.db' or "
                         f"'postgresql://user:pass@host/db'") from None


def heartbeat_enabled(storage: Any) -> bool:
    """True for a storage that keeps heartbeats (an ``RDBStorage`` given a ``heartbeat_interval``)."""
    interval = getattr(storage, "get_heartbeat_interval", None)
    return callable(interval) and interval() is not None


def trial_ids(storage: Any, study_name: str, numbers: list[int]) -> dict[int, int]:
    """Storage ids of trials by number (what heartbeats are recorded against)."""
    study_id = storage.get_study_id_from_name(study_name)
    return {n: storage.get_trial_id_from_study_id_trial_number(study_id, n) for n in numbers}


def fail_stale_trials(study: Any, storage: Any) -> None:
    """Mark trials whose process died (no heartbeat within the grace period) as failed."""
    if not heartbeat_enabled(storage):
        return
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


class Heartbeat:
    """Records a heartbeat for every running trial of a sweep, from one daemon thread, so that
    ``fail_stale_trials`` can tell a trial whose process died from one still running."""

    def __init__(self, storage: Any, study_name: str) -> None:
        import threading

        self.storage, self.study_name = storage, study_name
        self.interval = storage.get_heartbeat_interval()
        self._ids: dict[int, int] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="tunewidgets-heartbeat", daemon=True)
        self._thread.start()

    def add(self, number: int) -> None:
        trial_id = trial_ids(self.storage, self.study_name, [number])[number]
        self.storage.record_heartbeat(trial_id)
        with self._lock:
            self._ids[number] = trial_id

    def remove(self, number: int) -> None:
        with self._lock:
            self._ids.pop(number, None)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        while not self._stopped.wait(self.interval):
            with self._lock:
                ids = list(self._ids.values())
            for trial_id in ids:
                try:
                    self.storage.record_heartbeat(trial_id)
                except Exception:  # noqa: BLE001 - a missed beat is written again at the next interval
                    pass
