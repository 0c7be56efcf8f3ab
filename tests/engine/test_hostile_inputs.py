"""Live knobs, forks, objectives, custom metrics and the LR finder's range under hostile input: each
mistake is refused in words that name it, and what the table says agrees with what Optuna keeps."""

import sys
import threading

import optuna
import pytest

import tunewidgets as tw
from helpers.settings import SMALL
from tunewidgets.ui import TrainPanel

ONE_EPOCH = SMALL.replace(epochs=1)


# ---- live knobs and forks ---------------------------------------------------------------------
def test_knobs_moved_from_four_threads_all_stick(digits):
    run = tw.Run(digits, SMALL.replace(optimizer="momentum"))
    knobs = {"lr": [0.001 * (i + 1) for i in range(150)], "weight_decay": [1e-5 * (i + 1) for i in range(150)],
             "l1": [1e-6 * (i + 1) for i in range(150)], "momentum": [0.5 + 0.003 * i for i in range(150)]}
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch as often as they can: a lost update shows
    try:
        threads = [threading.Thread(target=lambda k=k, values=values: [run.update(**{k: v}) for v in values])
                   for k, values in knobs.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(before)
    assert {k: getattr(run.hparams, k) for k in knobs} == {k: values[-1] for k, values in knobs.items()}


def test_a_typo_in_a_knob_is_told_it_is_no_hyperparameter(digits):
    run = tw.train(digits, SMALL.replace(epochs=30), background=True)
    try:
        with pytest.raises(ValueError, match="'learning_rate' is not a hyperparameter: the live knobs are lr"):
            run.update(learning_rate=1e-3)
    finally:
        run.stop()
        run.wait(60)


def test_momentum_zero_with_nesterov_momentum_is_refused_everywhere(digits):
    words = r"momentum=0 is not allowed with optimizer='momentum' .*must be in \(0, 1\)"
    with pytest.raises(ValueError, match=words):
        tw.train(digits, SMALL.replace(optimizer="momentum", momentum=0.0))
    run = tw.train(digits, ONE_EPOCH.replace(optimizer="momentum"))
    with pytest.raises(ValueError, match=words):
        run.fork(epochs=1, momentum=0.0)
    live = tw.train(digits, SMALL.replace(optimizer="momentum", epochs=30), background=True)
    live.pause()  # not ended when the update comes
    try:
        with pytest.raises(ValueError, match=words):
            live.update(momentum=0.0)
    finally:
        live.stop()
        live.wait(60)
    panel = TrainPanel(digits, ONE_EPOCH.replace(optimizer="momentum"))
    panel.controls.fields["momentum"].value = 0.0
    assert not panel.controls.valid and "momentum=0 is not allowed" in panel.controls.error


def test_forking_a_diverged_run_is_refused_in_words(digits):
    run = tw.train(digits, SMALL.replace(lr=100.0, optimizer="sgd", epochs=2))
    assert run.status == "diverged"
    with pytest.raises(ValueError, match=f"{run.name} has weights that are not finite .*lower lr"):
        run.fork(epochs=1)


def test_continuing_a_run_of_other_data_in_a_panel_is_refused(digits):
    digits_run = tw.train(digits, ONE_EPOCH)
    iris = TrainPanel(tw.load_dataset("iris"), ONE_EPOCH)
    with pytest.raises(ValueError, match="trained on 'digits', this panel on 'iris'"):
        iris.continue_run(digits_run)
    assert iris.runs == []


# ---- custom metrics and objectives -------------------------------------------------------------
def test_a_metric_that_returns_text_names_the_metric(digits):
    run = tw.train(digits, ONE_EPOCH, metrics={"mood": lambda out, y: "good"})
    assert run.status == "failed"
    assert "metric 'mood' returned 'good': a metric must return one number" in str(run.error)


@pytest.mark.parametrize("name", ["accuracy", "loss", "r2"])
def test_a_metric_named_like_a_built_in_is_refused(digits, name):
    with pytest.raises(ValueError, match=f"metrics\\['{name}'\\] is not allowed: '{name}' is a built-in metric"):
        tw.train(digits, ONE_EPOCH, metrics={name: lambda out, y: 0.5})
    with pytest.raises(ValueError, match=f"'{name}' is a built-in metric"):
        tw.sweep(digits, tw.Space(lr=[0.01]), base=ONE_EPOCH, metrics={name: lambda out, y: 0.5}, start=False)


def test_an_objective_that_is_not_a_name_is_named_by_its_place(digits):
    with pytest.raises(ValueError, match=r"objectives\[1\]=5 is not allowed: each objective is a metric name"):
        tw.sweep(digits, tw.Space(lr=[0.01]), base=ONE_EPOCH, objectives=["val_accuracy", 5])


@pytest.mark.parametrize("cost", ["params", "seconds"])
def test_a_pruner_with_only_a_cost_to_judge_is_refused_out_loud(digits, cost):
    with pytest.raises(ValueError, match=f"pruner='median' has nothing to judge: '{cost}' is known only when a "
                                         f"trial ends"):
        tw.sweep(digits, tw.Space(lr=[0.01]), base=ONE_EPOCH, metric=cost, pruner="median")


def test_a_nan_second_objective_fails_the_trial_in_the_table_and_in_the_study(digits):
    sw = tw.sweep(digits, tw.Space(units=[8, 16]), strategy="grid", base=ONE_EPOCH,
                  metrics={"nanny": lambda out, y: float("nan")}, objectives=["val_accuracy", "val_nanny"])
    table = sw.table()
    assert list(table["status"]) == ["failed", "failed"]
    assert all(r.error == "no finite val_nanny was measured" for r in sw.records())
    assert [t.state for t in sw.study.trials] == [optuna.trial.TrialState.FAIL] * 2


# ---- the LR finder's range --------------------------------------------------------------------
def test_a_loss_that_never_blows_up_gives_a_range_up_to_the_highest_rate_tried(digits):
    """Rates too small to learn anything: the loss stays at ln(10) give or take batch noise."""
    result = tw.lr_find(digits, SMALL.replace(optimizer="sgd", seed=0), start_lr=1e-7, end_lr=1e-4, steps=60)
    assert max(result.smoothed) < 1.1 * min(result.smoothed)  # flat: nothing blew up
    assert result.blow_up == result.lrs[-1]
    assert result.space().high == pytest.approx(result.lrs[-1])


def test_a_real_blow_up_still_caps_the_range(digits):
    result = tw.lr_find(digits, SMALL.replace(optimizer="sgd", seed=0), start_lr=1e-6, end_lr=10.0, steps=60)
    assert result.stopped_early and result.blow_up < result.lrs[-1]
    assert result.space().high < result.lrs[-1]


def test_the_sweep_settings_say_a_cost_alone_leaves_the_pruner_nothing_to_judge():
    from tunewidgets.ui.sweep.settings import SweepSettings

    settings = SweepSettings(pruner="median", metric="params")
    assert not settings.valid and "pruner='median' has nothing to judge" in settings.error
    settings.fields["pruner"].value = "none"
    assert settings.valid
