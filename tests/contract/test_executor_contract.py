"""What every sweep executor promises, checked on each of "thread", "process", "dask" and "batched".

A user picks an executor for speed, not for behaviour: ranking, custom metrics, pruning, pause and
resume, stop, failing trials, storage and live rows must hold on all four. Each promise is one test,
parametrized over the executors, with real digits training, a real SQLite file and a real Dask
LocalCluster (one per module). The process and Dask cases are ``slow``; thread and batched stay quick.
"""

from __future__ import annotations

import math
import time

import pytest
from torch import nn

import tunewidgets as tw
from tunewidgets.sweeps import BatchedExecutor
from helpers.clusters import local_dask_cluster
from helpers.waiting import wait_for

EXECUTORS = [
    "thread",
    "batched",
    pytest.param("process", marks=pytest.mark.slow),
    pytest.param("dask", marks=pytest.mark.slow),
]

IN_WORKERS = ("process", "dask")  # trials train in other processes: rows and verdicts travel


@pytest.fixture(scope="module")
def dask_client():
    """Two single-thread worker processes for every Dask case of this module, closed by this handle
    even when a test fails (the kernel's warm-cluster clean-up does not own a user's client)."""
    pytest.importorskip("distributed")
    with local_dask_cluster() as (_, client):
        yield client


class Executor:
    """One executor kind: ``new()`` gives what ``tw.sweep(executor=...)`` takes for it (a fresh one each
    call; for Dask, a client of this module's cluster)."""

    def __init__(self, name, client=None):
        self.name, self.client = name, client

    @property
    def in_workers(self):
        return self.name in IN_WORKERS

    def new(self, group_size=None):
        if self.name == "batched":
            return BatchedExecutor(group_size or "auto")
        if self.name == "dask":
            return self.client
        return self.name

    def __repr__(self):
        return self.name


@pytest.fixture(params=EXECUTORS)
def executor(request):
    """The executor under test; the Dask cluster starts only for the Dask cases."""
    client = request.getfixturevalue("dask_client") if request.param == "dask" else None
    return Executor(request.param, client)


def small_mlp_unless_16_units(hp, data):
    """Raises for units=16 only (a bug in a user's factory); builds a small MLP otherwise."""
    if hp.units == 16:
        raise RuntimeError("units=16 breaks this model on purpose")
    return nn.Sequential(nn.Linear(data.input_shape[0], hp.units), nn.ReLU(), nn.Linear(hp.units, data.n_outputs))


# ---- 1. ranking ---------------------------------------------------------------------------------------
def test_a_sweep_trains_real_models_and_ranks_them_best_first(base, digits, executor):
    """The table is what a user reads first: best trial on top, and that trial really learned."""
    space = tw.Space(lr=[1e-5, 1e-3, 1e-2])  # 1e-5 barely moves in 3 epochs: a clearly worse trial
    sw = tw.sweep(digits, space, strategy="grid", base=base, executor=executor.new(), quiet=True)
    assert sw.status == "completed"
    table = sw.table()
    assert len(table) == 3 and set(table["status"]) == {"complete"}, table
    assert list(table["rank"]) == [1, 2, 3] and table["val_accuracy"].is_monotonic_decreasing, table
    assert (table["epochs_trained"] == 3).all()
    top = table.iloc[0]
    assert sw.best_value == top["val_accuracy"] > 0.85  # ten classes: chance is 0.1
    assert table["val_accuracy"].iloc[-1] < top["val_accuracy"] - 0.2, table  # the ranking separates them
    assert table["lr"].iloc[-1] == 1e-5 and sw.best == base.replace(lr=top["lr"])
    for trial, rows in sw.runs.items():
        assert list(rows["epoch"]) == [1, 2, 3]
        assert rows["val_accuracy"].max() == table.set_index("trial").loc[trial, "val_accuracy"]


