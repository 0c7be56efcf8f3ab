"""Sweeps on real digits training: strategies, pruners, thread and process executors, failures,
stopping, ranking and metric overrides."""

import math
import os
import threading
import time

import optuna
import pytest

import tunewidgets as tw
from tunewidgets.sweeps.executors import ProcessExecutor, make_executor
from tunewidgets.sweeps.protocol import Channel, Executor
from helpers.waiting import wait_for





def test_grid_sweep_learns_and_ranks(base, digits):
    space = tw.Space(lr=tw.LogUniform(1e-3, 1e-1, n=2), layers=tw.IntRange(1, 2))
    sw = tw.sweep(digits, space, strategy="grid", base=base)
    assert sw.status == "completed" and sw.done
    table = sw.table()
    assert list(table.columns[:8]) == ["rank", "trial", "status", "val_accuracy", "epochs_trained", "seconds", "lr", "layers"]
    assert len(table) == 4 and set(table["status"]) == {"complete"}
    assert sorted((r.lr, r.layers) for r in table.itertuples()) == [(1e-3, 1), (1e-3, 2), (1e-1, 1), (1e-1, 2)]
    assert list(table["rank"]) == [1, 2, 3, 4]
    assert table["val_accuracy"].is_monotonic_decreasing
    assert (table["epochs_trained"] == 3).all() and (table["seconds"] > 0).all()
    top = table.iloc[0]
    assert sw.best_value == top["val_accuracy"] > 0.85  # it really trained
    assert sw.best == base.replace(lr=top["lr"], layers=int(top["layers"]))
    runs = sw.runs
    assert set(runs) == {0, 1, 2, 3}
    assert runs[top["trial"]]["val_accuracy"].max() == top["val_accuracy"]
    curves = sw.curves()
    assert len(curves) == 12 and {"trial", "status", "epoch", "val_accuracy", "train_loss"} <= set(curves.columns)
    assert sw.progress | {"elapsed": 0} == {"n_trials": 4, "done": 4, "complete": 4, "pruned": 0, "stopped": 0,
                                            "failed": 0, "interrupted": 0, "running": 0, "elapsed": 0,
                                            "note": None}
    elapsed = sw.progress["elapsed"]
    time.sleep(0.05)
    assert 0 < sw.progress["elapsed"] == elapsed  # a finished sweep's clock stops


@pytest.mark.parametrize("strategy", ["random", "bayes", "gp"])
def test_each_strategy_samples_the_space(base, digits, strategy):
    space = tw.Space(lr=tw.LogUniform(1e-3, 1e-1), optimizer=tw.Choice(["sgd", "adam"]))
    sw = tw.sweep(digits, space, strategy=strategy, n_trials=3, base=base.replace(epochs=1), seed=1)
    table = sw.table()
    assert len(table) == 3 and set(table["status"]) == {"complete"}
    assert table["lr"].between(1e-3, 1e-1).all() and set(table["optimizer"]) <= {"sgd", "adam"}
    expected = {"random": "RandomSampler", "bayes": "TPESampler", "gp": "GPSampler"}[strategy]
    assert type(sw.study.sampler).__name__ == expected


def test_seeded_random_sweep_repeats(base, digits):
    space = tw.Space(lr=tw.LogUniform(1e-3, 1e-1), layers=tw.IntRange(1, 3))
    one = tw.sweep(digits, space, strategy="random", n_trials=2, base=base.replace(epochs=1), seed=7)
    two = tw.sweep(digits, space, strategy="random", n_trials=2, base=base.replace(epochs=1), seed=7)
    key = ["trial", "lr", "layers", "val_accuracy"]
    assert one.table()[key].sort_values("trial").equals(two.table()[key].sort_values("trial"))


