"""A training function of yours as a population (strategy="pbt"): its members are runs that take turns,
and at each judged epoch the worst take the best ones' watched weights and optimizer state in memory."""

import math

import pytest
import torch
from torch import nn

import tunewidgets as tw
from helpers.population_checks import assert_pauses_resumes_and_stops
from helpers.waiting import wait_for

SPACE = tw.Space(lr=tw.LogUniform(1e-5, 0.3))


def checksum(tensors):
    return float(sum(t.double().abs().sum() for t in tensors))


def make_fit(digits, watch=True):
    """An MLP on the digits trained by hand; each row also says what the epoch started from: the weights'
    and momentum buffers' checksums, the lr the optimizer had and the lr ``p`` read."""
    x, y = digits.x_train.float(), digits.y_train
    xv, yv = digits.x_val.float(), digits.y_val

    def fit(p, report):
        torch.manual_seed(p.seed)
        model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
        opt = torch.optim.SGD(model.parameters(), lr=p.lr, momentum=0.9)
        if watch:
            report.watch(model, opt)
        order = torch.Generator().manual_seed(p.seed)
        for _ in range(p.epochs):
            start = {"start_weights": checksum(model.parameters()),
                     "start_momentum": checksum(opt.state[q]["momentum_buffer"] for q in model.parameters()
                                                if q in opt.state),
                     "opt_lr": opt.param_groups[0]["lr"], "p_lr": p.lr, "p_smoothing": p.smoothing}
            perm = torch.randperm(len(x), generator=order)
            for i in range(0, len(x), 64):
                batch = perm[i:i + 64]
                loss = nn.functional.cross_entropy(model(x[batch]), y[batch], label_smoothing=p.smoothing)
                opt.zero_grad()
                loss.backward()
                opt.step()
                report.batch(loss=loss)
            with torch.no_grad():
                report.epoch(val_loss=nn.functional.cross_entropy(model(xv), yv).item(),
                             end_weights=checksum(model.parameters()), **start)
        return model

    return fit


def population(digits, space=SPACE, **kwargs):
    settings = dict(strategy="pbt", population=8, interval=2, base={"epochs": 6, "seed": 0, "smoothing": 0.0},
                    seed=1, quiet=True)
    return tw.sweep(make_fit(digits), space, **{**settings, **kwargs})


def test_a_member_continues_from_the_donors_weights_and_momentum_with_its_moved_lr(digits):
    sw = population(digits)
    records = {r.number: r for r in sw.records()}
    table = sw.table().set_index("trial")
    assert set(table["status"]) == {"complete"} and (table["epochs_trained"] == 6).all()
    # judged after epochs 2 and 4, each time the worst 2 of 8 take one of the best 2's state
    assert table["exploits"].sum() == 4
    for number, record in records.items():
        assert table.loc[number, "exploits"] == len(record.extra["lineage"])
        rows = {row["epoch"]: row for row in record.rows}
        for jump in record.extra["lineage"]:
            at, donor = jump["epoch"], {row["epoch"]: row for row in records[jump["parent"]].rows}
            after = rows[at + 1]
            # the epoch after the exploit starts from the donor's weights and momentum, not its own
            assert after["start_weights"] == pytest.approx(donor[at + 1]["start_weights"], rel=1e-9)
            assert after["start_momentum"] == pytest.approx(donor[at + 1]["start_momentum"], rel=1e-9)
            assert after["start_weights"] == pytest.approx(donor[at]["end_weights"], rel=1e-9)
            assert after["start_weights"] != pytest.approx(rows[at]["end_weights"], rel=1e-6)
            # it trains on with the explored lr, in the watched optimizer and in p
            lr = jump["values"]["lr"]
            assert after["opt_lr"] == pytest.approx(lr) and after["p_lr"] == pytest.approx(lr)
            assert after["lr"] == pytest.approx(lr) and after["exploits"] == rows[at]["exploits"] + 1
            assert 1e-5 <= lr <= 0.3
        never = not record.extra["lineage"]
        assert not never or all(row["p_lr"] == record.params["lr"] for row in record.rows)


def test_a_member_far_behind_continues_at_the_donors_level(digits):
    """Members start with rates from 1e-5 (learning nothing in 6 epochs) to 0.3: one far behind when
    judged is, one epoch after taking a good member's weights, near that member's loss, not its own."""
    sw = population(digits)
    curves = sw.curves()
    far_behind = 0
    for record in sw.records():
        for jump in record.extra["lineage"]:
            at = jump["epoch"]
            own = curves[curves["trial"] == record.number].set_index("epoch")["val_loss"]
            donor = curves[curves["trial"] == jump["parent"]].set_index("epoch")["val_loss"]
            if own[at] > 2 * donor[at]:
                far_behind += 1
                assert abs(own[at + 1] - donor[at + 1]) < abs(own[at] - donor[at]) / 3, (own, donor)
    assert far_behind


def test_any_number_of_the_function_can_be_explored_and_stays_inside_its_range(digits):
    space = tw.Space(lr=tw.LogUniform(1e-3, 0.3), smoothing=tw.Uniform(0.0, 0.2))
    sw = population(digits, space=space)
    for record in sw.records():
        for row in record.rows:
            assert 0.0 <= row["p_smoothing"] <= 0.2 and 1e-3 <= row["p_lr"] <= 0.3
        for jump in record.extra["lineage"]:
            assert set(jump["values"]) == {"lr", "smoothing"}
            after = next(row for row in record.rows if row["epoch"] == jump["epoch"] + 1)
            assert after["p_smoothing"] == pytest.approx(jump["values"]["smoothing"])