# ---- 2. custom metrics --------------------------------------------------------------------------------
def test_a_custom_metric_is_computed_on_every_executor_and_ranks_the_table(base, digits, executor):
    """``metrics={name: fn}`` must reach wherever trials train (worker processes included) and be the
    objective with ``metric="val_<name>"``."""
    top2 = lambda out, y: (out.topk(2, dim=1).indices == y[:, None]).any(dim=1).float().mean()  # noqa: E731
    sw = tw.sweep(digits, tw.Space(lr=[1e-4, 3e-2]), strategy="grid", base=base.replace(epochs=2),
                  executor=executor.new(), metrics={"top2": top2}, metric="val_top2", quiet=True)
    table = sw.table()
    assert sw.metric == "val_top2" and sw.direction == "maximize"
    assert list(table.columns[:4]) == ["rank", "trial", "status", "val_top2"]
    assert len(table) == 2 and set(table["status"]) == {"complete"}, table
    assert table["val_top2"].is_monotonic_decreasing and table["val_top2"].iloc[0] > table["val_top2"].iloc[1]
    for trial, rows in sw.runs.items():
        # it really is top-2 accuracy: never below top-1, at most 1, and the table keeps its best epoch
        assert (rows["val_top2"] >= rows["val_accuracy"]).all() and rows["val_top2"].max() <= 1.0
        assert rows["val_top2"].max() == table.set_index("trial").loc[trial, "val_top2"]
    assert sw.best_value == table["val_top2"].iloc[0] > 0.9 and sw.best.lr == 3e-2


# ---- 3. pruning ---------------------------------------------------------------------------------------
def test_the_median_pruner_prunes_bad_trials_and_keeps_the_finished_ones(base, digits, executor):
    """Four good trials run first, then four that cannot learn: the median pruner (3 startup trials)
    stops bad ones early. Workers get the verdict a few epochs late, so trials are long enough (20
    epochs) for "early" to show. Batched groups of 2 so that good groups finish before bad ones start."""
    epochs = 20
    sw = tw.sweep(digits, tw.Space(lr=tw.LogUniform(1e-6, 1e-1)), strategy="random", n_trials=8, seed=0,
                  base=base.replace(epochs=epochs, optimizer="sgd"), pruner="median",
                  executor=executor.new(group_size=2), start=False, quiet=True)
    # The good trials are one configuration four times: each learns exactly as the others, so none is
    # ever worse than their median (with four different rates a good one could dip below it by chance,
    # and the median pruner rightly stopped it).
    for lr in (0.05, 0.05, 0.05, 0.05, 1e-6, 1.1e-6, 1.2e-6, 1.3e-6):
        sw.study.enqueue_trial({"lr": lr})
    sw.start()
    assert sw.status == "completed"
    table = sw.table()
    assert len(table) == 8 and set(table["status"]) <= {"complete", "pruned"}, table
    good, bad = table[table["lr"] > 1e-3], table[table["lr"] < 1e-3]
    assert (good["status"] == "complete").all() and (good["epochs_trained"] == epochs).all(), table
    assert (bad["status"] == "pruned").sum() >= 2, table
    pruned = table[table["status"] == "pruned"]
    assert (pruned["lr"] < 1e-3).all() and (pruned["epochs_trained"] < epochs).all(), table
    statuses = list(table["status"])
    assert statuses.index("pruned") > max(i for i, s in enumerate(statuses) if s == "complete")  # ranked after
    assert sw.best_value > 0.85 and sw.progress["pruned"] == len(pruned)


# ---- 4. pause and resume ------------------------------------------------------------------------------
def rows_by_trial(sw):
    return {r.number: (r.status, len(r.rows)) for r in sw.records()}