@pytest.mark.parametrize("pruner", ["median", "halving", "hyperband"])
def test_each_pruner_saves_epochs(base, digits, pruner):
    epochs, n = 5, 7
    base = base.replace(epochs=epochs, optimizer="sgd")
    sw = tw.sweep(digits, tw.Space(lr=tw.LogUniform(1e-4, 1.0)), strategy="random", n_trials=n, base=base,
                  pruner=pruner, seed=0)
    table = sw.table()
    pruned = table[table["status"] == "pruned"]
    assert len(pruned) >= 1, table
    assert (pruned["epochs_trained"] < epochs).all()
    assert table["epochs_trained"].sum() < n * epochs  # the evidence: fewer epochs than the same sweep unpruned
    # In the kernel, a pruned trial stops right after the epoch that was judged.
    for trial in sw.study.trials:
        if trial.state == optuna.trial.TrialState.PRUNED:
            assert len(trial.intermediate_values) == len(sw.runs[trial.number])
    ranked = list(table["status"])
    assert ranked.index("pruned") > max(i for i, s in enumerate(ranked) if s == "complete")


@pytest.mark.slow
def test_process_executor_streams_and_prunes(base, digits):
    """Two spawn processes; a Threshold pruner that prunes at epoch 3 proves stop flags reach workers."""
    never_good_enough = optuna.pruners.ThresholdPruner(lower=1.01, n_warmup_steps=3)  # judges from epoch 3
    space = tw.Space(lr=tw.Choice([0.01, 0.02]))
    assert make_executor("process").slots == os.cpu_count()  # "process": one worker per core
    executor = ProcessExecutor(n_workers=2)
    assert isinstance(executor, Executor)
    sw = tw.sweep(digits, space, strategy="grid", base=base.replace(epochs=30), pruner=never_good_enough,
                  executor=executor, background=True)
    feed = sw.events.listen()
    assert sw.wait(timeout=120) == "completed"
    events = feed.drain()
    table = sw.table()
    assert set(table["status"]) == {"pruned"}, table
    # Judged at epoch 3; the stop reaches the worker while it trains on (milliseconds per digits epoch), so
    # on a busy machine a few more epochs may pass; it still stops long before its 30.
    assert (table["epochs_trained"] >= 3).all() and (table["epochs_trained"] <= 12).all(), table
    epoch_events = [e for e in events if e.kind == "epoch"]
    assert {e.values["trial"] for e in epoch_events} == {0, 1}
    assert all(math.isfinite(e.values["val_accuracy"]) for e in epoch_events)
    from tunewidgets.sweeps.executors import process, warm

    for pool in executor.workers_set.pools:  # kept warm for the next sweep, without this sweep's data
        with pytest.raises(KeyError):
            pool.submit(process.run_in_worker, 0, {}).result(timeout=30)
    assert warm.has_idle_slots(2, 1)


def test_failing_trials_are_kept_and_ranked_last(base, digits):
    space = tw.Space(lr=tw.Choice([0.01, 100.0]), batch_size=tw.Choice([128, 5000]))
    sw = tw.sweep(digits, space, strategy="grid", base=base.replace(epochs=2, optimizer="sgd"))
    table = sw.table()
    assert len(table) == 4
    assert list(table["status"]) == ["complete", "failed", "failed", "failed"]
    assert list(table["rank"]) == [1, 2, 2, 2]
    errors = table["error"].iloc[1:].tolist()
    assert sum("batch_size=5000 is not allowed" in e for e in errors) == 2
    assert sum(e.startswith("diverged") for e in errors) == 1
    assert table["error"].iloc[0] == ""
    assert sw.best.lr == 0.01 and sw.best.batch_size == 128
    failed = [t for t in sw.study.trials if t.state == optuna.trial.TrialState.FAIL]
    assert len(failed) == 3


def test_stop_a_background_sweep(base, digits):
    space = tw.Space(lr=tw.LogUniform(1e-3, 1e-1, n=5), layers=tw.IntRange(1, 4))
    sw = tw.sweep(digits, space, strategy="grid", base=base.replace(epochs=200), background=True)
    feed = sw.events.listen()
    wait_for(lambda: any(e.kind == "epoch" for e in feed.drain()), 30, interval=0.05)
    assert sw.status == "running" and sw.progress["running"] == 1
    started = time.perf_counter()
    sw.stop()
    assert sw.wait(timeout=30) == "stopped"
    assert time.perf_counter() - started < 5
    table = sw.table()
    assert len(table) == 1 and table["status"].iloc[0] == "stopped"
    assert 1 <= table["epochs_trained"].iloc[0] < 200
    assert sw.study.trials[0].state == optuna.trial.TrialState.PRUNED  # ended early, not left running
    assert threading.active_count() < 50


