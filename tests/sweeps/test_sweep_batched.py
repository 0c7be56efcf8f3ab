"""Sweeps with executor="batched" on real digits training: the same table as the thread executor,
every strategy, pruning and divergence per member, stopping, the thread fallback, and storage."""

import math
import time

import numpy as np
import optuna
import pytest
import torch

import tunewidgets as tw
from torch import nn

from tunewidgets.engine.batched.sizing import cpu_cache_bytes, fitting_group_size, member_bytes
from tunewidgets.sweeps import BatchedExecutor, Executor
from tunewidgets.sweeps.executors import EXECUTORS, make_executor
from helpers.waiting import wait_for

# Without dropout a member computes what its own run computes, up to float32 summation order.
ACCURACY_TOLERANCE = 1 / 360  # one validation sample of digits
LOSS_RTOL = 1e-3




def by_params(table, names):
    return table.sort_values(names).reset_index(drop=True)


def test_batched_grid_gives_the_thread_executors_table(base, digits):
    space = tw.Space(lr=[1e-3, 3e-2], weight_decay=[0.0, 1e-3], optimizer=["sgd", "adam"])
    executor = BatchedExecutor(group_size=16)
    batched = tw.sweep(digits, space, strategy="grid", base=base, executor=executor, seed=0)
    thread = tw.sweep(digits, space, strategy="grid", base=base, executor="thread", seed=0)
    assert executor.groups == [list(range(8))] and executor.fallbacks == []  # one group, one pass
    names = ["lr", "weight_decay", "optimizer"]
    b, t = by_params(batched.table(), names), by_params(thread.table(), names)
    assert list(b.columns) == list(t.columns) and len(b) == 8
    assert (b["status"] == "complete").all() and (b["epochs_trained"] == 3).all()
    assert b[names].equals(t[names])
    assert np.abs(b["val_accuracy"] - t["val_accuracy"]).max() <= ACCURACY_TOLERANCE
    assert b["val_accuracy"].max() > 0.9  # it really trained
    for trial_b, trial_t in zip(b["trial"], t["trial"]):
        curve_b, curve_t = batched.runs[trial_b], thread.runs[trial_t]
        np.testing.assert_allclose(curve_b["val_loss"], curve_t["val_loss"], rtol=LOSS_RTOL)
        np.testing.assert_allclose(curve_b["train_loss"], curve_t["train_loss"], rtol=LOSS_RTOL)
    assert batched.best == thread.best and batched.progress["complete"] == 8


def test_trials_split_into_groups_by_structure(base, digits):
    space = tw.Space(lr=[1e-2, 3e-2], layers=[1, 2], dropout=[0.0, 0.2])
    executor = BatchedExecutor(group_size=8)
    sw = tw.sweep(digits, space, strategy="grid", base=base.replace(epochs=2), executor=executor, seed=1)
    table = sw.table()
    assert len(table) == 8 and set(table["status"]) == {"complete"} and table["val_accuracy"].min() > 0.5
    layers = dict(zip(table["trial"], table["layers"]))
    assert sorted(len(g) for g in executor.groups) == [4, 4]
    assert all(len({layers[n] for n in group}) == 1 for group in executor.groups)
    assert executor.fallbacks == []


@pytest.mark.parametrize("strategy", ["random", "bayes"])
def test_random_and_bayes_sweeps_run_batched(base, digits, strategy):
    space = tw.Space(lr=tw.LogUniform(1e-3, 1e-1), weight_decay=tw.LogUniform(1e-6, 1e-2))
    n, size = (6, 3) if strategy == "random" else (24, 8)  # bayes: the third group comes from TPE
    executor = BatchedExecutor(group_size=size)
    sw = tw.sweep(digits, space, strategy=strategy, n_trials=n, base=base.replace(epochs=1, units=16),
                  executor=executor, seed=0)
    table = sw.table()
    assert len(table) == n and set(table["status"]) == {"complete"}
    assert executor.groups[0] == list(range(size)) and len(executor.groups) >= 2
    assert table["lr"].between(1e-3, 1e-1).all()
    last_group = table[table["trial"] >= n - size]
    assert last_group["lr"].nunique() == size  # asked together, yet not the same suggestion
    if strategy == "bayes":
        assert isinstance(sw.study.sampler, optuna.samplers.TPESampler) and sw.study.sampler._constant_liar


