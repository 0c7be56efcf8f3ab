"""Lightning and Hugging Face trainers inside ``fit(p, report)``, with tunewidgets' callback added: each
evaluation is a history row, a paused run takes no step, a moved lr is what the optimizer steps with
(the schedule keeps it), stop and pruning end the library's trainer its own way. Real packages, real
models that learn (a LightningModule on the digits, a two-layer BERT built from a config).
"""

from __future__ import annotations

import importlib
import sys
import time

import pytest
import torch

import tunewidgets as tw
from helpers.library_fits import (LIGHTNING, TRANSFORMER, fit_lightning, fit_pytorch_lightning, fit_transformer)
from helpers.waiting import wait_for

pytest.importorskip("lightning")
pytest.importorskip("pytorch_lightning")
pytest.importorskip("transformers")

SET_UP_SECONDS = 1.0
LIBRARIES = {  # name: (fit, base, a learning rate that learns)
    "lightning": (fit_lightning, LIGHTNING),
    "pytorch_lightning": (fit_pytorch_lightning, LIGHTNING),
    "transformers": (fit_transformer, TRANSFORMER),
}


@pytest.mark.parametrize("library", list(LIBRARIES))
def test_each_evaluation_is_a_row_under_the_panels_names_and_the_model_learns(library):
    fit, base = LIBRARIES[library]

    def fit_after_a_slow_set_up(p, report):  # a set-up that takes a known second before the trainer starts
        time.sleep(SET_UP_SECONDS)
        return fit(p, report)

    fit_after_a_slow_set_up.__name__ = fit.__name__
    run = tw.train(fit_after_a_slow_set_up, base)
    assert run.status == "completed", run.traceback
    history = run.history
    assert list(history["epoch"]) == list(range(1, base["epochs"] + 1))  # no sanity-check row
    assert history["val_loss"].iloc[-1] < 0.6 * history["val_loss"].iloc[0]
    assert history["val_accuracy"].iloc[-1] > 0.85
    loss = "train_loss" if "lightning" in library else "loss"
    assert history[loss].iloc[-1] < history[loss].iloc[0]
    assert not [name for name in history.columns if name.startswith("eval_") or "runtime" in name]
    assert run.best_metric == history["val_loss"].min() and isinstance(run.model, torch.nn.Module)
    # The set-up is no epoch: the first epoch's clock starts when the trainer does. Compared with a known
    # set-up, not with the other epochs (a 0.06 s epoch once took 0.5 s while another test process ran).
    assert history["seconds"].iloc[0] < SET_UP_SECONDS


def parameters(model):
    return [p.detach().clone() for p in model.parameters()]


def optimizer_lr(run):
    return run.trainer.report.optimizers[0].param_groups[0]["lr"]


@pytest.mark.parametrize("library", ["lightning", "transformers"])
def test_in_a_train_panel_pause_holds_every_step_a_moved_lr_is_used_and_stop_ends_within_an_evaluation(library):
    fit, base = LIBRARIES[library]
    space = tw.Space(lr=tw.LogUniform(1e-4, 0.3), dropout=tw.Uniform(0.0, 0.5))
    panel = tw.TrainPanel(fit, space, base={**base, "epochs": 300})
    run = panel.start()
    try:
        assert wait_for(lambda: run.epochs_done >= 2, timeout=90)
        panel.pause()
        assert wait_for(lambda: run.status == "paused", timeout=30)
        before, steps = parameters(run.model), run.trainer.report.step
        time.sleep(1.0)
        assert run.trainer.report.step == steps
        assert all(torch.equal(a, b) for a, b in zip(before, parameters(run.model)))  # no step while paused
        old_lr, epochs_then = optimizer_lr(run), run.epochs_done
        panel.controls.fields["lr"].value = base["lr"] / 5
        panel.resume()
        assert wait_for(lambda: run.trainer.report.step >= steps + 3, timeout=30)
        assert not all(torch.equal(a, b) for a, b in zip(before, parameters(run.model)))  # it trains again
        assert wait_for(lambda: run.epochs_done >= epochs_then + 2, timeout=60)
        panel.pause()
        assert wait_for(lambda: run.status == "paused", timeout=30)
        # The schedule goes on from the new rate (Lightning's decays 0.97 an epoch, Hugging Face's linear one
        # by under 1% over these steps): a scheduler step did not put the old rate back.
        decay = 0.97 ** (run.epochs_done - epochs_then) if library == "lightning" else 1.0
        assert optimizer_lr(run) == pytest.approx(old_lr / 5 * decay, rel=0.02) and run.hparams["lr"] == base["lr"] / 5
        if library == "lightning":  # the rate the module logged it stepped with in its last epoch
            rows = run.history
            assert rows["optimizer_lr"].iloc[-1] == pytest.approx(base["lr"] / 5 * 0.97 ** len(rows), rel=1e-3)
        panel.resume()
        assert wait_for(lambda: run.epochs_done >= 4, timeout=60)
        at_stop = run.epochs_done
        panel.stop()
        assert panel.wait(60) == "stopped" and run.epochs_done <= at_stop + 1
        assert panel.curves.rows(run.id) == run.epochs_done
    finally:
        run.stop()  # a failed check leaves no paused trainer behind