def test_metric_and_direction_override(base, digits):
    space = tw.Space(lr=tw.Choice([1e-3, 1e-1]))
    by_loss = tw.sweep(digits, space, strategy="grid", base=base.replace(epochs=2), metric="val_loss")
    assert by_loss.direction == "minimize" and by_loss.study.direction.name == "MINIMIZE"
    table = by_loss.table()
    assert "val_loss" in table.columns and table["val_loss"].is_monotonic_increasing
    worst = tw.sweep(digits, space, strategy="grid", base=base.replace(epochs=2), metric="val_accuracy",
                     direction="minimize")
    assert worst.table()["val_accuracy"].is_monotonic_increasing
    assert worst.best.lr != tw.sweep(digits, space, strategy="grid", base=base.replace(epochs=2)).best.lr


def test_regression_defaults_to_val_loss(base, regression_data):
    sw = tw.sweep(regression_data, tw.Space(lr=[1e-3, 1e-2]), strategy="grid", base=base.replace(epochs=2))
    assert (sw.metric, sw.direction) == ("val_loss", "minimize")
    assert sw.table()["val_loss"].is_monotonic_increasing


@pytest.mark.parametrize("kwargs, words", [
    ({"strategy": "annealing"}, ["strategy='annealing'", "grid"]),
    ({"pruner": "percentile"}, ["pruner='percentile'", "median"]),
    ({"n_trials": 0}, ["n_trials=0", ">= 1"]),
    ({"metric": "val_r2"}, ["metric='val_r2'", "val_accuracy"]),
    ({"direction": "up"}, ["direction='up'", "maximize"]),
    ({"executor": "gpu-farm"}, ["executor='gpu-farm'", "thread"]),
    ({"base": {"lr": -1}}, ["lr=-1", "> 0"]),
    ({"space": {"lr": tw.LogUniform(0, 1)}}, ["lr", "low > 0"]),
])
def test_bad_arguments_fail_before_any_trial(digits, kwargs, words):
    args = {"space": tw.Space(lr=[0.01]), **kwargs}
    with pytest.raises(ValueError) as info:
        tw.sweep(digits, **args)
    for word in words:
        assert word in str(info.value), str(info.value)


def test_a_subscriber_before_start_receives_every_event(base, digits):
    sw = tw.sweep(digits, tw.Space(lr=[0.01, 0.02]), strategy="grid", base=base.replace(epochs=2), start=False)
    assert sw.status == "pending" and sw.progress["n_trials"] == 2 and not sw.records()
    feed = sw.events.listen()
    assert sw.start(background=True) is sw
    assert sw.wait(timeout=60) == "completed"
    events = feed.drain()
    epochs = [(e.values["trial"], e.epoch) for e in events if e.kind == "epoch"]
    assert sorted(epochs) == [(0, 1), (0, 2), (1, 1), (1, 2)]
    statuses = [(e.values["trial"], e.values["status"]) for e in events if e.kind == "status"]
    assert sorted(statuses) == [(0, "complete"), (0, "running"), (1, "complete"), (1, "running")]
    with pytest.raises(RuntimeError, match="start"):
        sw.start()


def test_the_table_says_what_each_trial_cost(base, digits):
    sw = tw.sweep(digits, tw.Space(units=[8, 512]), strategy="grid", base=base.replace(epochs=2, layers=2))
    table = sw.table().set_index("units")
    assert (table["seconds_per_epoch"] > 0).all() and (table["seconds_per_epoch"] <= table["seconds"] / 2).all()
    assert (table["peak_memory_mib"] >= 0).all()
    for record in sw.records():
        assert record.extra["seconds_per_epoch"] == pytest.approx(sum(r["seconds"] for r in record.rows) / 2)


def test_the_best_trial_is_public(base, digits):
    sw = tw.sweep(digits, tw.Space(lr=[1e-3, 3e-2]), strategy="grid", base=base.replace(epochs=2))
    best = sw.best_trial
    table = sw.table()
    assert best.number == table["trial"].iloc[0] and best.value == sw.best_value == table["val_accuracy"].iloc[0]
    assert best.params == sw.best_params and len(best.rows) == 2
    assert sw.best == base.replace(epochs=2, **best.params)


