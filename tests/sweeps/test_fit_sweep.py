"""Sweeping your own training function in the kernel: any names in the space and the base, any metric
it reports (its direction inferred or asked for), every strategy and pruner, several objectives and
the importances, and each mistake refused in words before a trial runs. What holds on every executor
is in ``contract/test_fit_sweep_contract.py``.
"""

from __future__ import annotations

import math

import pytest

import tunewidgets as tw
from helpers.fits import MULTILABEL, TEXT, VAE_PARAMS, fit_multilabel, fit_text, fit_vae


def quick(fit, space, base, **kwargs):
    return tw.sweep(fit, space, base=base, seed=0, quiet=True, **kwargs)


def test_a_vae_sweeps_its_own_loss_weight_and_ranks_by_the_loss_it_reports():
    """kl_weight is no field of the built-in trainer: the space takes it, the fit reads p.kl_weight."""
    sw = quick(fit_vae, tw.Space(kl_weight=tw.Choice([0.05, 2.0])), {**VAE_PARAMS, "epochs": 3}, strategy="grid",
               metric="val_reconstruction", direction="minimize")  # no word of the name says (see below)
    assert sw.objective == tw.Objective("val_reconstruction", "minimize")
    table = sw.table()
    assert list(table["status"]) == ["complete", "complete"], table
    # A light KL term leaves the decoder freer to reconstruct: the sweep finds it best.
    assert table.iloc[0]["kl_weight"] == 0.05 and table.iloc[0]["val_reconstruction"] < table.iloc[1]["val_reconstruction"]


def test_the_direction_is_inferred_from_the_name_or_asked_for():
    assert tw.Objective.named("val_top1_acc").direction == "maximize"
    assert tw.Objective.named("recon_loss").direction == "minimize"
    assert tw.Objective.named("val_f1").direction == "maximize"
    assert tw.Objective.named("error_rate", "minimize").direction == "minimize"
    with pytest.raises(ValueError, match="metric='val_reconstruction' needs direction='maximize' or 'minimize'"):
        quick(fit_vae, tw.Space(kl_weight=tw.Uniform(0.1, 1)), VAE_PARAMS, metric="val_reconstruction", n_trials=1)


@pytest.mark.parametrize("strategy", ["random", "bayes", "gp"])
@pytest.mark.parametrize("pruner", ["halving", "hyperband"])
def test_every_strategy_and_pruner_sweeps_a_fit(strategy, pruner):
    sw = quick(fit_text, tw.Space(lr=tw.LogUniform(1e-3, 0.3), dropout=tw.Uniform(0, 0.5)), {**TEXT, "epochs": 3},
               strategy=strategy, pruner=pruner, n_trials=4, metric="val_accuracy")
    table = sw.table()
    assert len(table) == 4 and set(table["status"]) <= {"complete", "pruned"}, table
    assert sw.best_value > 0.8 and set(sw.best) == set(TEXT)


def test_hyperband_finds_its_top_from_the_trials_when_the_fit_has_no_epochs_value():
    base = {k: v for k, v in TEXT.items() if k != "epochs"}

    def fit_four_epochs(p, report):
        return fit_text(tw.Params.reading({**p, "epochs": 4}), report)

    sw = quick(fit_four_epochs, tw.Space(lr=tw.LogUniform(1e-3, 0.3)), base, pruner="hyperband", n_trials=3,
               metric="val_accuracy")
    assert sw.spec.max_epochs is None and set(sw.table()["status"]) <= {"complete", "pruned"}


