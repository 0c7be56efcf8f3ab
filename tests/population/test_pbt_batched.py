"""Population-based training in one batched group: who copies whom, what is copied, where values move."""

import math

import pytest
import torch

import tunewidgets as tw
from tunewidgets.engine.batched import train_batched
from tunewidgets.engine.batched.optim import BatchedOptimizer
from tunewidgets.engine.batched.stacked import StackedParams
from tunewidgets.engine.builtin.models import build_model
from tunewidgets.engine.population.decide import PBT, first_values


def test_explore_moves_each_value_by_0_8_or_1_2_or_a_fresh_draw_and_stays_inside_the_space():
    space = tw.Space(lr=tw.LogUniform(1e-3, 1e-1), dropout=tw.Uniform(0.0, 0.5),
                     weight_decay=tw.Choice([0.0, 1e-4, 1e-3]))
    moved_only = PBT(space, resample=0.0, seed=1)
    start = {"lr": 0.01, "dropout": 0.2, "weight_decay": 1e-4}
    seen_lr, seen_wd = set(), set()
    for _ in range(200):
        values = moved_only.explore(start)
        seen_lr.add(round(values["lr"] / 0.01, 6))
        seen_wd.add(values["weight_decay"])
        assert round(values["dropout"] / 0.2, 6) in (0.8, 1.2)
    assert seen_lr == {0.8, 1.2} and seen_wd == {0.0, 1e-3}  # a choice moves to a neighbour

    always_fresh = PBT(space, resample=1.0, seed=2)
    edge = {"lr": 0.1, "dropout": 0.5, "weight_decay": 1e-3}
    for pbt in (moved_only, always_fresh):
        for _ in range(500):
            values = pbt.explore(edge)
            assert 1e-3 <= values["lr"] <= 1e-1 and 0.0 <= values["dropout"] <= 0.5
            assert values["weight_decay"] in (0.0, 1e-4, 1e-3)
    fresh = [always_fresh.explore(edge)["lr"] for _ in range(500)]
    assert min(fresh) < 3e-3 and max(fresh) > 3e-2  # drawn across the log range, not near the edge only


def test_the_worst_quantile_copies_the_best_and_a_diverged_member_ranks_last():
    pbt = PBT(tw.Space(lr=tw.LogUniform(1e-3, 1e-1)), metric="val_loss", quantile=0.25, seed=0)
    scores = [0.5, math.nan, 0.1, 0.9, 0.2, 0.3, 0.4, 0.05]
    values = first_values(pbt.space, len(scores), seed=0)
    jumps = pbt.decide(scores, values)
    assert sorted(j.member for j in jumps) == [1, 3]  # the NaN and the highest loss
    assert all(j.donor in (7, 2) for j in jumps)
    maximize = PBT(pbt.space, metric="val_accuracy", direction="maximize", quantile=0.5, seed=0)
    assert sorted(j.member for j in maximize.decide([0.9, 0.1, 0.8, 0.2], values[:4])) == [1, 3]
    assert PBT(pbt.space, quantile=0.25).decide([0.1, 0.2, 0.3], values[:3]) == []  # no quarter of 3


@pytest.mark.parametrize("kwargs, words", [
    ({"space": tw.Space(units=[16, 32])}, "units cannot be explored by population-based training"),
    ({"space": tw.Space()}, "needs a space to explore"),
    ({"quantile": 0.75}, "quantile=0.75 is not allowed: must be in (0, 0.5]"),
    ({"resample": 1.5}, "resample=1.5 is not allowed: must be in [0, 1]"),
    ({"interval": 0}, "interval"),
    ({"direction": "up"}, "direction='up' is not allowed"),
])
def test_what_population_based_training_cannot_do_is_refused_in_words(kwargs, words):
    settings = {"space": tw.Space(lr=tw.LogUniform(1e-3, 1e-1)), **kwargs}
    with pytest.raises(ValueError) as info:
        PBT(**settings)
    assert words in str(info.value)


def test_a_value_the_members_cannot_move_live_is_refused_before_training(digits):
    hps = [tw.HParams(optimizer="adam", lr=0.01, epochs=2, seed=seed) for seed in (0, 1)]
    with pytest.raises(ValueError, match="the members differ in optimizer: a population shares every value"):
        train_batched(digits, [hps[0], hps[1].replace(optimizer="sgd")],
                      population=PBT(tw.Space(lr=tw.LogUniform(1e-3, 1e-1))))
    with pytest.raises(ValueError, match="momentum=0.9 has no effect with optimizer='adam'"):
        train_batched(digits, [hp.replace(momentum=0.9) for hp in hps],
                      population=PBT(tw.Space(momentum=tw.Uniform(0.5, 0.99))))


def test_an_exploit_copies_the_donors_weights_and_optimizer_state_so_both_take_the_same_next_step(digits):
    models = []
    for seed in (0, 1, 2):
        torch.manual_seed(seed)
        models.append(build_model(tw.HParams(units=16), digits))
    params = StackedParams(models)
    hps = [tw.HParams(optimizer="adam", lr=0.01, units=16)] * 3
    optimizer = BatchedOptimizer(hps, params.flat)
    lr, mom = torch.full((1, 3), 0.01, dtype=torch.float64).numpy(), torch.full((1, 3), 0.9, dtype=torch.float64).numpy()

    def step(grad):
        optimizer.set_epoch(lr, mom)
        optimizer.step(params.flat, grad.clone())

    for _ in range(3):  # Adam's averages now differ per member
        step(torch.randn_like(params.flat))
    params.copy_member(0, 2)
    optimizer.copy_member(0, 2)
    assert torch.equal(params.flat[0], params.flat[2]) and not torch.equal(params.flat[1], params.flat[2])
    same = torch.randn(params.flat.shape[1])
    step(same.expand_as(params.flat))
    assert torch.equal(params.flat[0], params.flat[2])  # the moments came along: the same update