class ResultsOnlyExecutor:
    """Trains each trial at once, with a channel that loses every live epoch: rows come with the result
    only (as when a worker's last messages arrive after its result)."""

    slots = 1

    class SilentChannel(Channel):  # pausing and steering keep Channel's defaults: it does neither
        def send(self, number, row):
            pass

        def stop_status(self, number):
            return None

    def open(self, train_trial):
        self.train_trial = train_trial

    def submit(self, jobs):
        from concurrent.futures import Future

        futures = [Future() for _ in jobs]
        for future, job in zip(futures, jobs):
            future.set_result(self.train_trial(job.number, job.params, self.SilentChannel()))
        return futures

    def close(self):
        pass


def test_epochs_that_come_only_with_the_result_are_recorded_and_given_to_optuna(base, digits):
    sw = tw.sweep(digits, tw.Space(lr=[0.01, 0.02]), strategy="grid", base=base.replace(epochs=3),
                  executor=ResultsOnlyExecutor(), start=False)
    feed = sw.events.listen()
    sw.start()
    table = sw.table()
    assert set(table["status"]) == {"complete"} and (table["epochs_trained"] == 3).all()
    assert [len(t.intermediate_values) for t in sw.study.trials] == [3, 3]
    # The live plots get those epochs too, in order and before the trial's status
    events = feed.drain()
    for trial in (0, 1):
        mine = [(e.kind, e.epoch) for e in events if e.values.get("trial") == trial and e.kind in ("epoch", "status")]
        assert mine[-4:] == [("epoch", 1), ("epoch", 2), ("epoch", 3), ("status", 3)], mine


def test_a_remote_trial_that_starts_while_its_sweep_is_paused_waits_before_its_first_epoch(base, digits):
    """A Dask worker can steal a queued trial from a busy worker while the sweep is paused: the trial
    must hold before training, not train an epoch first."""
    from tunewidgets.sweeps.trials import TorchTrial

    class PausedChannel(ResultsOnlyExecutor.SilentChannel):
        def __init__(self):
            self.rows, self.pause = [], threading.Event()
            self.pause.set()

        def send(self, number, row):
            self.rows.append(row)

        def paused(self, number):
            return self.pause.is_set()

    trial, params = TorchTrial(data=digits), base.replace(epochs=2).to_dict()
    unpaused = PausedChannel()
    unpaused.pause.clear()
    started = time.perf_counter()
    trial(0, params, unpaused)  # also warms torch up: a first trial in a process takes about a second
    took = time.perf_counter() - started

    channel, result = PausedChannel(), []
    worker = threading.Thread(target=lambda: result.append(trial(1, params, channel)))
    worker.start()
    try:
        time.sleep(3 * took + 0.5)  # time for the whole trial, had it not waited
        assert channel.rows == [] and worker.is_alive()
    finally:
        channel.pause.clear()
        worker.join(timeout=30)
    assert [row["epoch"] for row in channel.rows] == [1, 2] and result[0].status == "completed"


class GroupExecutor:
    """A stand-in for a batched executor: receives several trials at once, reports per member."""

    slots = 3

    def __init__(self):
        self.groups = []

    def open(self, objective):
        from concurrent.futures import ThreadPoolExecutor

        from tunewidgets.sweeps.executors import LocalChannel

        self.objective, self.channel = objective, LocalChannel()
        self.pool = ThreadPoolExecutor(max_workers=1)

    def submit(self, jobs):
        from concurrent.futures import Future

        self.groups.append([job.number for job in jobs])
        self.channel.handles.update({job.number: job.handle for job in jobs})
        futures = [Future() for _ in jobs]

        def train_group():
            results = [self.objective(job.number, job.params, self.channel) for job in jobs]
            for future, result in zip(futures, results):
                future.set_result(result)

        self.pool.submit(train_group)
        return futures

    def close(self):
        self.pool.shutdown(wait=True)


def test_an_executor_that_takes_trials_in_groups_plugs_in(base, digits):
    executor = GroupExecutor()
    sw = tw.sweep(digits, tw.Space(lr=tw.LogUniform(1e-3, 1e-1)), strategy="random", n_trials=6,
                  base=base.replace(epochs=2), executor=executor, seed=0)
    assert executor.groups == [[0, 1, 2], [3, 4, 5]]
    assert set(sw.table()["status"]) == {"complete"} and len(sw.curves()) == 12