def test_pruning_drops_members_and_saves_epochs(base, digits):
    epochs, n = 5, 9
    executor = BatchedExecutor(group_size=n)
    sw = tw.sweep(digits, tw.Space(lr=tw.LogUniform(1e-4, 1.0)), strategy="random", n_trials=n,
                  base=base.replace(epochs=epochs, optimizer="sgd"), pruner="halving", executor=executor, seed=0)
    table = sw.table()
    assert executor.groups == [list(range(n))]
    pruned, complete = table[table["status"] == "pruned"], table[table["status"] == "complete"]
    assert len(pruned) >= 2 and len(complete) >= 1, table
    assert (pruned["epochs_trained"] < epochs).all() and (complete["epochs_trained"] == epochs).all()
    assert table["epochs_trained"].sum() < n * epochs
    assert all(len(sw.runs[t]) == e for t, e in zip(table["trial"], table["epochs_trained"]))


def test_a_diverging_member_fails_alone(base, digits):
    space = tw.Space(lr=[1e-2, 3e-2, 100.0])
    sw = tw.sweep(digits, space, strategy="grid", base=base.replace(optimizer="sgd"), executor="batched")
    table = sw.table().set_index("lr")
    assert table.loc[100.0, "status"] == "failed" and "diverged" in table.loc[100.0, "error"]
    assert list(table.loc[[1e-2, 3e-2], "status"]) == ["complete", "complete"]
    assert list(table.loc[[1e-2, 3e-2], "epochs_trained"]) == [3, 3]
    assert sw.progress["failed"] == 1 and sw.table().iloc[-1]["lr"] == 100.0  # failed trials rank last


def test_stop_ends_every_member(base, digits):
    executor = BatchedExecutor(group_size=4)
    sw = tw.sweep(digits, tw.Space(lr=tw.LogUniform(1e-3, 1e-1)), strategy="random", n_trials=8,
                  base=base.replace(epochs=200), executor=executor, seed=0, background=True)
    wait_for(lambda: any(len(r.rows) >= 1 for r in sw.records()), 30)
    started = time.time()
    sw.stop()
    assert sw.wait(timeout=30) == "stopped"
    assert time.time() - started < 10
    table = sw.table()
    assert len(table) == 4 and set(table["status"]) == {"stopped"}  # no trial after the stop
    assert (table["epochs_trained"] < 200).all()


def test_cnn_with_batch_norm_falls_back_to_the_thread_path(base, digits_images):
    space = tw.Space(lr=[1e-2, 3e-2])
    base = base.replace(model="cnn", layers=1, units=8, epochs=1)
    executor = BatchedExecutor(group_size=4)
    with pytest.warns(UserWarning, match="one after another.*batch norm"):
        batched = tw.sweep(digits_images, space, strategy="grid", base=base, executor=executor, seed=0)
    assert executor.groups == [] and executor.fallbacks == [
        {"trials": [0, 1], "reason": executor.fallbacks[0]["reason"]}]
    assert "BatchNorm2d" in executor.fallbacks[0]["reason"]
    thread = tw.sweep(digits_images, space, strategy="grid", base=base, seed=0)
    key = ["trial", "status", "val_accuracy", "epochs_trained", "lr"]
    assert batched.table()[key].equals(thread.table()[key])  # the very same training
    assert set(batched.table()["status"]) == {"complete"}


def test_factories_batch_when_they_build_the_same_network(base, digits):
    def tanh_net(hp, data):
        return nn.Sequential(nn.Linear(64, hp.units), nn.Tanh(), nn.Linear(hp.units, data.n_outputs))

    def wider_for_large_lr(hp, data):  # the structure depends on a per-member field: not batchable
        width = hp.units * (2 if hp.lr > 0.02 else 1)
        return nn.Sequential(nn.Linear(64, width), nn.Tanh(), nn.Linear(width, data.n_outputs))

    space = tw.Space(lr=[1e-2, 3e-2])
    same = BatchedExecutor()
    sw = tw.sweep(digits, space, strategy="grid", base=base.replace(model=tanh_net), executor=same)
    assert same.groups == [[0, 1]] and set(sw.table()["status"]) == {"complete"}
    differ = BatchedExecutor()
    with pytest.warns(UserWarning, match="builds different architectures"):
        sw = tw.sweep(digits, space, strategy="grid", base=base.replace(model=wider_for_large_lr), executor=differ)
    assert differ.groups == [] and len(differ.fallbacks) == 1
    assert set(sw.table()["status"]) == {"complete"} and sw.table()["val_accuracy"].min() > 0.5


