"""A metric of the user's own, the same on every path: ``tw.train``, a batched group, and sweeps
that optimize it with each executor (thread, batched, process; Dask in ``tests/sweeps/test_sweep_dask.py``)."""

import pytest

import tunewidgets as tw
from tunewidgets.engine.batched import train_batched
from helpers.settings import SMALL

# Defined as a lambda, as in a notebook: it must still reach process workers.
top2 = lambda out, y: (out.topk(2, dim=1).indices == y[:, None]).any(dim=1).float().mean()  # noqa: E731


def check_ranked_by_top2(sw, n):
    """The table ranks by the custom metric, which really is top-2 accuracy (never below top-1)."""
    table = sw.table()
    assert sw.metric == "val_top2" and sw.direction == "maximize"
    assert len(table) == n and set(table["status"]) == {"complete"}, table
    assert list(table.columns[:4]) == ["rank", "trial", "status", "val_top2"]
    assert table["val_top2"].is_monotonic_decreasing and list(table["rank"]) == sorted(table["rank"])
    for trial, rows in sw.runs.items():
        assert (rows["val_top2"] >= rows["val_accuracy"]).all() and rows["val_top2"].max() <= 1.0
        assert rows["val_top2"].max() == table.set_index("trial").loc[trial, "val_top2"]
    assert sw.best_value == table["val_top2"].iloc[0] > 0.9


def test_a_batched_group_computes_each_members_metrics(digits):
    hps = [SMALL.replace(lr=lr, epochs=2, batch_size=64, device="auto") for lr in (1e-3, 1e-2)]
    runs = train_batched(digits, runs=[tw.Run(digits, hp, metrics={"top2": top2}) for hp in hps])
    alone = tw.train(digits, hps[1], metrics={"top2": top2})
    for run in runs:
        assert run.status == "completed" and "val_top2" in run.history.columns
        assert (run.history["val_top2"] >= run.history["val_accuracy"]).all()
    assert runs[1].history["val_top2"].tolist() == pytest.approx(alone.history["val_top2"].tolist(), abs=2e-3)


@pytest.mark.parametrize("executor", ["thread", "batched"])
def test_a_sweep_optimizes_a_custom_metric_in_the_kernel(base, digits, executor):
    space = tw.Space(lr=tw.Choice([1e-3, 3e-2]), dropout=tw.Choice([0.0, 0.2]))
    sw = tw.sweep(digits, space, strategy="grid", base=base.replace(epochs=2), executor=executor,
                  metrics={"top2": top2}, metric="val_top2")
    check_ranked_by_top2(sw, 4)


@pytest.mark.slow
def test_a_sweep_optimizes_a_custom_metric_in_worker_processes(base, digits):
    sw = tw.sweep(digits, tw.Space(lr=tw.Choice([1e-3, 3e-2])), strategy="grid", base=base.replace(epochs=2),
                  executor=tw.sweeps.ProcessExecutor(n_workers=2), metrics={"top2": top2}, metric="val_top2")
    check_ranked_by_top2(sw, 2)


def test_an_unknown_metric_names_the_custom_ones(base, digits):
    with pytest.raises(ValueError, match=r"metric='val_top3'.*'val_top2'"):
        tw.sweep(digits, tw.Space(lr=[0.01]), base=base, metrics={"top2": top2}, metric="val_top3")


def test_resuming_asks_for_a_custom_metric_any_objective_names(base, digits, tmp_path):
    url = f"sqlite:///{tmp_path}/custom.db"
    tw.sweep(digits, tw.Space(lr=[0.01, 0.02]), strategy="grid", base=base.replace(epochs=1), metrics={"top2": top2},
             storage=url, name="c", objectives=["val_accuracy", "val_top2"], n_trials=1)
    loaded = tw.load_sweep(url, "c")
    with pytest.raises(ValueError, match=r"metric='val_top2'"):
        loaded.resume(1, data=digits)  # without metrics=: it would give NaN for the second objective
    loaded.resume(1, data=digits, metrics={"top2": top2})
    assert list(loaded.table()["status"]) == ["complete", "complete"]