def test_a_paused_sweep_holds_and_resumed_finishes(base, digits, executor):
    """Pausing frees the machine for a while without losing the sweep: no epoch and no new trial while
    paused (workers hold at their epoch's end, a batched group as a whole), and resume() finishes it."""
    epochs = 150 if executor.in_workers else 40
    sw = tw.sweep(digits, tw.Space(lr=[0.01, 0.02, 0.03]), strategy="grid", base=base.replace(epochs=epochs),
                  executor=executor.new(group_size=2), background=True, quiet=True)
    assert wait_for(lambda: any(r.rows for r in sw.records()), timeout=60), "no epoch arrived"
    sw.pause()
    assert sw.status == "paused" and sw.progress["running"] >= 1
    time.sleep(1.0)  # the pause reaches the trials (workers: at their epoch's end; gathered rows arrive)
    held = rows_by_trial(sw)
    time.sleep(1.5)
    assert rows_by_trial(sw) == held, "a paused sweep trained on or started a trial"
    assert any(count < epochs for _, count in held.values()) and sw.status == "paused"
    sw.resume()
    assert sw.status == "running"
    assert sw.wait(timeout=120) == "completed"
    table = sw.table()
    assert len(table) == 3 and set(table["status"]) == {"complete"}, table
    assert (table["epochs_trained"] == epochs).all()


# ---- 5. stop ------------------------------------------------------------------------------------------
def test_stop_keeps_the_finished_trials(base, digits, executor):
    """Stopping a sweep ends what runs, starts nothing more, and keeps every finished trial's row."""
    epochs = 40
    sw = tw.sweep(digits, tw.Space(lr=[0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08]), strategy="grid",
                  base=base.replace(epochs=epochs), executor=executor.new(group_size=2), start=False, quiet=True)
    finished = []
    sw.events.subscribe(lambda e: finished.append(e.values["trial"]) if e.kind == "status"
                        and e.values["status"] == "complete" else None)
    sw.start(background=True)
    assert wait_for(lambda: finished, timeout=60), "no trial finished"
    sw.stop()
    assert sw.wait(timeout=60) == "stopped"
    done = list(finished)
    table = sw.table().set_index("trial")
    assert set(table["status"]) <= {"complete", "stopped"}, table  # nothing left running
    assert len(table) < 8, table  # the stop came before the plan ended
    for trial in done:
        assert table.loc[trial, "status"] == "complete" and table.loc[trial, "epochs_trained"] == epochs
        assert table.loc[trial, "val_accuracy"] > 0.85 and len(sw.runs[trial]) == epochs
    assert sw.best_trial.number in done


# ---- 6. failing trials --------------------------------------------------------------------------------
def test_a_failing_trial_never_kills_the_sweep(base, digits, executor):
    """A trial whose model raises (units=16) or whose training diverges (lr=100) ends failed with its
    reason; the other trials complete and the sweep ends completed, failed trials ranked last.
    Batched: the units=32 trials train as one group, the units=16 ones fall back one by one."""
    space = tw.Space(lr=[0.2, 0.3, 100.0], units=[32, 16])
    sw = tw.sweep(digits, space, strategy="grid", base=base.replace(optimizer="sgd", model=small_mlp_unless_16_units),
                  executor=executor.new(), quiet=True)
    assert sw.status == "completed"
    table = sw.table()
    assert len(table) == 6, table
    by = table.set_index(["units", "lr"])
    assert list(by.loc[[(32, 0.2), (32, 0.3)], "status"]) == ["complete", "complete"], table
    assert (by.loc[[(32, 0.2), (32, 0.3)], "epochs_trained"] == 3).all()
    assert by.loc[(32, 100.0), "status"] == "failed" and by.loc[(32, 100.0), "error"].startswith("diverged"), table
    raised = by.loc[16]
    assert (raised["status"] == "failed").all(), table
    assert raised["error"].str.contains("units=16 breaks this model on purpose").all(), table
    assert list(table["status"]) == ["complete", "complete"] + ["failed"] * 4  # failed ranked last, kept
    assert sw.best.units == 32 and sw.best.lr in (0.2, 0.3) and sw.best_value > 0.85
    assert sw.progress["failed"] == 4 and sw.progress["complete"] == 2


