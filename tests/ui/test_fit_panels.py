"""The panels over your own training function: ``tw.TrainPanel(fit, space, base={...})`` builds a control
per dimension, trains in the background with live curves of what the function reports, takes moved
controls as live knobs, keeps runs in a file; ``tw.SweepPanel(fit, ...)`` sweeps it and Apply best
loads the best values into the TrainPanel. Real ipywidgets, real Bokeh figures, real training.
"""

from __future__ import annotations

import math
import time

import ipywidgets as widgets
import pytest
import torch

import tunewidgets as tw
from helpers.fits import TEXT, fit_text, fit_vae, VAE_PARAMS
from helpers.waiting import wait_for

SPACE = tw.Space(lr=tw.LogUniform(1e-3, 0.3), dropout=tw.Uniform(0.0, 0.5), dim=tw.IntRange(8, 32, step=8),
                 batch_size=[16, 32, 64])


def test_a_control_per_dimension_first_values_from_base_and_the_fixed_values_shown():
    panel = tw.TrainPanel(fit_text, SPACE, base={"lr": 0.1, "epochs": 6, "seed": 3})
    fields = panel.controls.fields
    assert list(fields) == ["lr", "dropout", "dim", "batch_size"]
    assert isinstance(fields["lr"], widgets.FloatLogSlider) and isinstance(fields["dropout"], widgets.FloatSlider)
    assert isinstance(fields["dim"], widgets.BoundedIntText) and isinstance(fields["batch_size"], widgets.Dropdown)
    # lr from base; the others: the middle of a range, the middle integer, the first choice
    assert panel.hparams == {"lr": 0.1, "epochs": 6, "seed": 3, "dropout": 0.25, "dim": 16, "batch_size": 16}
    assert "epochs=6" in panel.controls.fixed.value and "seed=3" in panel.controls.fixed.value
    without_lr = {k: v for k, v in TEXT.items() if k != "lr"}
    assert tw.TrainPanel(fit_text, tw.Space(lr=tw.LogUniform(1e-4, 1e-2)), base=without_lr).hparams["lr"] == \
        pytest.approx(1e-3)  # the log-middle


def test_buttons_that_need_the_built_in_trainer_are_disabled_with_the_reason_shown():
    panel = tw.TrainPanel(fit_text, SPACE, base=TEXT)
    assert panel.buttons["find_lr"].disabled and panel.buttons["continue"].disabled
    assert not panel.buttons["start"].disabled
    assert "Find LR and Continue need the built-in trainer" in panel.built_in_only.value
    with pytest.raises(RuntimeError, match="Find LR: .*fit_text is your own loop"):
        panel.find_lr()


def test_a_value_outside_its_dimension_names_the_field_and_disables_start():
    panel = tw.TrainPanel(fit_text, SPACE, base=TEXT)
    panel.controls.set_hparams({"lr": 5.0})  # a loaded value widens the slider, and is reported
    assert panel.buttons["start"].disabled and "lr=5.0 is not allowed: must be a number in 0.001..0.3" \
        in panel.controls.error
    with pytest.raises(ValueError, match="lr=5.0 is not allowed"):
        panel.start()
    panel.controls.set_hparams({"lr": 0.1})
    assert not panel.buttons["start"].disabled


def test_the_panel_trains_the_fit_and_plots_what_it_reports():
    panel = tw.TrainPanel(fit_text, SPACE, base=TEXT, metric="val_accuracy")
    run = panel.start()
    assert panel.wait(60) == "completed" and run.best_metric > 0.9
    assert panel.curves.rows(run.id) == TEXT["epochs"]
    slot = panel.curves.slot_of(run.id)
    data = slot.epochs.data
    assert all(math.isfinite(v) for v in data["train_loss"]) and data["train_loss"][-1] < data["train_loss"][0]
    assert data["metric"][-1] == pytest.approx(run.history["val_accuracy"].iloc[-1])
    assert panel.curves.metric_figure.title.text == "val accuracy"
    name, status, best, _seconds, values = panel.history.cells(0)
    assert (name, status, best) == ("run 1", "completed", f"{run.best_metric:.4f}")
    assert "lr 0.1" in values and "dim 16" in values and "batch size 32" in values  # its own names


