"""Sweeps on a real Dask LocalCluster: live metrics, pruning, a cluster of its own, bad addresses,
and a worker that dies mid-trial."""

import math
import os
import time

import optuna
import pytest
import torch

import tunewidgets as tw
from tunewidgets.sweeps.executors import dask as dask_executor
from tunewidgets.sweeps.executors import make_executor
from helpers.clusters import local_dask_cluster
from helpers.waiting import TEST_TIMEOUT, wait_until

pytestmark = pytest.mark.slow

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    """Two single-thread worker processes, shut down by this handle even when a test fails."""
    with local_dask_cluster() as handles:
        yield handles


def test_client_sweep_streams_live_metrics(base, digits, cluster):
    _, client = cluster
    space = tw.Space(lr=tw.LogUniform(1e-3, 1e-1, n=2), layers=tw.IntRange(1, 2))
    sw = tw.sweep(digits, space, strategy="grid", base=base, executor=client, background=True)
    feed = sw.events.listen()
    assert sw.wait(timeout=120) == "completed"
    events = feed.drain()
    table = sw.table()
    assert len(table) == 4 and set(table["status"]) == {"complete"} and sw.best_value > 0.85
    for trial in range(4):
        epochs = [e for e in events if e.kind == "epoch" and e.values["trial"] == trial]
        end = [e for e in events if e.kind == "status" and e.values["trial"] == trial
               and e.values["status"] == "complete"]
        assert [e.epoch for e in epochs] == [1, 2, 3]
        assert all(math.isfinite(e.values["val_accuracy"]) for e in epochs)
        assert len(end) == 1 and epochs[0].time <= end[0].time  # streamed while the trial ran
    assert client.status == "running"  # a user's client is left open


def test_a_sweep_on_dask_optimizes_a_custom_metric(base, digits, cluster):
    from test_custom_metrics import check_ranked_by_top2, top2

    _, client = cluster
    sw = tw.sweep(digits, tw.Space(lr=tw.Choice([1e-3, 3e-2])), strategy="grid", base=base.replace(epochs=2),
                  executor=client, metrics={"top2": top2}, metric="val_top2")
    check_ranked_by_top2(sw, 2)


def test_pause_resume_and_a_paused_trials_curve_shows_every_epoch_it_trained(base, digits, cluster):
    """Workers gather rows (ROWS_EVERY_SECONDS) but send them all when a pause holds the trial: the rows
    the kernel has while paused are the rows the trial ends with when the sweep is then stopped."""
    from test_sweep_steering import pause_hold_resume, rows

    _, client = cluster
    sw = tw.sweep(digits, tw.Space(lr=[0.01, 0.02]), strategy="grid", base=base.replace(epochs=150),
                  executor=client, background=True)
    pause_hold_resume(sw)
    assert list(sw.table()["status"]) == ["complete"] * 2

    sw = tw.sweep(digits, tw.Space(lr=[0.01, 0.02]), strategy="grid", base=base.replace(epochs=300),
                  executor=client, background=True)
    wait_until(lambda: any(r.rows for r in sw.records()), 60, "an epoch")
    sw.pause()
    time.sleep(1.0)
    held = rows(sw)
    sw.stop()
    assert sw.wait(timeout=60) == "stopped"
    ended = rows(sw)
    for number, (status, count) in held.items():
        assert status == "running" and 0 < count < 300 and ended[number] == ("stopped", count), (held, ended)


def test_pruned_trials_stop_soon_after_the_verdict_on_a_scheduler_address(base, digits, cluster):
    """The verdict travels worker -> scheduler -> kernel -> worker while the trial trains on; a digits epoch
    takes a few milliseconds, so on a busy 2-core machine a few more epochs may pass before it lands (CI saw
    3). With a pruner, workers send every row at once (gathered rows reached the pruner 5-12 epochs late).
    What a user relies on: the trial stops long before its 40 epochs."""
    local, _ = cluster
    never_good_enough = optuna.pruners.ThresholdPruner(lower=1.01, n_warmup_steps=3)  # judges from epoch 3
    sw = tw.sweep(digits, tw.Space(lr=[0.01, 0.02]), strategy="grid", base=base.replace(epochs=40),
                  pruner=never_good_enough, executor=local.scheduler_address)
    table = sw.table()
    assert set(table["status"]) == {"pruned"}, table
    assert (table["epochs_trained"] >= 3).all() and (table["epochs_trained"] <= 12).all(), table


def test_the_kernels_cluster_starts_once_says_so_stays_warm_and_closes_on_request(base, digits):
    os.environ["OMP_NUM_THREADS"] = "2"
    threads = torch.get_num_threads()
    try:
        assert isinstance(make_executor("dask"), dask_executor.DaskExecutor)  # sized to the machine
        first = dask_executor.DaskExecutor(n_workers=2)  # the same, kept small for the test machine
        space = tw.Space(lr=[0.01, 0.05])
        sw = tw.sweep(digits, space, strategy="grid", base=base.replace(epochs=2), executor=first, start=False)
        sw.start(background=True)
        notes = set()

        def done_noting():  # every note the sweep shows on the way
            notes.add(sw.progress["note"])
            return sw.done

        wait_until(done_noting, TEST_TIMEOUT, "the sweep to end", interval=0.01)
        assert sw.wait() == "completed" and set(sw.table()["status"]) == {"complete"}
        assert "starting 2 Dask workers" in notes and sw.progress["note"] is None
        assert os.environ["OMP_NUM_THREADS"] == "2" and torch.get_num_threads() == threads  # the kernel's, back
        second = dask_executor.DaskExecutor(n_workers=2)
        assert second.start_note() is None  # warm: nothing to start
        started = time.perf_counter()
        again = tw.sweep(digits, space, strategy="grid", base=base.replace(epochs=2), executor=second)
        assert set(again.table()["status"]) == {"complete"} and time.perf_counter() - started < 3
        assert second.client is first.client and first.cluster.status.name == "running"
        tw.sweeps.close_workers()
        assert first.cluster.status.name == "closed"
    finally:
        os.environ.pop("OMP_NUM_THREADS", None)


def test_unreachable_scheduler_is_a_clear_error_before_any_trial(digits, monkeypatch):
    monkeypatch.setattr(dask_executor, "CONNECT_TIMEOUT", 1.0)
    started = time.perf_counter()
    with pytest.raises(ConnectionError, match="cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
        tw.sweep(digits, tw.Space(lr=[0.01]), executor="tcp://127.0.0.1:9", storage=None)
    assert time.perf_counter() - started < 30


def test_a_worker_that_dies_mid_trial_is_retried_and_the_sweep_finishes(base, digits, cluster, tmp_path):
    _, client = cluster
    marker = str(tmp_path / "died-once")

    def dies_once(hparams, data):
        from tunewidgets.engine.builtin.models import build_model

        if hparams.lr == 0.02 and not os.path.exists(marker):
            open(marker, "w").close()
            time.sleep(3)  # Dask's memory manager (every 2 s) has dropped extra copies of the trial's data
            os._exit(1)  # the worker process dies in the middle of its task
        return build_model(hparams.replace(model="mlp"), data)

    sw = tw.sweep(digits, tw.Space(lr=[0.01, 0.02]), strategy="grid", base=base.replace(epochs=2, model=dies_once),
                  executor=client)
    assert os.path.exists(marker)
    table = sw.table()
    # Dask reschedules the task on a live worker (a dead worker again would fail the trial).
    assert list(table["status"]) == ["complete", "complete"], table
    assert sw.status == "completed"
