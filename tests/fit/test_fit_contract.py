"""A training function of yours, ``fit(p, report)``, as a run: it learns, pauses, resumes, stops,
takes live knobs, and each mistake in it ends the run with a status and words that say what happened.

The fits (tests/helpers/fits.py) are three tasks the built-in trainer cannot train: token ids of varying
length, a VAE with its own loss, a multi-label classifier."""

import math
import threading

import pytest
import torch

import tunewidgets as tw
from helpers.fits import MULTILABEL, TEXT, VAE_PARAMS, fit_multilabel, fit_text, fit_vae
from helpers.waiting import TEST_TIMEOUT, wait_for, wait_until

LONG = 100_000  # epochs: a background run that is stopped by the test, never by running out


@pytest.mark.parametrize("fit, params, metric, check", [
    (fit_text, TEXT, "val_accuracy", lambda h: h["val_accuracy"].iloc[-1] > 0.9),
    (fit_vae, VAE_PARAMS, "val_loss", lambda h: h["val_loss"].iloc[-1] < 0.85 * h["val_loss"].iloc[0]),
    (fit_multilabel, MULTILABEL, "val_accuracy", lambda h: h["val_accuracy"].iloc[-1] > 0.85),
])
def test_each_task_trains_and_learns(fit, params, metric, check):
    run = tw.train(fit, params, metric=metric)
    assert run.status == "completed", run.traceback
    assert run.epochs_done == params["epochs"] and list(run.history["epoch"]) == list(range(1, params["epochs"] + 1))
    assert check(run.history), run.history
    assert isinstance(run.model, torch.nn.Module) and run.n_parameters > 0
    assert run.best_metric == run.objective.best(run.history[metric])
    assert (run.history["seconds"] > 0).all()


def test_params_read_both_ways_and_stay_read_only():
    seen = {}

    def fit(p, report):
        seen.update(attr=p.kl_weight, item=p["kl_weight"], default=p.get("missing", 7), names=sorted(p))
        with pytest.raises(AttributeError, match="read-only"):
            p.kl_weight = 2
        with pytest.raises(AttributeError, match=r"no hyperparameter 'kl_wieght': this run has \['epochs', 'kl_weight'\]"):
            p.kl_wieght
        report.epoch(val_loss=1.0)

    run = tw.train(fit, {"kl_weight": 0.5, "epochs": 1})
    assert run.status == "completed", run.traceback
    assert seen == {"attr": 0.5, "item": 0.5, "default": 7, "names": ["epochs", "kl_weight"]}


def test_pause_blocks_the_loop_and_resume_continues_it():
    run = tw.train(fit_multilabel, {**MULTILABEL, "epochs": LONG}, background=True)
    try:
        wait_until(lambda: run.epochs_done >= 2, what="two epochs")
        run.pause()
        wait_until(lambda: run.status == "paused", what="the run to pause")
        held = run.epochs_done
        threading.Event().wait(0.5)
        assert run.epochs_done == held  # paused: the fit is held at its report call
        run.resume()
        wait_until(lambda: run.epochs_done >= held + 3, what="epochs after resuming")
        assert run.status == "running"
    finally:
        run.stop()
        run.wait(TEST_TIMEOUT)
    assert run.status == "stopped"


def test_a_stopped_run_really_ends_its_loop_and_keeps_its_history():
    ended = threading.Event()

    def fit(p, report):
        try:
            fit_text(p, report)
        finally:
            ended.set()  # the loop's own clean-up runs

    run = tw.train(fit, {**TEXT, "epochs": LONG}, background=True)
    wait_until(lambda: run.epochs_done >= 2, what="two epochs")
    run.stop()
    assert run.wait(TEST_TIMEOUT) == "stopped"
    assert ended.is_set() and 2 <= run.epochs_done < LONG
    assert run.history["val_accuracy"].notna().all()


def test_a_loop_that_swallows_exceptions_still_stops():
    """StopTraining is a BaseException: ``except Exception`` in the user's loop does not keep it alive."""
    def fit(p, report):
        for epoch in range(p.epochs):
            try:
                report.epoch(val_loss=1.0 / (epoch + 1))
            except Exception:  # noqa: BLE001 - what a careless loop does
                pass

    run = tw.train(fit, {"epochs": 10_000_000}, background=True)
    wait_until(lambda: run.epochs_done >= 3, what="three epochs")
    run.stop()
    assert run.wait(TEST_TIMEOUT) == "stopped"


