"""A panel's runs file under bad input: wrong places, damaged rows, other data, shared files, many runs.

Real SQLite files in a temporary folder, real runs trained and kept by ``RunStore``'s callback,
real panels opened on them."""

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from html import unescape

import pytest

import tunewidgets as tw
from helpers.settings import SMALL
from tunewidgets.engine.records.run_store import RunStore
from tunewidgets.ui import TrainPanel

ONE_EPOCH = SMALL.replace(epochs=1)


def kept_runs(data, url, count=2):
    """``count`` runs of ``data`` trained and written into the runs file at ``url``."""
    store = RunStore(url)
    runs = [tw.train(data, ONE_EPOCH.replace(seed=i), name=f"run {i + 1}", callbacks=[store.keeper()])
            for i in range(count)]
    store.close()
    return runs


@pytest.mark.parametrize("place, words", [
    ("folder", "is a folder"),
    ("missing/runs.db", "does not exist"),
    ("a_file/runs.db", "does not exist"),
    ("not_a_database.db", "could not be opened and written as a SQLite file"),
])
def test_a_place_that_cannot_hold_runs_is_named_in_the_error(digits, tmp_path, place, words):
    (tmp_path / "folder").mkdir()
    (tmp_path / "a_file").write_text("notes")
    (tmp_path / "not_a_database.db").write_text("x" * 4096)
    url = f"sqlite:///{tmp_path / place}"
    with pytest.raises(ValueError, match=words) as error:
        TrainPanel(digits, storage=url)
    assert f"storage={url!r}" in str(error.value)
    assert "sqlite3" not in type(error.value).__module__


def test_an_unwritable_file_is_named(digits):
    url = "sqlite:////proc/runs.db"  # not writable even for root
    with pytest.raises(ValueError, match=r"storage='sqlite:////proc/runs.db' cannot keep runs: '/proc/runs.db'"):
        TrainPanel(digits, storage=url)


def test_a_server_url_is_refused_without_its_password(digits):
    with pytest.raises(ValueError, match="SQLite file") as error:
        TrainPanel(digits, storage="postgresql://alice:s3cret-pw@db.example.org/runs")
    assert "s3cret-pw" not in str(error.value)
    assert "postgresql://alice:***@db.example.org/runs" in str(error.value)


def test_a_password_in_the_query_string_is_hidden_too(digits):
    with pytest.raises(ValueError) as error:
        TrainPanel(digits, storage="postgresql://alice@db.example.org/runs?password=s3cret-pw&sslmode=require")
    assert "s3cret-pw" not in str(error.value) and "password=***&sslmode" in str(error.value)


@pytest.mark.parametrize("table", ["runs (id INTEGER, score REAL)", "epochs (step INTEGER, loss REAL)"])
def test_another_programs_file_is_refused_and_left_as_it_was(digits, tmp_path, table):
    with sqlite3.connect(tmp_path / "other.db") as db:
        db.execute(f"CREATE TABLE {table}")
    with pytest.raises(ValueError, match=f"holds a '{table.split()[0]}' table .* that is not a panel's"):
        TrainPanel(digits, storage=f"sqlite:///{tmp_path / 'other.db'}")
    with sqlite3.connect(tmp_path / "other.db") as db:
        assert [name for (name,) in db.execute("SELECT name FROM sqlite_master")] == [table.split()[0]]


