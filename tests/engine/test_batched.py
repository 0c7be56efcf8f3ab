"""Batched training against the sequential loop: same seeds, same results.

Without dropout a member agrees with its sequential run to float32 rounding (batched matrix products
sum in a different order), so losses are compared with a tolerance of 1e-4 (relative) and the
learning rates exactly. With dropout the masks come from another generator, so only the accuracy is
compared (within 0.06 on digits).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import tunewidgets as tw
from tunewidgets.engine.batched import can_batch, train_batched
from tunewidgets.engine.batched.optim import BatchedOptimizer, Schedules
from tunewidgets.engine.batched.stacked import MLPForward
from tunewidgets.engine.builtin.recipe import make_optimizer, make_schedule
from helpers.settings import SMALL

pytestmark = [pytest.mark.filterwarnings("ignore:grad and param do not obey"),
              pytest.mark.filterwarnings("ignore:Detected call of")]





RTOL = 1e-4


def small(**kw) -> tw.HParams:
    """The shared small config with batches of 64 (more steps for the members to drift apart in)."""
    return SMALL.replace(**{"batch_size": 64, **kw})


def assert_same_run(batched: tw.Run, seq: tw.Run, rtol: float = RTOL) -> None:
    assert batched.status == seq.status
    hb, hs = batched.history, seq.history
    assert list(hb["epoch"]) == list(hs["epoch"])
    assert list(hb["lr"]) == list(hs["lr"])
    for col in [c for c in hs.columns if c.startswith("val_") or c == "train_loss"]:
        np.testing.assert_allclose(hb[col], hs[col], rtol=rtol, atol=1e-6, err_msg=col)
    for pb, ps in zip(batched.model.parameters(), seq.model.parameters()):
        assert pb.device.type == "cpu"
        torch.testing.assert_close(pb, ps, rtol=1e-3, atol=1e-5)


# ---- the pieces against torch ------------------------------------------------------------------
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "adamw", "rmsprop"])
def test_schedules_match_torch_schedulers(optimizer):
    hps = [tw.HParams(optimizer=optimizer, schedule=s, lr=0.01 * (i + 1), epochs=4, step_size=2, gamma=0.7)
           for i, s in enumerate(["constant", "step", "exponential", "cosine", "onecycle"])]
    spe = 5
    sched = Schedules(hps, spe)
    ours = [sched.epoch_table(spe) + (sched.end_epoch(),) for _ in range(4)]
    for i, hp in enumerate(hps):
        opt = make_optimizer(hp, nn.Linear(1, 1))
        scheduler, per_batch = make_schedule(hp, opt, spe)
        for lrs, moms, _ in ours:
            for s in range(spe):
                group = opt.param_groups[0]
                assert lrs[s, i] == group["lr"]
                assert moms[s, i] == (group["betas"][0] if "betas" in group else group["momentum"])
                if per_batch:
                    scheduler.step()
            if scheduler is not None and not per_batch:
                scheduler.step()


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "adamw", "rmsprop"])
def test_optimizer_step_matches_torch(optimizer):
    torch.manual_seed(0)
    hps = [tw.HParams(optimizer=optimizer, lr=lr, weight_decay=wd, momentum=mom)
           for lr, wd, mom in [(0.01, 0.0, 0.9), (0.03, 0.01, 0.5), (0.002, 0.1, 0.0 if optimizer != "momentum" else 0.3)]]
    flat = torch.randn(3, 7)
    params = [nn.Parameter(flat[i].clone()) for i in range(3)]
    opts = [make_optimizer(hp, nn.ParameterList([p])) for hp, p in zip(hps, params)]
    ours = BatchedOptimizer(hps, flat)
    sched = Schedules(hps, 10)
    ours.set_epoch(*sched.epoch_table(10))
    for _ in range(10):
        grad = torch.randn(3, 7)
        ours.step(flat, grad.clone())  # the step may overwrite the gradient buffer
        for i, (p, opt) in enumerate(zip(params, opts)):
            p.grad = grad[i].clone()
            opt.step()
    torch.testing.assert_close(flat, torch.stack([p.detach() for p in params]), rtol=1e-5, atol=1e-6)


# ---- end to end ----------------------------------------------------------------------------------
CONFIGS = [  # every optimizer and schedule, different lr, weight decay and L1 per member
    dict(optimizer="adam", lr=1e-3), dict(optimizer="adamw", lr=3e-3, weight_decay=1e-2, schedule="cosine"),
    dict(optimizer="sgd", lr=0.05, weight_decay=1e-3, schedule="step", step_size=1, l1=1e-4),
    dict(optimizer="momentum", lr=0.02, schedule="onecycle"), dict(optimizer="rmsprop", lr=1e-3, schedule="exponential"),
    dict(optimizer="adam", lr=3e-3, weight_decay=1e-3, l1=1e-4, schedule="onecycle", seed=5),
    dict(optimizer="sgd", lr=0.1, schedule="onecycle", seed=3), dict(optimizer="adam", lr=0.05, early_stopping=1, seed=2),
]


def test_batched_matches_sequential_without_dropout(digits):
    hps = [small(seed=i, **cfg) if "seed" not in cfg else small(**cfg) for i, cfg in enumerate(CONFIGS)]
    assert can_batch(hps, digits) == (True, "")
    runs = train_batched(digits, hps)
    assert [r.hparams for r in runs] == hps  # input order, whatever the grouping by optimizer
    for run, hp in zip(runs, hps):
        seq = tw.train(digits, hp)
        assert_same_run(run, seq)
        assert run.best_metric == pytest.approx(seq.best_metric, rel=RTOL)
        kinds = [e.kind for e in run.events.drain()] if hasattr(run.events, "drain") else None
        if kinds is not None:
            assert kinds.count("epoch") == len(run.history) and kinds[-1] == "status"


def test_custom_buffer_free_model_batches_through_vmap(digits):
    def tanh_net(hp, data):
        return nn.Sequential(nn.Linear(64, hp.units), nn.Tanh(), nn.Linear(hp.units, data.n_outputs))

    hps = [small(model=tanh_net, lr=lr, seed=i, optimizer="sgd") for i, lr in enumerate([0.05, 0.2])]
    assert can_batch(hps, digits) == (True, "")
    for run, hp in zip(train_batched(digits, hps), hps):
        assert_same_run(run, tw.train(digits, hp))


def test_regression_matches_sequential(regression_data):
    hps = [small(lr=lr, seed=i, batch_size=32) for i, lr in enumerate([1e-3, 1e-2])]
    for run, hp in zip(train_batched(regression_data, hps), hps):
        assert "val_r2" in run.history
        assert_same_run(run, tw.train(regression_data, hp))


def test_dropout_per_member_agrees_statistically(digits):
    hps = [small(epochs=5, lr=5e-3, dropout=p, seed=i) for i, p in enumerate([0.0, 0.2, 0.5, 0.9])]
    runs = train_batched(digits, hps)
    seqs = [tw.train(digits, hp) for hp in hps]
    assert_same_run(runs[0], seqs[0])  # no dropout: same as sequential even inside a dropout group
    for run, seq in zip(runs[1:], seqs[1:]):
        assert run.history["train_loss"].iloc[-1] != seq.history["train_loss"].iloc[-1]  # other masks
        assert abs(run.history["val_accuracy"].iloc[-1] - seq.history["val_accuracy"].iloc[-1]) < 0.06
    losses = [r.history["train_loss"].iloc[-1] for r in runs]
    assert losses[3] > losses[1] > losses[0]  # each member's own dropout rate is applied
    for run, seq in zip(train_batched(digits, hps[1:3]), seqs[1:3]):  # every member with dropout
        assert abs(run.history["val_accuracy"].iloc[-1] - seq.history["val_accuracy"].iloc[-1]) < 0.06


@pytest.mark.parametrize("rates", [[0.0, 0.1, 0.5, 0.9], [0.3, 0.3, 0.0, 0.7]])
def test_each_member_drops_its_own_share_of_units_and_keeps_the_mean(rates):
    """Through the stacked forward pass: identity layers show the masks themselves."""
    members, units, batch = len(rates), 256, 64
    forward = MLPForward("relu", rates, torch.device("cpu"), torch.Generator().manual_seed(0))
    eye = torch.eye(units).expand(members, units, units)
    zeros = torch.zeros(members, units)
    out = forward([eye, zeros, eye, zeros], torch.ones(members, batch, units), training=True)
    dropped = (out == 0).float().mean(dim=(1, 2))
    kept_mean = out.mean(dim=(1, 2))
    for member, rate in enumerate(rates):
        assert abs(dropped[member].item() - rate) < 0.01  # 16,384 draws: 4 standard deviations at p=0.5
        spread = (rate / (1 - rate) / (batch * units)) ** 0.5  # standard deviation of the rescaled mean
        assert abs(kept_mean[member].item() - 1.0) <= 4 * spread  # the expected activation is unchanged
        if rate == 0:
            assert (out[member] == 1).all()
    assert torch.equal(forward([eye, zeros, eye, zeros], torch.ones(members, batch, units), training=False),
                       torch.ones(members, batch, units))  # no dropout when evaluating


def test_members_with_one_seed_share_dropout_draws_and_other_seeds_drop_independently():
    units, batch, rate = 256, 64, 0.3
    forward = MLPForward("relu", [rate, rate, rate, 0.0], torch.device("cpu"), torch.Generator().manual_seed(0),
                         seeds=[0, 1, 0, 1])
    eye, zeros = torch.eye(units).expand(4, units, units), torch.zeros(4, units)
    masks = forward([eye, zeros, eye, zeros], torch.ones(4, batch, units), training=True) != 0  # identity layers
    assert torch.equal(masks[0], masks[2])  # seed 0 twice: one draw, as two sequential runs on seed 0
    agree = (masks[0] == masks[1]).float().mean().item()
    assert abs(agree - ((1 - rate) ** 2 + rate ** 2)) < 0.02  # independent draws (one hidden layer)
    assert masks[3].all()  # no dropout
    forward.keep(torch.tensor([1, 2]))  # compacted: seeds 1 and 0, one draw each
    narrow = forward([eye[:2], zeros[:2], eye[:2], zeros[:2]], torch.ones(2, batch, units), training=True) != 0
    assert not torch.equal(narrow[0], narrow[1])
    assert abs((~narrow).float().mean().item() - rate) < 0.02


class PruneAt(tw.Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, run, metrics):
        if metrics["epoch"] == self.epoch:
            run.stop(status="pruned")


def test_pruning_one_member_leaves_the_others_unchanged(digits):
    hps = [small(lr=lr, seed=i) for i, lr in enumerate([1e-3, 3e-3, 1e-2])]
    full = train_batched(digits, hps)
    pruned = train_batched(digits, hps, callbacks_per_member=[(), [PruneAt(1)], ()])
    assert [r.status for r in pruned] == ["completed", "pruned", "completed"]
    assert len(pruned[1].history) == 1 and pruned[1].model is not None
    for a, b in ((full[0], pruned[0]), (full[2], pruned[2])):
        assert_same_run(a, b, rtol=1e-6)


def test_diverging_member_is_marked_without_disturbing_the_others(digits):
    hps = [small(lr=1e-3, seed=0), small(optimizer="sgd", lr=50.0, seed=1), small(lr=1e-2, seed=2)]
    runs = train_batched(digits, hps)
    assert [r.status for r in runs] == ["completed", "diverged", "completed"]
    alone = train_batched(digits, [hps[0], hps[2]])
    assert_same_run(runs[0], alone[0], rtol=1e-6)
    assert_same_run(runs[2], alone[1], rtol=1e-6)
    assert tw.train(digits, hps[1]).status == "diverged"


def test_stop_all_members_ends_the_group(digits):
    class StopAll(tw.Callback):
        def on_epoch_end(self, run, metrics):
            run.stop()

    runs = train_batched(digits, [small(seed=i) for i in range(3)], callbacks_per_member=[[StopAll()]] * 3)
    assert [r.status for r in runs] == ["stopped"] * 3 and all(len(r.history) == 1 for r in runs)


def test_background_group_and_precreated_runs(digits):
    runs = [tw.Run(digits, small(seed=i, lr=1e-3 * (i + 1))) for i in range(2)]
    out = train_batched(digits, runs=runs, background=True)
    assert out == runs
    assert [r.wait(60) for r in runs] == ["completed", "completed"]


def test_can_batch_refuses_with_a_reason(digits, digits_images):
    ok, why = can_batch([small(units=32), small(units=64)], digits)
    assert not ok and "members differ in units (32, 64)" in why
    ok, why = can_batch([small(model="cnn", units=8), small(model="cnn", units=8, lr=0.1)], digits_images)
    assert not ok and "batch norm" in why
    with pytest.raises(ValueError, match="batch norm"):
        train_batched(digits_images, [small(model="cnn", units=8)])

    def by_dropout(hp, data):  # a factory whose architecture depends on a per-member value
        return nn.Sequential(nn.Linear(64, 8), nn.Dropout(hp.dropout), nn.Linear(8, 10))

    ok, why = can_batch([small(model=by_dropout), small(model=by_dropout, dropout=0.3)], digits)
    assert not ok and "different architectures" in why
