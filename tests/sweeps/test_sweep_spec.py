"""SweepSpec: what a sweep's study stores is enough to rebuild it, and sweeps stored by earlier versions
(one objective as ``metric``/``direction``) still load."""

import optuna

import tunewidgets as tw
from tunewidgets.objective import Objective, Objectives
from tunewidgets.sweeps.results import SWEEP_ATTR
from tunewidgets.sweeps.spec import SweepSpec


def test_a_stored_sweep_keeps_its_spec_and_names_each_objective_once(base, digits, tmp_path):
    url = f"sqlite:///{tmp_path / 'spec.db'}"
    space = tw.Space(lr=[0.01, 0.03])
    sw = tw.sweep(digits, space, strategy="grid", base=base.replace(epochs=1), storage=url, name="s",
                  objectives=["val_accuracy", "params"], seed=3)
    stored = optuna.load_study(study_name="s", storage=url).user_attrs[SWEEP_ATTR]
    assert "metric" not in stored and [o["metric"] for o in stored["objectives"]] == ["val_accuracy", "params"]
    spec = SweepSpec.from_attr(stored)
    assert spec.space.to_dict() == space.to_dict() and spec.objectives == sw.spec.objectives
    assert (spec.strategy, spec.pruner, spec.seed, spec.n_trials) == ("grid", None, 3, 2)
    assert spec.base == sw.base and spec.task == "classification" and spec.data == digits.name
    assert spec.to_attr() == stored  # read back and stored again, nothing changes


def test_a_sweep_stored_with_one_metric_and_direction_still_loads():
    attr = {"kind": "torch", "space": tw.Space(lr=[0.01, 0.1]).to_dict(), "metric": "val_loss",
            "direction": "minimize", "strategy": "grid", "pruner": "median", "seed": None, "n_trials": 2,
            "base": tw.HParams(epochs=3).to_dict(), "data": "digits", "task": "classification", "metrics": []}
    spec = SweepSpec.from_attr(attr)
    assert spec.objectives == Objectives((Objective("val_loss", "minimize"),)) and spec.max_epochs == 3
    assert spec.base == tw.HParams(epochs=3) and spec.pruner == "median" and not spec.about


def test_a_factory_model_is_stored_by_name_and_must_be_given_again():
    def tiny(hp, data):
        raise AssertionError("never built here")

    spec = SweepSpec(tw.Space(lr=[0.01]), Objectives.of(Objective("val_accuracy")), base=tw.HParams(model=tiny),
                     stored_base=SweepSpec.storable_base(tw.HParams(model=tiny)))
    back = SweepSpec.from_attr(spec.to_attr())
    assert back.stored_base["model"] == "tiny" and back.base is None  # resume(base=...) brings it again
