"""Several objectives: accuracy against model size (or time), the Pareto front in the table, from
``pareto_front()`` and in the SweepPanel; and the panel's Pause."""

import pytest

import tunewidgets as tw
from tunewidgets.ui import SweepPanel
from helpers.settings import SMALL
from helpers.waiting import wait_for

SIZES = tw.Space(units=tw.Choice([4, 16, 64, 256]), lr=tw.LogUniform(1e-3, 1e-2, n=2))


@pytest.fixture(scope="module")
def tradeoff(digits):
    return tw.sweep(digits, SIZES, strategy="grid", base=SMALL, objectives=["val_accuracy", "params"])


def test_the_front_holds_and_every_front_point_beats_every_other_trial_somewhere(tradeoff):
    table = tradeoff.table()
    assert list(table.columns[:6]) == ["rank", "trial", "status", "pareto", "val_accuracy", "params"]
    front, rest = table[table["pareto"]], table[~table["pareto"]]
    assert len(front) >= 2 and (front["rank"] < rest["rank"].min()).all()
    for _, f in front.iterrows():  # non-dominated: no other trial is at least as good in both
        for _, r in table.iterrows():
            if r["trial"] != f["trial"]:
                assert f["val_accuracy"] > r["val_accuracy"] or f["params"] < r["params"] or \
                    (f["val_accuracy"], f["params"]) == (r["val_accuracy"], r["params"])
    hps = tradeoff.pareto_front()
    assert [hp.units for hp in hps] == [int(u) for u in front["units"]]
    assert tradeoff.study.directions[1].name == "MINIMIZE"


def test_several_objectives_refuse_pruners_and_single_objective_questions(digits, base):
    with pytest.raises(ValueError, match="does not apply to several objectives"):
        tw.sweep(digits, SIZES, objectives=["val_accuracy", "params"], pruner="median", base=base)
    with pytest.raises(ValueError, match="either metric=/direction="):
        tw.sweep(digits, SIZES, objectives=["val_accuracy", "params"], metric="val_loss", base=base)
    with pytest.raises(ValueError, match="objectives=.*val_accuracy.*twice"):
        tw.sweep(digits, SIZES, objectives=["val_accuracy", "val_accuracy"], base=base)
    one = tw.sweep(digits, tw.Space(lr=[0.01]), base=base.replace(epochs=1))
    with pytest.raises(ValueError, match="needs several objectives"):
        one.pareto_front()


def test_a_cost_first_or_alone_is_the_trials_value(digits, base):
    """Model size or time as the first objective (or the only one) ranks and completes every trial."""
    small = base.replace(epochs=1, layers=1)
    alone = tw.sweep(digits, tw.Space(units=[8, 64]), strategy="grid", base=small, metric="params")
    table = alone.table()
    assert list(table["status"]) == ["complete"] * 2 and list(table["units"]) == [8, 64]
    assert alone.best_value == table["params"].iloc[0] == 64 * 8 + 8 + 8 * 10 + 10
    first = tw.sweep(digits, tw.Space(units=[8, 64]), strategy="grid", base=small,
                     objectives=["seconds", "val_accuracy"])
    for record in first.records():
        assert record.status == "complete" and record.value == record.values[0] == record.seconds


def test_time_and_a_direction_as_objectives_survive_a_reload(digits, base, tmp_path):
    url = f"sqlite:///{tmp_path}/mo.db"
    tw.sweep(digits, tw.Space(units=[8, 64]), strategy="grid", base=base.replace(epochs=2), storage=url, name="t",
             objectives=["val_loss", ("seconds", "minimize")])
    loaded = tw.load_sweep(url, "t")
    assert [(o.metric, o.direction) for o in loaded.objectives] == [("val_loss", "minimize"),
                                                                    ("seconds", "minimize")]
    assert "pareto" in loaded.table().columns and loaded.table()["pareto"].any()


def test_the_sweep_panel_draws_the_front_live_and_pauses(digits):
    panel = SweepPanel(digits, SIZES, base=SMALL,
                       strategy="grid", n_trials=8, objectives=("val_accuracy", "params"))
    panel.settings["epochs"].value = 40
    sw = panel.launch()
    assert sw.objectives[1].metric == "params"
    wait_for(lambda: any(r.rows for r in sw.records()), 60)
    panel.buttons["pause"].click()
    assert sw.status == "paused" and panel.buttons["pause"].description == "Resume"
    panel.buttons["pause"].click()
    assert sw.status == "running" and panel.buttons["pause"].description == "Pause"
    panel.wait(120)
    points = panel.pareto.points.data
    assert panel.pareto.figure.visible and sorted(points["trial"]) == list(range(8))
    front = sw.table()
    assert sorted(x for x, red in zip(points["x"], points["color"]) if red == "#d62728") == \
        sorted(front.loc[front["pareto"], "val_accuracy"])
    assert panel.pareto.front.data["x"] == sorted(panel.pareto.front.data["x"])  # joined in order
    assert "units" in points["label"][0] and "lr" in points["label"][0]
    again = panel.launch()  # a new sweep starts with an empty trade-off chart, not the last one's points
    assert panel.pareto.points.data["trial"] == [] and panel.pareto.front.data["x"] == []
    again.stop()
    panel.wait(60)