def test_the_metric_plot_shows_the_first_metric_reported_when_the_panel_optimizes_a_loss():
    panel = tw.TrainPanel(fit_vae, tw.Space(kl_weight=tw.Uniform(0.1, 1.0)), base={**VAE_PARAMS, "epochs": 2})
    assert panel.metric == "val_loss" and panel.plotted_metric is None
    run = panel.start()
    panel.wait(60)
    assert run.status == "completed" and panel.plotted_metric == "val_reconstruction"
    assert panel.curves.metric_figure.title.text == "val reconstruction"


def test_a_moved_control_reaches_the_running_fit_and_its_optimizer_and_stop_ends_its_loop():
    panel = tw.TrainPanel(fit_text, SPACE, base={**TEXT, "epochs": 500}, metric="val_accuracy")
    run = panel.start()
    wait_for(lambda: run.epochs_done >= 1, timeout=60)
    panel.pause()
    assert "a moved control reaches it at its next report" in panel.controls.lock_note.value  # locked: none
    assert not panel.controls.fields["lr"].disabled and not panel.controls.fields["dim"].disabled  # all live
    panel.controls.fields["lr"].value = 0.01
    panel.controls.fields["dropout"].value = 0.4
    panel.resume()
    wait_for(lambda: run.history["optimizer_lr"].iloc[-1] == pytest.approx(0.01, rel=1e-3), timeout=60)
    assert run.history["dropout_in_model"].iloc[-1] == pytest.approx(0.4, rel=1e-3)  # the watched module
    assert run.hparams["lr"] == pytest.approx(0.01, rel=1e-3)
    panel.stop()
    assert panel.wait(60) == "stopped" and run.epochs_done < 500  # fit_text never reads should_stop


def test_runs_of_the_fit_are_kept_in_a_file_and_shown_again_by_a_new_panel(tmp_path):
    url = "sqlite:///" + str(tmp_path / "runs.db")
    panel = tw.TrainPanel(fit_text, SPACE, base={**TEXT, "epochs": 2}, storage=url, metric="val_accuracy")
    run = panel.start()
    panel.wait(60)
    other = tw.TrainPanel(fit_vae, tw.Space(kl_weight=tw.Uniform(0.1, 1.0)), base={**VAE_PARAMS, "epochs": 1},
                          storage=url)
    other.start()
    other.wait(60)
    again = tw.TrainPanel(fit_text, SPACE, base={**TEXT, "epochs": 2}, storage=url, metric="val_accuracy")
    assert [r.name for r in again.runs] == [run.name] and again.runs[0].hparams == run.hparams
    assert again.runs[0].best_metric == run.best_metric and len(again.runs[0].history) == 2
    assert "1 run(s) of other training functions are kept in the file" in again.message.value
    assert again.start().name == "run 3"  # numbered across the panels sharing the file
    again.wait(60)


def test_the_sweep_panel_sweeps_the_fit_and_apply_best_loads_it_into_the_train_panel():
    space = tw.Space(lr=tw.LogUniform(1e-3, 0.3), dim=[8, 32])
    tp = tw.TrainPanel(fit_text, space, base=TEXT, metric="val_accuracy")
    sp = tw.SweepPanel(fit_text, space, base=TEXT, metric="val_accuracy", train_panel=tp, n_trials=4, seed=0)
    assert list(sp.editor.rows) == ["lr", "dim"] and "batched" not in sp.settings["executor"].options
    assert sp.buttons["lr_range"].disabled and sp.settings["epochs"].layout.display != "none"
    sp.settings["epochs"].value = 3
    sw = sp.launch()
    assert sp.wait(120) == "completed" and sw.objective == tw.Objective("val_accuracy", "maximize")
    table = sw.table()
    assert (table["epochs_trained"] == 3).all() and len(table) == 4
    best = sp.apply_best()
    assert best == {**TEXT, "epochs": 3, "lr": sw.best["lr"], "dim": sw.best["dim"]} and tp.hparams == best
    assert "epochs=3" in tp.controls.fixed.value  # what the next run trains, shown
    sp.editor.rows["dim"].inputs["values"].value = "16, 24"  # choices keep the type they were given
    assert sp.space.dims["dim"] == tw.Choice([16, 24])


