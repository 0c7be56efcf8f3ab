"""Sweeps kept in a real SQLite file: reload in a fresh process, resume, bad storage, stopping."""

import pickle
import subprocess
import sys
import textwrap

import optuna
import pandas as pd
import pytest

import tunewidgets as tw





def in_fresh_process(code: str, tmp_path) -> dict:
    """Run ``code`` in a new interpreter (a kernel restart); it leaves ``result`` in out.pkl."""
    out = tmp_path / "out.pkl"
    script = "import pickle, torch, tunewidgets as tw\ntorch.set_num_threads(1)\n" + textwrap.dedent(code) + \
        f"\npickle.dump(result, open({str(out)!r}, 'wb'))\n"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return pickle.loads(out.read_bytes())


@pytest.mark.slow
def test_reload_in_a_fresh_process_gives_the_same_table_and_curves(base, digits, tmp_path):
    url = f"sqlite:///{tmp_path / 'sweeps.db'}"
    space = tw.Space(lr=tw.Choice([0.01, 0.1]), batch_size=tw.Choice([128, 5000]))
    sw = tw.sweep(digits, space, strategy="grid", base=base, storage=url, name="digits-grid", pruner="median")
    live_table, live_curves = sw.table(), sw.curves()
    assert list(live_table["status"]).count("failed") == 2

    loaded = in_fresh_process(f"""
        sw = tw.load_sweep({url!r}, "digits-grid")
        result = {{"table": sw.table(), "curves": sw.curves(), "best": sw.best, "status": sw.status,
                   "runs": sw.runs}}
    """, tmp_path)
    pd.testing.assert_frame_equal(loaded["table"], live_table)
    pd.testing.assert_frame_equal(loaded["curves"], live_curves)
    assert loaded["best"] == sw.best and loaded["status"] == "loaded"
    for number, history in sw.runs.items():
        pd.testing.assert_frame_equal(loaded["runs"][number], history)
    # A plain Optuna study: the curve is in the intermediate values too (optuna-dashboard shows it).
    study = optuna.load_study(study_name="digits-grid", storage=url)
    best = study.best_trial
    assert best.value == live_table["val_accuracy"].iloc[0]
    assert max(best.intermediate_values.values()) == best.value


@pytest.mark.slow
def test_resume_adds_trials(base, digits, tmp_path):
    url = f"sqlite:///{tmp_path / 'resume.db'}"
    space = tw.Space(lr=tw.LogUniform(1e-3, 1e-1), layers=tw.IntRange(1, 3))
    first = tw.sweep(digits, space, strategy="random", n_trials=2, base=base.replace(epochs=1), storage=url,
                     name="r", seed=3)
    before = first.table()

    resumed = in_fresh_process(f"""
        sw = tw.load_sweep({url!r})
        sw.resume(2, data=tw.load_dataset("digits"))
        result = {{"table": sw.table(), "status": sw.status}}
    """, tmp_path)
    table = resumed["table"]
    assert resumed["status"] == "completed"
    assert sorted(table["trial"]) == [0, 1, 2, 3] and set(table["status"]) == {"complete"}
    old = table[table["trial"] < 2].sort_values("trial").reset_index(drop=True)
    pd.testing.assert_frame_equal(old.drop(columns="rank"),
                                  before.sort_values("trial").reset_index(drop=True).drop(columns="rank"))
    new_lrs = set(table[table["trial"] >= 2]["lr"])
    assert not new_lrs & set(before["lr"])  # the resumed search did not repeat itself
    assert len(tw.load_sweep(url, "r").table()) == 4


def test_resuming_a_grid_runs_only_the_points_left(base, digits, tmp_path):
    url = f"sqlite:///{tmp_path / 'grid.db'}"
    space = tw.Space(lr=tw.Choice([0.01, 0.02, 0.05]))
    tw.sweep(digits, space, strategy="grid", n_trials=2, base=base.replace(epochs=1), storage=url, name="g")
    sw = tw.load_sweep(url, "g").resume(data=digits)
    assert sorted(sw.table()["lr"]) == [0.01, 0.02, 0.05]
    with pytest.raises(ValueError, match="the grid is complete"):
        sw.resume(data=digits)


def test_loaded_sweep_needs_data_to_resume(base, digits, tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    tw.sweep(digits, tw.Space(lr=[0.01]), strategy="grid", base=base.replace(epochs=1), storage=url, name="x")
    with pytest.raises(ValueError, match="pass data="):
        tw.load_sweep(url, "x").resume(1)


@pytest.mark.parametrize("storage", ["notadb://nowhere", "sqlite:////no/such/dir/sweeps.db"])
def test_invalid_storage_is_a_clear_error_before_any_trial(digits, storage):
    with pytest.raises(ValueError, match="storage=.* is not usable"):
        tw.sweep(digits, tw.Space(lr=[0.01]), storage=storage)


def test_taken_name_and_missing_name(base, digits, tmp_path):
    url = f"sqlite:///{tmp_path / 'n.db'}"
    tw.sweep(digits, tw.Space(lr=[0.01]), strategy="grid", base=base.replace(epochs=1), storage=url, name="n")
    with pytest.raises(ValueError, match="name='n' is taken"):
        tw.sweep(digits, tw.Space(lr=[0.01]), storage=url, name="n")
    with pytest.raises(ValueError, match="name='m' is not in"):
        tw.load_sweep(url, "m")


def test_stopping_leaves_finished_trials_in_storage(base, digits, tmp_path):
    url = f"sqlite:///{tmp_path / 'stop.db'}"
    space = tw.Space(lr=[0.01, 0.02, 0.05, 0.1])
    sw = tw.sweep(digits, space, strategy="grid", base=base.replace(epochs=5), storage=url, name="s",
                  background=True)

    def stop_during_the_second_trial(event):
        if event.kind == "epoch" and event.values["trial"] == 1:
            sw.stop()

    sw.events.subscribe(stop_during_the_second_trial)
    assert sw.wait(timeout=60) == "stopped"
    table = tw.load_sweep(url, "s").table()
    assert list(table["status"]) == ["complete", "stopped"]
    assert list(table["epochs_trained"]) == [5, 1]
    assert table["error"].iloc[1] == "stopped by sweep.stop()"
    pd.testing.assert_frame_equal(table, sw.table())