def test_lightning_reports_each_validation_within_an_epoch_with_that_epochs_training_loss():
    run = tw.train(fit_lightning, {**LIGHTNING, "epochs": 3, "val_check_interval": 0.5})
    assert run.status == "completed", run.traceback
    history = run.history
    assert len(history) == 6 and history["val_loss"].notna().all() and history["val_loss"].nunique() == 6
    # An epoch's training loss exists once it ends: mid-epoch rows have none, rather than the last one again.
    assert history["train_loss"].isna().tolist() == [True, False] * 3 and history["train_loss"].nunique() == 3


def test_transformers_without_evaluation_reports_each_training_log():
    run = tw.train(fit_transformer, {**TRANSFORMER, "epochs": 3, "eval_strategy": "no"})
    assert run.status == "completed", run.traceback
    assert list(run.history.columns[:2]) == ["epoch", "loss"] and len(run.history) == 3
    assert run.history["loss"].is_monotonic_decreasing


def test_an_evaluation_after_training_is_no_epoch():
    def fit(p, report):
        from transformers import PrinterCallback, Trainer, TrainingArguments

        from helpers.library_fits import TokenDocuments, accuracy, tiny_transformer, token_corpus
        from tunewidgets.integrations.transformers import TuneCallback
        train, val = token_corpus()
        args = TrainingArguments(output_dir=str(p.out), num_train_epochs=2, learning_rate=p.lr, eval_strategy="epoch",
                                 save_strategy="no", report_to="none", use_cpu=True, disable_tqdm=True)
        trainer = Trainer(model=tiny_transformer(p), args=args, train_dataset=TokenDocuments(train),
                          eval_dataset=TokenDocuments(val), compute_metrics=accuracy, callbacks=[TuneCallback(report)])
        trainer.remove_callback(PrinterCallback)
        trainer.train()
        return trainer.evaluate()

    run = tw.train(fit, {**TRANSFORMER, "out": "/tmp/tw-evaluate-after"})
    assert run.status == "completed" and len(run.history) == 2


def test_a_diverging_lightning_fit_ends_diverged_and_its_trainer_stops():
    run = tw.train(fit_lightning, {**LIGHTNING, "lr": 1e20, "epochs": 50})
    assert run.status == "diverged" and len(run.history) == 1 and run.history["val_loss"].isna().all()
    assert run.model.trainer.current_epoch == 1  # should_stop ended its loop: no epoch after the one that diverged


def test_the_callbacks_take_the_report_and_nothing_else():
    from tunewidgets.integrations.lightning import TuneCallback as LightningCallback
    from tunewidgets.integrations.transformers import TuneCallback as TransformersCallback
    for callback in (LightningCallback, TransformersCallback):
        with pytest.raises(ValueError, match="takes the report your fit"):
            callback({"lr": 0.1})


@pytest.mark.parametrize("module, extra", [("lightning", "lightning"), ("transformers", "transformers")])
def test_a_missing_library_names_the_extra_that_installs_it(monkeypatch, module, extra):
    for name in [m for m in sys.modules if m.split(".")[0] in ("lightning", "pytorch_lightning", "transformers")]:
        monkeypatch.delitem(sys.modules, name)
    for package in ("lightning", "pytorch_lightning", "transformers"):
        monkeypatch.setitem(sys.modules, package, None)  # what Python does for a package not installed
    monkeypatch.delitem(sys.modules, f"tunewidgets.integrations.{module}", raising=False)
    with pytest.raises(ImportError, match=rf"pip install 'tunewidgets\[{extra}\]'"):
        importlib.import_module(f"tunewidgets.integrations.{module}")
    monkeypatch.delitem(sys.modules, f"tunewidgets.integrations.{module}", raising=False)


SWEEP_EXECUTORS = ["thread", pytest.param("process", marks=pytest.mark.slow)]


@pytest.mark.parametrize("executor", SWEEP_EXECUTORS)
@pytest.mark.parametrize("library", ["lightning", "transformers"])
def test_a_sweep_with_the_halving_pruner_prunes_bad_trials_early_and_ranks_by_val_loss(library, executor):
    fit, base = LIBRARIES[library]
    epochs = 9
    sw = tw.sweep(fit, tw.Space(lr=tw.LogUniform(1e-7, 0.3)), n_trials=6, seed=0, base={**base, "epochs": epochs},
                  pruner="halving", executor=executor, start=False, quiet=True)
    for lr in (base["lr"],) * 2 + (1e-7, 1.1e-7, 1.2e-7, 1.3e-7):
        sw.study.enqueue_trial({"lr": lr})
    sw.start()
    table = sw.table()
    assert sw.objective == tw.Objective("val_loss", "minimize")
    finished = table[table["status"].isin(["complete", "pruned"])]
    assert list(finished["val_loss"]) == sorted(finished["val_loss"]), table  # ranked by val_loss
    good, bad = table[table["lr"] > 1e-3], table[table["lr"] < 1e-3]
    assert (good["status"] == "complete").all() and (good["epochs_trained"] == epochs).all(), table
    pruned = bad[bad["status"] == "pruned"]
    assert len(pruned) >= 2 and (pruned["epochs_trained"] < epochs).all(), table
    assert sw.best_trial.params["lr"] == base["lr"]