def test_a_loop_that_checks_should_stop_ends_by_itself():
    def fit(p, report):
        epoch = 0
        while not report.should_stop:
            epoch += 1
            report.batch(loss=1.0)
            if epoch % 50 == 0:
                report.epoch(val_loss=1.0)
        return None

    run = tw.train(fit, {}, background=True)
    wait_until(lambda: run.epochs_done >= 1, what="an epoch")
    run.stop()
    assert run.wait(TEST_TIMEOUT) == "stopped"


def test_a_live_knob_reaches_the_optimizer_the_params_and_the_history():
    run = tw.train(fit_text, {**TEXT, "epochs": LONG}, background=True)
    try:
        wait_until(lambda: run.epochs_done >= 2, what="two epochs")
        feed = run.events.listen()
        run.update(lr=0.02, dropout=0.4)
        assert run.hparams.lr == 0.02  # the run's values move at once
        row = wait_for(lambda: next((r for r in run.history_rows() if r["optimizer_lr"] == 0.02), None))
    finally:
        run.stop()
        run.wait(TEST_TIMEOUT)
    assert row["lr"] == 0.02 and row["dropout"] == 0.4 and row["dropout_in_model"] == 0.4
    first = run.history_rows()[0]
    assert first["lr"] == TEXT["lr"] and first["dropout"] == TEXT["dropout"]  # earlier rows: the values in force
    knob = [e for e in feed.drain() if e.kind == "knob"]
    assert knob and knob[0].values["changes"] == {"lr": 0.02, "dropout": 0.4}


def test_a_watched_schedule_keeps_a_moved_rate():
    """StepLR multiplies by 0.9 each epoch; a rate moved live keeps being decayed from the new value."""
    run = tw.train(fit_multilabel, {**MULTILABEL, "epochs": LONG}, background=True)
    try:
        wait_until(lambda: run.epochs_done >= 3, what="three epochs")
        run.update(lr=1.0)
        moved = wait_for(lambda: next((r for r in run.history_rows() if r.get("lr") == 1.0), None))
        wait_until(lambda: run.epochs_done > moved["epoch"], what="an epoch after the moved one")
    finally:
        run.stop()
        run.wait(TEST_TIMEOUT)
    rows = run.history_rows()
    later = rows[rows.index(moved) + 1:]
    assert later and later[0]["optimizer_lr"] == pytest.approx(moved["optimizer_lr"] * 0.9)
    assert moved["optimizer_lr"] > 0.05  # far above the decayed 1e-2 before: the new base rate, decayed


def test_live_changes_are_checked_against_the_runs_names_and_kinds():
    run = tw.train(fit_text, {**TEXT, "epochs": LONG}, background=True)
    try:
        with pytest.raises(ValueError, match=r"'learning_rate' is not a hyperparameter of this run: it has \["):
            run.update(learning_rate=0.01)
        with pytest.raises(ValueError, match="lr='fast' is not allowed: must be a finite number"):
            run.update(lr="fast")
        with pytest.raises(ValueError, match="dropout=1.5 is not allowed"):
            run.update(dropout=1.5)
    finally:
        run.stop()
        run.wait(TEST_TIMEOUT)


def test_a_nan_loss_ends_the_run_diverged_with_its_history():
    def fit(p, report):
        for epoch in range(p.epochs):
            report.epoch(loss=1.0 if epoch < 2 else math.nan, val_accuracy=0.5)

    run = tw.train(fit, {"epochs": 10})
    assert run.status == "diverged" and run.epochs_done == 3
    assert math.isnan(run.history["loss"].iloc[-1])


def test_a_metric_that_is_not_a_number_is_named():
    run = tw.train(lambda p, report: report.epoch(val_loss=1.0, mood="good"), {})
    assert run.status == "failed"
    assert "metric 'mood' was reported as 'good': report numbers" in str(run.error)


def test_a_fit_that_raises_fails_its_run_and_keeps_what_it_reported():
    def fit(p, report):
        report.epoch(val_loss=0.5)
        raise RuntimeError("the data loader broke")

    with pytest.warns(UserWarning, match="failed"):
        run = tw.train(fit, {})
    assert run.status == "failed" and "the data loader broke" in str(run.error)
    assert run.epochs_done == 1 and "RuntimeError" in run.traceback


@pytest.mark.parametrize("target, words", [
    (42, "must be a tw.Data .* or a training function fit\\(p, report\\)"),
    (lambda p: None, "must take two arguments, fit\\(p, report\\)"),
])
def test_what_is_not_a_training_function_is_told_the_form(target, words):
    with pytest.raises(ValueError, match=words):
        tw.train(target, {})


