"""tw.sweep(..., strategy="pbt"): a population as one batched group, its lineage in the table, and what
it refuses in words."""


import pytest

import tunewidgets as tw
from helpers.population_checks import assert_pauses_resumes_and_stops
from helpers.waiting import wait_for

SPACE = tw.Space(lr=tw.LogUniform(1e-5, 5e-2), weight_decay=tw.Uniform(0.0, 1e-3))


def population_base(base, epochs=6):
    return base.replace(epochs=epochs, optimizer="adam")


def test_a_population_trains_as_one_group_and_each_member_shows_its_lineage(base, digits, tmp_path):
    storage = f"sqlite:///{tmp_path / 'pbt.db'}"
    sw = tw.sweep(digits, SPACE, strategy="pbt", population=8, interval=2, base=population_base(base),
                  metric="val_loss", seed=0, storage=storage, name="pbt", quiet=True)
    assert sw.executor.groups == [list(range(8))] and sw.executor.fallbacks == []
    table = sw.table().set_index("trial")
    assert len(table) == 8 and set(table["status"]) == {"complete"} and (table["epochs_trained"] == 6).all()
    # judged after epochs 2 and 4 (not 6), each time the worst 2 of 8 copy one of the best 2
    assert table["exploits"].sum() == 4 and set(table["exploits"]) <= {0, 1, 2}
    records = {r.number: r for r in sw.records()}
    for trial, row in table.iterrows():
        lineage = records[trial].extra["lineage"]
        assert row["exploits"] == len(lineage)
        assert row["parents"] == ", ".join(str(jump["parent"]) for jump in lineage)
        assert [jump["epoch"] for jump in lineage] == sorted(jump["epoch"] for jump in lineage)
        assert all(jump["epoch"] in (2, 4) and jump["parent"] != trial for jump in lineage)
        history = sw.runs[trial]
        assert "weight_decay" in history and history["weight_decay"].between(0.0, 1e-3).all()
        for jump in lineage:  # the history shows the values it trained on after each jump
            assert history["weight_decay"].iloc[jump["epoch"]] == pytest.approx(jump["values"]["weight_decay"])
    assert "lineage" not in table  # the whole lineage stays in the records
    again = tw.load_sweep(storage, "pbt").table().set_index("trial")
    assert again["parents"].tolist() == table["parents"].tolist()
    assert again["exploits"].tolist() == table["exploits"].tolist()


@pytest.mark.parametrize("executor", ["batched", "thread"])
def test_a_member_that_barely_learns_continues_from_a_good_members_weights(base, digits, executor):
    """Members that start with a learning rate too small to learn take a good member's weights: the
    epoch after the exploit their validation loss is the donor's level, not their own."""
    sw = tw.sweep(digits, tw.Space(lr=tw.LogUniform(1e-6, 3e-2)), strategy="pbt", executor=executor, population=8, interval=2,
                  base=population_base(base), metric="val_loss", seed=3, quiet=True)
    curves = sw.curves()
    jumped = [r for r in sw.records() if r.extra["exploits"]]
    assert jumped
    for record in jumped:
        at = record.extra["lineage"][0]["epoch"]
        own = curves[curves["trial"] == record.number].set_index("epoch")["val_loss"]
        donor = curves[curves["trial"] == record.extra["lineage"][0]["parent"]].set_index("epoch")["val_loss"]
        assert own[at] > 2 * donor[at], (own, donor)  # it was far behind when judged
        assert own[at + 1] < own[at] / 2 and abs(own[at + 1] - donor[at + 1]) < abs(own[at] - donor[at]) / 3, (own, donor)


@pytest.mark.parametrize("executor", ["batched", "thread"])
def test_a_population_pauses_and_stops_as_a_sweep_does(base, digits, executor):
    sw = tw.sweep(digits, SPACE, strategy="pbt", executor=executor, population=4, interval=2, base=population_base(base, epochs=200),
                  seed=0, background=True, quiet=True)
    assert_pauses_resumes_and_stops(sw, 4, 200)