def test_a_sweep_panel_hides_epochs_when_the_fit_has_none_and_refuses_built_in_words():
    base = {k: v for k, v in TEXT.items() if k != "epochs"}

    def fit_two_epochs(p, report):
        return fit_text(tw.Params.reading({**p, "epochs": 2}), report)

    sp = tw.SweepPanel(fit_two_epochs, tw.Space(lr=tw.LogUniform(1e-3, 0.3)), base=base, metric="val_accuracy",
                       n_trials=2)
    assert sp.settings["epochs"].layout.display == "none"
    sw = sp.launch()
    assert sp.wait(60) == "completed" and sw.spec.stored_base == base and "epochs" not in sw.best
    with pytest.raises(ValueError, match="metric= and direction= are for a training function"):
        tw.SweepPanel(tw.load_dataset("digits"), metric="val_loss")
    with pytest.raises(ValueError, match="base=, metric= and direction= are for a training function"):
        tw.TrainPanel(tw.load_dataset("digits"), base={"lr": 0.1})


def test_reset_and_a_clicked_run_load_values_back_into_the_controls():
    panel = tw.TrainPanel(fit_text, SPACE, base={**TEXT, "epochs": 1})
    first = dict(panel.hparams)
    panel.controls.fields["dim"].value = 32
    panel.controls.fields["batch_size"].value = 64
    run = panel.start()
    panel.wait(60)
    panel.reset()
    assert panel.hparams == first
    panel.history.select(0)  # a click on the run's row
    assert panel.hparams == dict(run.hparams) and panel.hparams["dim"] == 32 and panel.hparams["batch_size"] == 64


def test_a_fit_that_counts_its_own_epochs_shows_epochs_done_and_stays_steerable():
    def fit_own_epochs(p, report):  # no p.epochs: it decides itself
        return fit_text(tw.Params.reading({**p, "epochs": 300}), report)

    panel = tw.TrainPanel(fit_own_epochs, tw.Space(lr=tw.LogUniform(1e-3, 0.3)), base={**TEXT, "lr": 0.1})
    assert "epochs" in panel.hparams  # TEXT has one, but the function ignores it
    panel = tw.TrainPanel(fit_own_epochs, tw.Space(lr=tw.LogUniform(1e-3, 0.3)),
                          base={k: v for k, v in TEXT.items() if k != "epochs"})
    run = panel.start()
    wait_for(lambda: run.epochs_done >= 2 and "epoch 2" in panel.status.value, timeout=60)
    assert not panel.buttons["stop"].disabled and "epoch 2/" not in panel.status.value
    panel.stop()
    assert panel.wait(60) == "stopped"


def test_the_metric_plot_never_picks_a_moved_knob():
    def fit_losses_only(p, report):
        for _ in range(100):
            time.sleep(0.01)
            report.epoch(loss=p.lr, val_loss=p.lr)

    panel = tw.TrainPanel(fit_losses_only, tw.Space(lr=tw.LogUniform(1e-3, 0.3), momentum=tw.Uniform(0.0, 0.9)))
    run = panel.start()
    wait_for(lambda: run.epochs_done >= 2, timeout=30)
    run.update(momentum=0.5)
    panel.wait(60)
    assert "momentum" in run.history.columns and panel.plotted_metric is None


def test_a_sweep_panel_keeps_the_executor_asked_for_and_refuses_what_a_fit_cannot_do():
    space = tw.Space(lr=tw.LogUniform(1e-3, 0.3))
    assert tw.SweepPanel(fit_text, space, base=TEXT, executor="process").settings["executor"].value == "process"
    with pytest.raises(ValueError, match="executor='batched' trains the built-in models only"):
        tw.SweepPanel(fit_text, space, base=TEXT, executor="batched")
    with pytest.raises(ValueError, match="needs a tw.Space of the values to search"):
        tw.SweepPanel(fit_text, base=TEXT)
    with pytest.raises(ValueError, match="must be a tw.Data"):
        tw.TrainPanel(torch.nn.Linear(2, 2))  # a model is callable, but no training function