@pytest.mark.parametrize("model", [torch.nn.Linear(4, 2), torch.nn.Linear], ids=["a model", "a model's class"])
def test_a_torch_model_by_mistake_is_told_the_same_words_by_train_and_sweep(model):
    words = "must be a tw.Data .* or a training function fit\\(p, report\\): a torch model goes in the hyperparameters"
    with pytest.raises(ValueError, match=words) as trained:
        tw.train(model, {})
    with pytest.raises(ValueError, match=words) as swept:
        tw.sweep(model, tw.Space(lr=tw.LogUniform(1e-3, 1e-1)), n_trials=1, start=False)
    assert str(trained.value) == str(swept.value)


def test_metrics_are_refused_for_a_training_function_in_the_same_words_everywhere():
    space = tw.Space(lr=tw.LogUniform(1e-3, 1e-1))
    with pytest.raises(ValueError, match="reports its own") as trained:
        tw.train(fit_text, {}, metrics={"f1": len})
    with pytest.raises(ValueError, match="reports its own") as swept:
        tw.sweep(fit_text, space, base=TEXT, metrics={"f1": len}, n_trials=1, start=False)
    assert str(trained.value) == str(swept.value)


def test_params_must_be_a_dict_and_names_identifiers():
    with pytest.raises(ValueError, match="a training function's hyperparameters are a dict"):
        tw.train(fit_text, [0.1, 16])
    with pytest.raises(ValueError, match="hyperparameter name 'batch size' is not allowed"):
        tw.train(fit_text, {"batch size": 32})


def test_a_fit_run_cannot_be_forked_and_says_why():
    run = tw.train(fit_vae, {**VAE_PARAMS, "epochs": 1})
    with pytest.raises(ValueError, match="cannot be forked: fit_vae is a training function of yours"):
        run.fork(epochs=1)


def test_reserved_names_are_refused():
    run = tw.train(lambda p, report: report.epoch(epoch=3, val_loss=1.0), {})
    assert run.status == "failed" and "'epoch' is filled in for you" in str(run.error)


def test_batches_and_epochs_reach_the_event_feed_the_plots_read():
    run = tw.Run(fit_text, {**TEXT, "epochs": 3})
    feed = run.events.listen()
    run.start()
    events = feed.drain()
    batches = [e for e in events if e.kind == "batch"]
    epochs = [e for e in events if e.kind == "epoch"]
    assert [e.values["val_accuracy"] for e in epochs] == list(run.history["val_accuracy"])
    assert batches and all(math.isfinite(e.values["train_loss"]) for e in batches)
    assert batches[0].values["at"] == 0.0  # the first batch, at the start of the first epoch
    assert [e.values["status"] for e in events if e.kind == "status"][-1] == "completed"


def test_stop_then_pause_still_ends_the_run():
    run = tw.train(fit_text, {**TEXT, "epochs": LONG}, background=True)
    wait_until(lambda: run.epochs_done >= 1, what="an epoch")
    run.stop()
    run.pause()
    assert run.wait(TEST_TIMEOUT) == "stopped"


def test_a_fit_that_swallows_its_divergence_still_ends_diverged():
    def fit(p, report):
        for epoch in range(p.epochs):
            try:
                report.epoch(loss=math.nan if epoch == 1 else 1.0)
            except BaseException:  # noqa: BLE001 - what a very careless loop does
                pass

    run = tw.train(fit, {"epochs": 10})
    assert run.status == "diverged" and run.epochs_done == 2


def test_an_error_is_not_hidden_by_a_report_in_a_finally():
    def fit(p, report):
        try:
            report.epoch(loss=math.nan)
        finally:
            raise RuntimeError("clean-up failed")

    with pytest.warns(UserWarning, match="failed"):
        run = tw.train(fit, {})
    assert run.status == "failed" and "clean-up failed" in str(run.error)


def test_names_that_are_methods_of_params_are_refused():
    with pytest.raises(ValueError, match="hyperparameter name 'values' is not allowed: p.values is a method"):
        tw.train(fit_text, {**TEXT, "values": 3})


def test_metrics_are_for_the_built_in_trainer_only():
    with pytest.raises(ValueError, match="metrics= adds validation metrics to the built-in trainer"):
        tw.train(fit_text, TEXT, metrics={"top2": lambda out, y: 0.0})