def test_a_population_on_the_digits_copies_its_best_members_and_records_the_lineage(digits):
    """Two members barely learn (lr 1e-5): after the first interval they take a good member's weights, so
    their next validation loss is near the good members' and far below their own."""
    lrs = [0.01, 1e-5, 0.02, 1e-5]
    hps = [tw.HParams(optimizer="adam", lr=lr, epochs=5, units=32, seed=i) for i, lr in enumerate(lrs)]
    pbt = PBT(tw.Space(lr=tw.LogUniform(1e-6, 0.5), weight_decay=tw.Uniform(0.0, 1e-3)), interval=3,
              quantile=0.5, resample=0.0, seed=0)
    runs = train_batched(digits, hps, population=pbt)
    assert [r.status for r in runs] == ["completed"] * 4
    good = {runs[0].name, runs[2].name}
    for bad in (runs[1], runs[3]):
        [jump] = bad.lineage  # judged after epoch 3 only: not after the last
        assert jump["epoch"] == 3 and jump["parent"] in good
        donor = next(r for r in runs if r.name == jump["parent"])
        own = bad.history["val_loss"].tolist()
        donors = donor.history["val_loss"].tolist()
        assert own[3] < own[2] / 2 and abs(own[3] - donors[3]) < abs(own[3] - own[2]) / 4, (own, donors)
        assert round(bad.history["lr"].iloc[3] / donor.hparams.lr, 6) in (0.8, 1.2)  # explored from the donor's
        assert bad.hparams.lr == pytest.approx(bad.history["lr"].iloc[3])
        assert bad.history["weight_decay"].iloc[3] == pytest.approx(jump["values"]["weight_decay"])
    for good_run in (runs[0], runs[2]):
        assert good_run.lineage == [] and good_run.history["lr"].tolist() == [good_run.hparams.lr] * 5


def test_a_jump_is_a_knob_event_that_the_plots_mark(digits):
    hps = [tw.HParams(lr=lr, epochs=2, units=16, dropout=0.1, seed=i) for i, lr in enumerate((0.05, 1e-5))]
    runs = [tw.Run(digits, hp) for hp in hps]
    feeds = [r.events.listen() for r in runs]
    pbt = PBT(tw.Space(dropout=tw.Uniform(0.0, 0.5), lr=tw.LogUniform(1e-6, 0.5)), interval=1, quantile=0.5, seed=0)
    train_batched(digits, runs=runs, population=pbt)
    knobs = [e for e in feeds[1].drain() if e.kind == "knob"]
    assert [e.values["at"] for e in knobs] == [1.0] and all("dropout" in e.values["changes"] for e in knobs)
    assert not [e for e in feeds[0].drain() if e.kind == "knob"]
    assert runs[1].history["dropout"].tolist()[1:] == [j["values"]["dropout"] for j in runs[1].lineage]


def test_explored_values_reach_the_stacked_step_of_each_member(digits):
    """The history says what each member trained with; the group's own per-member columns must agree:
    dropout rates, momentum, L1 and the rate in the schedule."""
    from tunewidgets.engine.batched import GroupLoop

    hps = [tw.HParams(optimizer="momentum", lr=lr, momentum=0.9, l1=1e-5, dropout=0.1, epochs=4, units=16)
           for lr in (0.05, 1e-5, 0.05, 1e-5)]
    runs = [tw.Run(digits, hp) for hp in hps]
    space = tw.Space(lr=tw.LogUniform(1e-6, 0.5), momentum=tw.Uniform(0.5, 0.99), l1=tw.LogUniform(1e-6, 1e-3),
                     dropout=tw.Uniform(0.0, 0.5))
    loop = GroupLoop(digits, runs, PBT(space, interval=2, quantile=0.5, seed=0))
    loop.train()
    assert sum(len(r.lineage) for r in runs) == 2
    final = [r.hparams for r in runs]
    assert loop.forward.rates.tolist() == pytest.approx([hp.dropout for hp in final], abs=1e-6)
    assert loop.schedules.mom.tolist() == pytest.approx([hp.momentum for hp in final])
    assert loop.schedules.lr.tolist() == pytest.approx([hp.lr for hp in final])
    assert loop.l1.tolist() == pytest.approx([hp.l1 for hp in final])


def test_the_direction_follows_the_metric_and_a_metric_no_row_has_is_named():
    space = tw.Space(lr=tw.LogUniform(1e-3, 1e-1))
    assert PBT(space, metric="val_accuracy").direction == "maximize" and PBT(space).direction == "minimize"
    with pytest.raises(ValueError, match="needs direction="):
        PBT(space, metric="val_top2")
    with pytest.raises(ValueError, match="metric='val_acc' is not in the members' rows: they have epoch, val_loss"):
        PBT(space, metric="val_acc").scores_of([{"epoch": 1, "val_loss": 0.3}])