def test_a_damaged_row_is_skipped_with_a_note_and_the_others_open(digits, tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    first, second = kept_runs(digits, url)
    with sqlite3.connect(tmp_path / "runs.db") as db:
        db.execute("UPDATE runs SET hparams = substr(hparams, 1, 20) WHERE id = ?", (first.id,))
    panel = TrainPanel(digits, storage=url)
    assert [run.name for run in panel.runs] == [second.name]
    assert f"{first.name!r} was skipped: its stored row cannot be read" in unescape(panel.message.value)
    assert panel.runs[0].history["val_accuracy"].tolist() == second.history["val_accuracy"].tolist()


def test_a_damaged_epoch_skips_its_run(digits, tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    first, second = kept_runs(digits, url)
    with sqlite3.connect(tmp_path / "runs.db") as db:
        db.execute("UPDATE epochs SET row = '{\"epoch\": 1, \"val_' WHERE run = ?", (second.id,))
    store = RunStore(url)
    assert [run.name for run in store.load(digits)] == [first.name]
    assert len(store.skipped) == 1 and second.name in store.skipped[0]


@pytest.mark.parametrize("damage", [
    "UPDATE epochs SET row = '{}' WHERE run = ?",
    "UPDATE epochs SET row = '{\"epoch\": 1, \"val_loss\": \"low\"}' WHERE run = ?",
    "UPDATE runs SET ended = 'yesterday' WHERE id = ?",
])
def test_a_row_that_parses_but_holds_the_wrong_things_is_skipped(digits, tmp_path, damage):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    first, second = kept_runs(digits, url)
    with sqlite3.connect(tmp_path / "runs.db") as db:
        db.execute(damage, (first.id,))
    panel = TrainPanel(digits, storage=url)
    assert [run.name for run in panel.runs] == [second.name]
    assert f"{first.name!r} was skipped" in unescape(panel.message.value)


def test_a_file_from_before_datasets_were_kept_opens_with_its_runs(digits, tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    kept_runs(digits, url)
    with sqlite3.connect(tmp_path / "runs.db") as db:  # the file as the earlier version wrote it
        db.execute("ALTER TABLE runs DROP COLUMN data")
        db.execute("DROP TABLE names")
    panel = TrainPanel(digits, ONE_EPOCH, storage=url)
    assert [run.name for run in panel.runs] == ["run 1", "run 2"]
    assert panel.start().name == "run 3"
    panel.wait(60)


def test_names_taken_at_once_from_two_connections_are_all_different(tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    stores = [RunStore(url), RunStore(url)]
    with ThreadPoolExecutor(8) as pool:
        names = list(pool.map(lambda i: stores[i % 2].new_name(), range(40)))
    assert sorted(names, key=lambda n: int(n.split()[1])) == [f"run {i}" for i in range(1, 41)]


def test_runs_of_another_dataset_stay_in_the_file_and_are_not_listed(digits, tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    kept_runs(digits, url)
    iris = tw.load_dataset("iris")
    panel = TrainPanel(iris, storage=url)
    assert panel.runs == []
    assert "2 run(s) trained on other data than 'iris'" in unescape(panel.message.value)
    again = TrainPanel(digits, storage=url)  # the digits panel still has them
    assert [run.name for run in again.runs] == ["run 1", "run 2"]


def test_two_panels_on_one_file_never_give_two_runs_one_name(digits, tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    left, right = TrainPanel(digits, ONE_EPOCH, storage=url), TrainPanel(digits, ONE_EPOCH, storage=url)
    names = []
    for panel in (left, right, left, right):
        names.append(panel.start().name)
        panel.wait(60)
    assert names == ["run 1", "run 2", "run 3", "run 4"]
    reopened = TrainPanel(digits, storage=url)
    assert sorted(run.name for run in reopened.runs) == names
    assert reopened.start().name == "run 5"
    reopened.wait(60)


def test_many_stored_runs_build_rows_for_the_latest_and_keep_the_rest(digits, tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    (run,) = kept_runs(digits, url, count=1)
    with sqlite3.connect(tmp_path / "runs.db") as db:
        for copy in range(1, 250):
            db.execute("INSERT INTO runs SELECT ?, ?, hparams, status, parent, first_epoch, started + ?, ended, "
                       "error, data FROM runs WHERE id = ?", (f"copy{copy}", f"run {copy + 1}", copy, run.id))
            db.execute("INSERT INTO epochs SELECT ?, epoch, row FROM epochs WHERE run = ?", (f"copy{copy}", run.id))
    panel = TrainPanel(digits, storage=url)
    table = panel.history
    assert len(panel.runs) == len(table) == 250
    assert sorted(table.row_buttons) == list(range(150, 250))  # the latest hundred have widgets
    assert table.cells(0)[0] == "run 1"  # every row's cells are kept
    assert "Show 100 earlier of 150 hidden rows" == table.earlier.description
    table.earlier.click()
    assert min(table.row_buttons) == 50
    table.row_buttons[60].click()
    assert table.selected == 60
    panel.history.select(3)  # a row without widgets loads too
    assert panel.hparams == panel.runs[3].hparams.replace(epochs=panel.hparams.epochs)