def test_storage_reloads_the_same_table(base, digits, tmp_path):
    url = f"sqlite:///{tmp_path / 'batched.db'}"
    space = tw.Space(lr=[1e-2, 3e-2], dropout=[0.0, 0.3])
    sw = tw.sweep(digits, space, strategy="grid", base=base.replace(epochs=2), executor="batched", group_size=4,
                  storage=url, name="batched-grid", pruner="median", seed=0)
    loaded = tw.load_sweep(url, "batched-grid")
    key = ["rank", "trial", "status", "val_accuracy", "epochs_trained", "lr", "dropout"]
    assert loaded.table()[key].equals(sw.table()[key])
    assert loaded.curves()[["trial", "epoch", "val_loss"]].equals(sw.curves()[["trial", "epoch", "val_loss"]])
    assert loaded.best == sw.best and math.isclose(loaded.best_value, sw.best_value)


def test_executor_names_and_group_size_are_checked():
    assert "batched" in EXECUTORS
    executor = make_executor("batched", group_size=32)
    assert isinstance(executor, BatchedExecutor) and isinstance(executor, Executor) and executor.slots == 32
    auto = make_executor("batched")
    assert auto.group_size == "auto" and auto.slots == (64 if torch.cuda.is_available() else 16)
    for bad in (0, -1, 2.5, True, "8", "big"):
        with pytest.raises(ValueError, match="group_size=.* is not allowed: must be \"auto\" or an integer >= 1"):
            BatchedExecutor(group_size=bad)
    with pytest.raises(ValueError, match="group_size=8 only applies to executor='batched'"):
        make_executor("thread", group_size=8)


def test_auto_group_size_fits_each_structure_to_the_cpu_cache(base, digits):
    """A small network trains in one group; one whose stacked state outgrows the cache in small ones,
    where each member trains faster than in one big group (measured in engine/batched/sizing.py)."""
    small, big = (base.replace(epochs=1, layers=2, units=u, device="cpu") for u in (64, 1024))
    assert fitting_group_size(small, digits, 16) == 16
    fits = fitting_group_size(big, digits, 16)
    per_member, cache = member_bytes(big, digits), cpu_cache_bytes()
    assert per_member > 16 * 2**20  # over 16 MiB a member: a typical L3 cache holds one or two
    # the biggest group the cache holds, capped at the limit (some hosts report a 480 MiB L3: 16 fit there)
    assert fits == 1 or fits * per_member <= cache
    assert fits == 16 or cache < (fits + 1) * per_member
    space = tw.Space(lr=[1e-3, 3e-3, 1e-2, 3e-2], units=[64, 1024], layers=[2])
    executor = BatchedExecutor()
    sw = tw.sweep(digits, space, strategy="grid", base=base.replace(epochs=1, device="cpu"), executor=executor,
                  seed=0)
    table = sw.table()
    assert len(table) == 8 and set(table["status"]) == {"complete"}
    units = dict(zip(table["trial"], table["units"]))
    sizes = {u: sorted(len(g) for g in executor.groups if units[g[0]] == u) for u in (64, 1024)}
    assert sizes[64] == [4] and sum(sizes[1024]) <= 4 and max(sizes[1024], default=1) <= fits
    assert table["val_accuracy"].min() > 0.5  # small groups and single trials both trained


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_trials_on_a_missing_device_fail_with_the_reason_instead_of_hanging(base, digits):
    with pytest.warns(UserWarning, match="run one after another .* because device='cuda' is not available"):
        sw = tw.sweep(digits, tw.Space(lr=[1e-2, 3e-2]), strategy="grid", base=base.replace(epochs=1, device="cuda"),
                      executor="batched", background=True)
        sw.wait(30)
    assert sw.done, "the sweep must end, not wait for its trials forever"
    table = sw.table()
    assert list(table["status"]) == ["failed", "failed"]
    assert table["error"].str.contains("cuda", case=False).all()


def test_bad_group_size_fails_before_any_trial(digits, tmp_path):
    url = f"sqlite:///{tmp_path / 'none.db'}"
    with pytest.raises(ValueError, match="group_size=0"):
        tw.sweep(digits, tw.Space(lr=[0.01]), executor="batched", group_size=0, storage=url)
    assert optuna.get_all_study_summaries(storage=url) == []


def test_an_estimator_sweep_asked_to_batch_trains_one_by_one_and_says_why():
    """The batched executor asks the trial whether it trains as a group; a cross-validated estimator
    answers no, so its trials run as the thread executor runs them, with the reason kept."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    executor = BatchedExecutor(group_size=4)
    with pytest.warns(UserWarning, match="one after another"):
        sw = tw.sweep_estimator(LogisticRegression(max_iter=200), {"C": [0.1, 1.0, 10.0]}, X, y, cv=3,
                                executor=executor)
    table = sw.table()
    assert len(table) == 3 and set(table["status"]) == {"complete"} and table["mean_test_score"].max() > 0.9
    assert executor.groups == [] and "not CVTrial" in executor.fallbacks[0]["reason"]