@pytest.mark.parametrize("kwargs, words", [
    ({"pruner": "median"}, "pruner='median' is not used with strategy='pbt'"),
    ({"executor": "process"}, "strategy='pbt' trains the population in the kernel"),
    ({"executor": "thread", "group_size": 4}, "group_size=4 is not allowed with strategy='pbt'"),
    ({"executor": "thread", "space": tw.Space(dropout=tw.Choice([0.0, 0.2]))},
     "dropout cannot be explored from 0 with executor='thread'"),
    ({"n_trials": 5}, "n_trials=5 is not allowed with strategy='pbt'"),
    ({"population": 1}, "population"),
    ({"interval": 6}, "interval=6 is not allowed with epochs=6"),
    ({"space": tw.Space(units=[16, 32])}, "units cannot be explored by population-based training"),
    ({"objectives": ["val_loss", "params"], "metric": None}, "ranks the members by one metric"),
    ({"strategy": "random"}, "population only applies to strategy='pbt'"),
])
def test_what_a_population_cannot_do_is_refused_before_any_trial(base, digits, kwargs, words):
    settings = {"space": SPACE, "strategy": "pbt", "population": 4, "base": population_base(base),
                "metric": "val_loss", **kwargs}
    with pytest.raises(ValueError) as info:
        tw.sweep(digits, **settings)
    assert words in str(info.value)


@pytest.mark.parametrize("executor", ["batched", "thread"])
def test_each_members_schedule_trains_one_model_from_scratch_along_the_same_curve(base, digits, executor):
    """The replay follows the member's values and, until each exploit, those of the member whose weights it
    took; trained alone it lands on the member's curve (batched and alone agree to float rounding)."""
    from tunewidgets.sweeps.population import schedule_of

    sw = tw.sweep(digits, SPACE, strategy="pbt", executor=executor, population=8, interval=2, base=population_base(base),
                  metric="val_loss", seed=0, quiet=True)
    records = {r.number: r for r in sw.records()}
    assert sw.best_schedule == schedule_of(sw.best_trial.number, records, ["lr", "weight_decay"])
    chained = [n for n, r in records.items() if r.extra["lineage"]]
    assert chained and any(len(schedule_of(n, records, SPACE.names)) > 2 for n in chained)  # a parent that jumped too
    for number in chained + [sw.best_trial.number]:
        schedule = schedule_of(number, records, SPACE.names)
        replay = tw.train(digits, sw.base, schedule=schedule)
        lived = rows_lived(number, records, 6)  # what trained the weights it ends with, epoch by epoch
        assert replay.status == "completed" and len(replay.history) == 6
        for step in schedule:
            assert replay.history["weight_decay"].iloc[step["epoch"] - 1] == pytest.approx(step["weight_decay"])
        assert replay.history["lr"].tolist() == pytest.approx([row["lr"] for row in lived], rel=1e-6)
        assert replay.history["val_loss"].tolist() == pytest.approx([row["val_loss"] for row in lived], rel=2e-3), number


def rows_lived(number, records, upto):
    """Trial ``number``'s rows after its last exploit before epoch ``upto``, and before it the rows of the
    member whose weights it took, recursively: epochs 1 to ``upto``."""
    jumps = [jump for jump in records[number].extra["lineage"] if jump["epoch"] < upto]
    own = [row for row in records[number].rows if row["epoch"] <= upto]
    if not jumps:
        return own
    at = jumps[-1]["epoch"]
    return rows_lived(jumps[-1]["parent"], records, at) + [row for row in own if row["epoch"] > at]


def test_a_schedule_is_checked_before_training(base, digits):
    with pytest.raises(ValueError, match="the first step is at epoch 1"):
        tw.train(digits, base, schedule=[{"epoch": 2, "lr": 0.01}])
    with pytest.raises(ValueError, match=r"schedule\[1\] \(epoch 3\): units cannot change while a run trains"):
        tw.train(digits, base, schedule=[{"epoch": 1, "lr": 0.01}, {"epoch": 3, "units": 64}])
    with pytest.raises(ValueError, match="must be a list of steps"):
        tw.train(digits, base, schedule=[])
    with pytest.raises(ValueError, match="schedule"):  # a name is still the HParams field, checked as ever
        tw.train(digits, base, schedule="sometimes")
    assert tw.train(digits, base, schedule="exponential", gamma=0.5).history["lr"].tolist() == pytest.approx(
        [base.lr * 0.5 ** k for k in (1, 2, 3)])