def test_the_best_members_schedule_replays_in_one_run_of_the_function(digits):
    sw = population(digits)
    schedule = sw.best_schedule
    assert schedule[0]["epoch"] == 1 and all(set(step) == {"epoch", "lr"} for step in schedule)
    run = tw.train(make_fit(digits), {"epochs": 6, "seed": 0, "smoothing": 0.0}, schedule=schedule)
    assert run.status == "completed"
    for step, following in zip(schedule, schedule[1:] + [{"epoch": 7}]):
        for epoch in range(step["epoch"], following["epoch"]):
            assert run.history["p_lr"].loc[epoch] == pytest.approx(step["lr"])


def test_a_function_that_watches_nothing_fails_each_member_in_words(digits):
    sw = tw.sweep(make_fit(digits, watch=False), SPACE, strategy="pbt", population=4, interval=2,
                  base={"epochs": 4, "seed": 0, "smoothing": 0.0}, seed=0, quiet=True)
    table = sw.table()
    assert set(table["status"]) == {"failed"}
    assert table["error"].str.contains(r"call report.watch\(model, optimizer\)").all()
    assert (table["epochs_trained"] == 2).all()  # what it trained before the first judgement is kept


def test_a_metric_no_member_reports_ends_every_member_with_its_name(digits):
    sw = population(digits, population=4, metric="val_f1", direction="maximize")
    table = sw.table()
    assert set(table["status"]) == {"failed"} and table["error"].str.contains("metric='val_f1' is not in").all()


def test_a_population_of_the_function_pauses_and_stops(digits):
    sw = population(digits, population=4, base={"epochs": 400, "seed": 0, "smoothing": 0.0}, background=True)
    assert_pauses_resumes_and_stops(sw, 4, 400)


@pytest.mark.parametrize("kwargs, words", [
    ({"executor": "process"}, "take each other's weights in memory"),
    ({"executor": "batched"}, "executor='batched' trains the built-in models only"),
    ({"base": {"seed": 0, "smoothing": 0.0}}, "give base={'epochs': N, ...}"),
    ({"space": tw.Space(lr=tw.LogUniform(1e-3, 0.1), epochs=[2, 4])}, "not epochs in the space"),
    ({"interval": 6}, "interval=6 is not allowed with epochs=6"),
    ({"pruner": "median"}, "pruner='median' is not used with strategy='pbt'"),
    ({"n_trials": 3}, "n_trials=3 is not allowed with strategy='pbt'"),
    ({"space": tw.Space(act=["relu", "tanh"])}, "its values must be numbers"),
])
def test_what_a_population_of_the_function_cannot_do_is_refused_before_any_trial(digits, kwargs, words):
    with pytest.raises(ValueError) as info:
        population(digits, **kwargs)
    assert words in str(info.value)


def test_the_sweep_panel_trains_a_population_of_the_function(digits):
    from tunewidgets.ui.sweep.panel import SweepPanel

    panel = SweepPanel(make_fit(digits), SPACE, base={"epochs": 4, "seed": 0, "smoothing": 0.0}, metric="val_loss")
    panel.settings["strategy"].value = "pbt"
    panel.settings["n_trials"].value = 4
    panel.settings["interval"].value = 2
    sw = panel.launch()
    assert sw.wait(timeout=120) == "completed"
    table = sw.table()
    assert len(table) == 4 and table["exploits"].sum() == 1 and math.isfinite(table["val_loss"].min())
    assert wait_for(lambda: panel.curves.rows() == 16, timeout=10), panel.curves.rows()
    marks = panel.curves.jumps.data
    jumped = {(r.number, jump["epoch"]) for r in sw.records() for jump in r.extra["lineage"]}
    assert set(zip(marks["trial"], marks["x"])) == jumped  # the plot marks where the member jumped


def test_a_member_that_diverges_or_fails_leaves_and_the_rest_go_on(digits):
    inner = make_fit(digits)

    def fit(p, report):
        if p.fault == 1:  # diverges in the epoch the population is judged after: it takes nobody's weights
            report.epoch(val_loss=5.0)
            report.epoch(val_loss=float("nan"))
        if p.fault == 2:
            raise RuntimeError("this member breaks")
        return inner(p, report)

    space = tw.Space(lr=tw.LogUniform(1e-5, 0.3), fault=tw.Choice([0, 1, 2]))
    sw = tw.sweep(fit, space, strategy="pbt", population=8, interval=2, base={"epochs": 6, "seed": 0, "smoothing": 0.0},
                  seed=3, quiet=True)
    table = sw.table().set_index("trial")
    faults = {r.number: r.params["fault"] for r in sw.records()}
    diverged = [n for n, fault in faults.items() if fault == 1]
    broken = [n for n, fault in faults.items() if fault == 2]
    assert diverged and broken and len(diverged) + len(broken) < 6
    assert table.loc[diverged, "error"].str.startswith("diverged").all()
    assert (table.loc[diverged, "epochs_trained"] == 2).all()
    assert table.loc[broken, "error"].str.contains("this member breaks").all()
    rest = table.drop(index=diverged + broken)
    assert set(rest["status"]) == {"complete"} and (rest["epochs_trained"] == 6).all()
    assert rest["exploits"].sum() > 0 and table.loc[diverged + broken, "exploits"].sum() == 0