# ---- 7. storage and resume ----------------------------------------------------------------------------
def test_a_stored_sweep_loads_back_and_resumes_on_the_same_executor(base, digits, executor, tmp_path):
    """A sweep in a SQLite file outlives the kernel: tw.load_sweep gives the same table, and .resume()
    runs more trials with the same kind of executor, all kept in the file."""
    url = "sqlite:///" + str(tmp_path / "contract.db")
    key = ["rank", "trial", "status", "val_accuracy", "epochs_trained", "lr"]
    first = tw.sweep(digits, tw.Space(lr=tw.LogUniform(1e-3, 1e-1)), strategy="random", n_trials=2, seed=0,
                     base=base.replace(epochs=2), executor=executor.new(), storage=url, name="contract", quiet=True)
    assert (tmp_path / "contract.db").exists() and set(first.table()["status"]) == {"complete"}
    again = executor.new(group_size=2)
    loaded = tw.load_sweep(url, "contract", executor=again)
    assert loaded.status == "loaded" and loaded.table()[key].equals(first.table()[key])
    assert loaded.resume(2, data=digits) is loaded
    assert loaded.status == "completed"
    table = loaded.table().set_index("trial")
    assert sorted(table.index) == [0, 1, 2, 3] and set(table["status"]) == {"complete"}, table
    assert (table["epochs_trained"] == 2).all() and table["val_accuracy"].min() > 0.5
    before = first.table().set_index("trial")
    for trial in (0, 1):  # what was stored is kept as it was
        assert table.loc[trial, "val_accuracy"] == before.loc[trial, "val_accuracy"]
        assert table.loc[trial, "lr"] == before.loc[trial, "lr"]
    assert {table.loc[2, "lr"], table.loc[3, "lr"]}.isdisjoint({before.loc[0, "lr"], before.loc[1, "lr"]})
    if executor.name == "batched":
        assert again.groups == [[2, 3]]  # the resumed trials trained as a group
    reread = tw.load_sweep(url, "contract")
    assert reread.table()[key].equals(loaded.table()[key])  # the resumed trials are in the file too


# ---- 8. live rows -------------------------------------------------------------------------------------
def test_each_trials_epochs_stream_while_the_sweep_runs(base, digits, executor):
    """Live plots and tables rely on epochs arriving as trials train, not at the end: a subscriber
    added before start() sees every epoch of every trial, in order, before that trial completes,
    and the table shows a running trial's rows meanwhile."""
    epochs = 40
    sw = tw.sweep(digits, tw.Space(lr=[0.01, 0.03]), strategy="grid", base=base.replace(epochs=epochs),
                  executor=executor.new(), start=False, quiet=True)
    feed = sw.events.listen()
    seen = []
    sw.events.subscribe(lambda e: seen.append(e) if e.kind == "epoch" else None)
    sw.start(background=True)
    assert wait_for(lambda: seen, timeout=60), "no epoch arrived"
    live = sw.table()
    assert not sw.done, "the first epoch arrived only after the sweep ended"
    running = live[live["status"] == "running"]
    assert len(running) >= 1 and (running["epochs_trained"] >= 1).any(), live
    assert sw.wait(timeout=120) == "completed"
    events = feed.drain()
    for trial in (0, 1):
        mine = [(i, e) for i, e in enumerate(events) if e.values.get("trial") == trial]
        epoch_events = [e for _, e in mine if e.kind == "epoch"]
        assert [e.epoch for e in epoch_events] == list(range(1, epochs + 1))
        assert all(math.isfinite(e.values["val_accuracy"]) for e in epoch_events)
        statuses = [(i, e.values["status"]) for i, e in mine if e.kind == "status"]
        assert [s for _, s in statuses] == ["running", "complete"], statuses
        last_epoch = max(i for i, e in mine if e.kind == "epoch")
        assert statuses[0][0] < last_epoch < statuses[1][0]  # streamed between the trial's start and end
        rows = sw.runs[trial]
        assert list(rows["val_accuracy"]) == [e.values["val_accuracy"] for e in epoch_events]
