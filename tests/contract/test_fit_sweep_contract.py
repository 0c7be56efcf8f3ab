"""Sweeps of your own training function, ``tw.sweep(fit, space, base={...}, metric=...)``, on the
thread, process and Dask executors.

What a user relies on when they sweep their own loop: the trials really train (a text classifier over
token ids learns), pruned trials end early even though the loop never looks at ``should_stop``, a fit
that breaks in any of the ways a notebook fit breaks fails that trial in words while the sweep goes on,
a stored sweep loads back and resumes with ``fit=`` again, and ``best`` is what ``tw.train(fit, ...)``
takes. The process and Dask cases are ``slow``; the thread cases stay quick.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import tunewidgets as tw
from helpers.clusters import local_dask_cluster
from helpers.fits import MULTILABEL, TEXT, VAE_PARAMS, fit_multilabel, fit_text, fit_vae
from helpers.waiting import wait_for

EXECUTORS = ["thread", pytest.param("process", marks=pytest.mark.slow), pytest.param("dask", marks=pytest.mark.slow)]


@pytest.fixture(scope="module")
def dask_client():
    pytest.importorskip("distributed")
    with local_dask_cluster() as (_, client):
        yield client


@pytest.fixture(params=EXECUTORS)
def executor(request):
    """What ``tw.sweep(executor=...)`` takes for the executor under test (a client of this module's
    cluster for Dask, started only for the Dask cases)."""
    return request.getfixturevalue("dask_client") if request.param == "dask" else request.param


def faulty_text_fit(p, report):
    """fit_text, or one of the ways a notebook fit breaks, chosen by ``p.fault``."""
    if p.fault == "raise":
        raise RuntimeError("fault=raise breaks this fit on purpose")
    if p.fault == "nan":
        report.epoch(loss=float("nan"), val_accuracy=0.5)
    elif p.fault == "string":
        report.epoch(loss=0.3, val_accuracy="high")
    elif p.fault == "missing":
        report.epoch(loss=0.3, val_acc=0.9)  # a typo of the sweep's metric
    else:
        return fit_text(p, report)


def test_a_fit_sweep_trains_ranks_and_its_best_trains_again(executor):
    sw = tw.sweep(fit_text, tw.Space(lr=tw.Choice([1e-4, 0.03, 0.3])), strategy="grid", base=TEXT,
                  metric="val_accuracy", executor=executor, quiet=True)
    assert sw.status == "completed" and sw.objective == tw.Objective("val_accuracy", "maximize")
    table = sw.table()
    assert list(table["status"]) == ["complete"] * 3 and (table["epochs_trained"] == TEXT["epochs"]).all(), table
    assert table["val_accuracy"].is_monotonic_decreasing and table.iloc[0]["val_accuracy"] > 0.9, table
    assert table.iloc[-1]["lr"] == 1e-4 and table.iloc[-1]["val_accuracy"] < table.iloc[0]["val_accuracy"]
    assert (table["params"] > 0).all()  # the model fit_text returns is counted
    best = sw.best
    assert isinstance(best, dict) and best == {**TEXT, "lr": table.iloc[0]["lr"]}
    again = tw.train(fit_text, best, metric="val_accuracy")
    assert again.status == "completed" and abs(again.best_metric - sw.best_value) < 0.02


TASKS = {  # the three tasks of tests/helpers/fits.py: (fit, base, metric, a rate that learns)
    "text": (fit_text, TEXT, "val_accuracy", 0.1),
    "vae": (fit_vae, VAE_PARAMS, "val_loss", 3e-3),
    "multilabel": (fit_multilabel, MULTILABEL, "val_loss", 1e-2),
}


@pytest.mark.parametrize("task", list(TASKS))
def test_pruned_trials_of_a_fit_train_fewer_epochs(executor, task):
    """Four good trials (one configuration) first, then four that cannot learn: the median pruner stops
    bad ones though no fit reads should_stop (report.epoch ends its loop). Workers get the verdict a few
    epochs late, so trials are 20 epochs long. In kernel threads the fits share torch's global random
    generator, so the "same" good trials differ a little and one may fall just below their median."""
    fit, base, metric, good_lr = TASKS[task]
    epochs = 20
    sw = tw.sweep(fit, tw.Space(lr=tw.LogUniform(1e-6, 0.3)), n_trials=8, seed=0, base={**base, "epochs": epochs},
                  metric=metric, pruner="median", executor=executor, start=False, quiet=True)
    for lr in (good_lr,) * 4 + (1e-6, 1.1e-6, 1.2e-6, 1.3e-6):
        sw.study.enqueue_trial({"lr": lr})
    sw.start()
    table = sw.table()
    good, bad = table[table["lr"] > 1e-3], table[table["lr"] < 1e-3]
    complete = good[good["status"] == "complete"]
    assert len(complete) >= 3 and (complete["epochs_trained"] == epochs).all(), table
    pruned = bad[bad["status"] == "pruned"]
    assert len(pruned) >= 2 and (pruned["epochs_trained"] < epochs).all(), table
    assert sw.best_trial.params["lr"] == good_lr and sw.progress["pruned"] == (table["status"] == "pruned").sum()


def test_every_way_a_fit_breaks_fails_its_trial_in_words_and_the_sweep_goes_on(executor):
    faults = ["none", "raise", "nan", "string", "missing"]
    sw = tw.sweep(faulty_text_fit, tw.Space(fault=faults), strategy="grid", base=TEXT, metric="val_accuracy",
                  executor=executor, quiet=True)
    assert sw.status == "completed"
    table = sw.table().set_index("fault")
    assert table.loc["none", "status"] == "complete" and table.loc["none", "val_accuracy"] > 0.9
    errors = table["error"]
    assert (table.drop(index="none")["status"] == "failed").all(), table
    assert "RuntimeError: fault=raise breaks this fit on purpose" in errors["raise"]
    assert "diverged" in errors["nan"]
    assert "'val_accuracy'" in errors["string"] and "'high'" in errors["string"]
    assert errors["missing"] == "faulty_text_fit never reported metric 'val_accuracy': it reported 'loss', 'val_acc'"
    assert sw.best == {**TEXT, "fault": "none"}


def test_a_stored_fit_sweep_loads_back_and_resumes_with_the_fit_again(executor, tmp_path):
    url = "sqlite:///" + str(tmp_path / "fits.db")
    space = tw.Space(lr=tw.LogUniform(1e-2, 0.3), dim=tw.IntRange(8, 32, step=8))
    first = tw.sweep(fit_text, space, n_trials=2, seed=0, base={**TEXT, "epochs": 2}, metric="val_accuracy",
                     executor=executor, storage=url, name="text", quiet=True)
    loaded = tw.load_sweep(url, "text", executor=executor)
    key = ["trial", "status", "val_accuracy", "lr", "dim"]
    assert loaded.table()[key].equals(first.table()[key])
    assert loaded.best == first.best and loaded.info["kind"] == "fit" and loaded.info["data"] == "fit_text"
    with pytest.raises(ValueError, match="pass fit= \\(the training function 'fit_text'\\)"):
        loaded.resume(1)
    with pytest.raises(ValueError, match="data= only applies to sweeps of torch models; this sweep trains fit_text"):
        loaded.resume(1, data=tw.load_dataset("digits"))
    assert loaded.resume(2, fit=fit_text) is loaded and loaded.status == "completed"
    table = tw.load_sweep(url, "text").table()
    assert sorted(table["trial"]) == [0, 1, 2, 3] and set(table["status"]) == {"complete"}, table
    assert (table["epochs_trained"] == 2).all() and table["val_accuracy"].min() > 0.6


def test_a_stopped_fit_sweep_ends_its_running_loops(executor):
    """sweep.stop() reaches a fit that never reads should_stop: its next report ends it, within an epoch."""
    base = {**TEXT, "epochs": 200}
    sw = tw.sweep(fit_text, tw.Space(lr=tw.LogUniform(0.01, 0.3)), n_trials=4, base=base, metric="val_accuracy",
                  executor=executor, background=True, quiet=True)
    wait_for(lambda: any(len(r.rows) >= 2 for r in sw.records()), timeout=60)
    sw.stop()
    assert sw.wait(60) == "stopped"
    table = sw.table()
    assert (table["epochs_trained"] < 200).all() and "complete" not in set(table["status"]), table


SCRIPT = '''
import json
import sys
import torch
import tunewidgets as tw

WEIGHTS = torch.linspace(-1, 1, 8)  # a global of the script: it travels with the function


def fit(p, report):
    torch.manual_seed(0)
    x = torch.randn(256, 8)
    y = x @ WEIGHTS
    w = torch.zeros(8, requires_grad=True)
    opt = torch.optim.SGD([w], lr=p.lr)
    report.watch(opt)
    for epoch in range(p.epochs):
        loss = ((x @ w - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        report.epoch(loss=loss, val_loss=loss)


if __name__ == "__main__":
    sw = tw.sweep(fit, tw.Space(lr=[0.01, 0.1]), strategy="grid", base={"epochs": 30}, executor=sys.argv[1],
                  quiet=True)
    print(json.dumps({"statuses": sw.table()["status"].tolist(), "lr": sw.best["lr"], "value": sw.best_value}))
    tw.sweeps.close_workers()
'''


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["process", "dask"])
def test_a_fit_defined_in_a_scripts_main_ships_to_workers(tmp_path, executor):
    """A function written in the script itself (as in a notebook cell, it lives in __main__, which workers
    cannot import) reaches worker processes with the globals it reads."""
    script = tmp_path / "my_fit.py"
    script.write_text(SCRIPT)
    out = subprocess.run([sys.executable, str(script), executor], capture_output=True, text=True, timeout=300,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["statuses"] == ["complete", "complete"] and found["lr"] == 0.1 and found["value"] < 0.01, found