def test_several_objectives_give_a_pareto_front_of_params_dicts_and_importances():
    space = tw.Space(hidden=tw.Choice([4, 64]), lr=tw.LogUniform(1e-3, 3e-2))
    sw = quick(fit_multilabel, space, {**MULTILABEL, "epochs": 2}, n_trials=6, objectives=["val_accuracy", "params"])
    table = sw.table()
    assert set(table["status"]) == {"complete"} and table["params"].nunique() == 2, table
    front = sw.pareto_front()
    assert front and all(isinstance(p, dict) and set(p) == set(MULTILABEL) for p in front)
    assert min(p["hidden"] for p in front) == 4  # the smallest model is never dominated in size
    importances = sw.importances()
    assert set(importances) == {"hidden", "lr"} and math.isclose(sum(importances.values()), 1.0, rel_tol=1e-6)


def test_params_as_an_objective_needs_the_model_and_says_so():
    def fit_keeping_its_model(p, report):  # neither returns nor watches a model
        for epoch in range(2):
            report.epoch(val_accuracy=0.5 + p.lr * epoch)

    sw = quick(fit_keeping_its_model, tw.Space(lr=[0.1]), {**TEXT, "epochs": 1}, objectives=["val_accuracy", "params"])
    record = sw.records()[0]
    assert record.status == "failed" and "objective 'params' needs the model: return it from fit_keeping_its_model" \
        in record.error


@pytest.mark.parametrize("kwargs, words", [
    ({"executor": "batched"}, "executor='batched' trains the built-in models only"),
    ({"group_size": 4}, "executor='batched' trains the built-in models only"),
    ({"metrics": {"f1": len}}, "a training function reports its own, report.epoch(val_top2=...)"),
    ({"base": [("lr", 0.1)]}, "give a training function's fixed values as a dict"),
    ({"base": {**TEXT, "loader": object()}}, "base['loader']=<object"),
    ({"base": {**TEXT, "lr": math.nan}}, "base['lr']=nan is not allowed"),
    ({"base": {1: 2}}, "base key 1 is not allowed"),
    ({"metric": "val_accuracy", "objectives": ["val_loss"]}, "not both"),
    ({"objectives": ["val_loss", "params"], "pruner": "median"}, "does not apply to several objectives"),
])
def test_mistakes_in_a_fit_sweep_are_refused_in_words_before_any_trial(kwargs, words):
    kwargs = {"base": TEXT, **kwargs}
    with pytest.raises(ValueError) as info:
        tw.sweep(fit_text, tw.Space(lr=tw.LogUniform(1e-3, 0.3)), n_trials=1, quiet=True, **kwargs)
    assert words in str(info.value), str(info.value)


def test_a_space_takes_any_names_and_the_built_in_trainer_checks_its_own_where_it_is_used():
    space = tw.Space(kl_weight=tw.Uniform(0.1, 1.0), optimizer=tw.Choice(["lbfgs", "adam"]), lr=tw.LogUniform(1e-3, 500))
    assert space.names == ["kl_weight", "optimizer", "lr"]  # a fit may build any optimizer, any rate
    data = tw.load_dataset("digits")
    with pytest.raises(ValueError, match="unknown hyperparameter 'kl_weight' in the space: known are"):
        tw.sweep(data, space, n_trials=1)
    with pytest.raises(ValueError, match="optimizer.*'lbfgs'.*one of"):
        tw.sweep(data, tw.Space(optimizer=tw.Choice(["lbfgs", "adam"])), n_trials=1)


def test_a_resumed_fit_sweep_keeps_its_base():
    sw = quick(fit_text, tw.Space(lr=tw.LogUniform(1e-2, 0.3)), {**TEXT, "epochs": 1}, n_trials=1,
               metric="val_accuracy")
    with pytest.raises(ValueError, match="differs from the stored"):
        sw.resume(1, base={**TEXT, "epochs": 5})
    with pytest.raises(ValueError, match="fit= only applies to sweeps of a training function"):
        quick(tw.load_dataset("digits"), tw.Space(lr=tw.LogUniform(1e-2, 0.3)), tw.HParams(epochs=1),
              n_trials=1).resume(1, fit=fit_text)
    assert sw.resume(1, fit=fit_text).status == "completed" and len(sw.table()) == 2