def test_the_sweep_panel_runs_a_population_and_marks_where_members_jumped(base, digits):
    from tunewidgets.ui.sweep.panel import SweepPanel

    panel = SweepPanel(digits, tw.Space(lr=tw.LogUniform(1e-6, 3e-2)), base=population_base(base))
    settings = panel.settings
    assert settings["interval"].layout.display == "none" and settings["n_trials"].description == "trials"
    settings["pruner"].value = "median"
    settings["strategy"].value = "pbt"
    assert settings["interval"].layout.display is None and settings["epochs"].layout.display is None
    assert settings["n_trials"].description == "population"
    assert (settings["executor"].value, settings["executor"].disabled) == ("batched", True)
    assert (settings["pruner"].value, settings["pruner"].disabled) == ("none", True)
    settings["interval"].value = 6
    assert not panel.settings_form.valid and "interval=6 must be less than epochs/trial=6" in panel.settings_form.error
    assert panel.buttons["launch"].disabled
    settings["interval"].value = 2
    settings["n_trials"].value = 8
    assert panel.settings_form.valid, panel.settings_form.error
    panel.buttons["launch"].click()
    assert panel.wait(60) == "completed"
    sw = panel.sweep
    assert sw.info["strategy"] == "pbt" and len(sw.table()) == 8 and sw.table()["exploits"].sum() == 4
    assert wait_for(lambda: panel.curves.rows() == 48, timeout=10), panel.curves.rows()
    marks = panel.curves.jumps.data
    jumped = {(r.number, jump["epoch"]) for r in sw.records() for jump in r.extra["lineage"]}
    assert set(zip(marks["trial"], marks["x"])) == jumped  # one mark per exploit, where it happened
    settings["strategy"].value = "random"  # back to a search: the boxes come back as they were
    assert (settings["executor"].value, settings["pruner"].value) == ("thread", "median")
    assert not settings["executor"].disabled and not settings["pruner"].disabled
    assert settings["interval"].layout.display == "none"


def test_a_training_functions_sweep_panel_offers_a_population_only_with_an_epochs_value():
    from tunewidgets.ui.sweep.panel import SweepPanel

    def fit(p, report):
        report.epoch(val_loss=p["lr"])

    panel = SweepPanel(fit, tw.Space(lr=tw.LogUniform(1e-3, 1e-1)), base={"epochs": 2})
    assert "pbt" in [value for _, value in panel.settings["strategy"].options]
    panel.settings["strategy"].value = "pbt"
    assert panel.settings["executor"].value == "thread" and panel.settings["executor"].disabled
    panel = SweepPanel(fit, tw.Space(lr=tw.LogUniform(1e-3, 1e-1)))
    assert "pbt" not in [value for _, value in panel.settings["strategy"].options]


@pytest.mark.parametrize("executor", ["batched", "thread"])
def test_a_population_keeps_its_members_and_resumes_only_when_paused(base, digits, tmp_path, executor):
    storage = f"sqlite:///{tmp_path / 'pbt.db'}"
    tw.sweep(digits, SPACE, strategy="pbt", executor=executor, population=4, interval=2,
             base=population_base(base, epochs=3), metric="val_loss", seed=0, storage=storage, name="pbt", quiet=True)
    loaded = tw.load_sweep(storage, "pbt")
    assert loaded.info["strategy"] == "pbt" and len(loaded.table()) == 4
    assert loaded.table()["exploits"].sum() == 1  # judged once (after epoch 2), the worst of 4 took the best's
    with pytest.raises(ValueError, match="a population-based sweep cannot run more trials"):
        loaded.resume(data=digits)


def test_an_estimator_sweep_is_no_population(digits):
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(ValueError, match="this sweep's trials cannot take each other's weights"):
        tw.sweep_estimator(LogisticRegression(), {"C": [0.1, 1.0]}, digits.x_train.numpy(), digits.y_train.numpy(),
                           strategy="pbt")
    with pytest.raises(ValueError, match="must be a list of steps"):
        tw.train(digits, tw.HParams(epochs=1), schedule={"epoch": 1, "lr": 0.01})
