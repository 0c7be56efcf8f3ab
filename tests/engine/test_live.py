"""Tuning while it trains: live knobs, forks, the LR finder's range, and a panel that remembers."""

import math
import subprocess
import sys
import time

import pytest

import tunewidgets as tw
from tunewidgets.engine.control.knobs import DROPOUT_LAYERS
from tunewidgets.ui import TrainPanel
from helpers.settings import SMALL
from helpers.waiting import TEST_TIMEOUT, wait_for, wait_until

LIVE = SMALL.replace(batch_size=64, seed=0)  # batches of 64: more batches an epoch for a change to land in


class MoveAt(tw.Callback):
    """Moves live knobs from inside the training thread after a given step (deterministic timing)."""

    def __init__(self, step, **changes):
        self.step, self.changes, self.knob_events = step, changes, []

    def on_train_start(self, run):
        run.events.subscribe(lambda e: self.knob_events.append(e) if e.kind == "knob" else None)

    def on_batch_end(self, run, step, loss):
        if step == self.step:
            run.update(**self.changes)


def test_a_live_lr_change_takes_effect_at_the_next_batch_and_shows_in_the_history(digits):
    steps = math.ceil(digits.n_train / 64)
    mover = MoveAt(steps * 2 + 5, lr=0.02)  # in epoch 3
    run = tw.train(digits, LIVE.replace(epochs=5, lr=1e-3), callbacks=[mover])
    assert run.status == "completed"
    [event] = mover.knob_events
    assert event.step == steps * 2 + 5  # applied before the very next batch
    assert event.values["changes"] == {"lr": 0.02} and 2 < event.values["at"] < 3
    assert run.history["lr"].tolist() == [1e-3, 1e-3, 0.02, 0.02, 0.02]  # from the epoch it moved in
    assert run.optimizer_state["param_groups"][0]["lr"] == 0.02  # the optimizer itself
    assert run.hparams.lr == 0.02 and run.initial_hparams.lr == 1e-3


def test_other_live_knobs_get_a_full_history_column_and_reach_the_model(digits):
    mover = MoveAt(30, dropout=0.4, weight_decay=1e-3, l1=1e-5)
    run = tw.train(digits, LIVE.replace(dropout=0.1), callbacks=[mover])
    h = run.history
    assert h["dropout"].tolist()[0] == 0.1 and h["dropout"].tolist()[-1] == 0.4
    assert h["weight_decay"].tolist()[0] == 0.0 and h["l1"].tolist()[-1] == 1e-5
    assert all(m.p == 0.4 for m in run.model.modules() if isinstance(m, DROPOUT_LAYERS))
    assert run.optimizer_state["param_groups"][0]["weight_decay"] == 1e-3


def test_a_live_change_from_another_thread(digits):
    run = tw.train(digits, LIVE.replace(epochs=400), background=True)
    feed = run.events.listen()
    wait_until(lambda: run.epochs_done >= 2, TEST_TIMEOUT, "2 epochs", interval=0.005)
    run.update(lr=0.03)
    knobs = wait_for(lambda: [e for e in feed.drain() if e.kind == "knob"], 10, interval=0.01)
    assert knobs, "the change never reached the training thread"
    # The change lands mid-epoch; the first row that shows it is the epoch it landed in. A stop
    # before that epoch ends drops the unfinished epoch, so wait for its row first.
    applied_in = knobs[0].epoch + 1
    wait_for(lambda: run.epochs_done >= applied_in, 10, interval=0.005)
    run.stop()
    run.wait()
    assert run.history["lr"].iloc[-1] == 0.03


@pytest.mark.parametrize("changes, words", [
    ({"units": 64}, ["units cannot change while a run trains", "fork"]),
    ({"momentum": 0.5}, ["momentum=0.5 has no effect with optimizer='adam'"]),
    ({"dropout": 0.2}, ["dropout=0.2 cannot be set live", "without dropout layers"]),
    ({"lr": -1}, ["lr=-1 is not allowed", "> 0"]),
])
def test_bad_live_changes_are_refused_in_words(digits, changes, words):
    run = tw.train(digits, LIVE.replace(epochs=400), background=True)
    try:
        wait_until(lambda: run.model is not None, TEST_TIMEOUT, "the model", interval=0.005)
        with pytest.raises(ValueError) as info:
            run.update(**changes)
        for word in words:
            assert word in str(info.value)
    finally:
        run.stop()
        run.wait()
    with pytest.raises(RuntimeError, match="fork it"):
        run.update(lr=0.01)


@pytest.mark.filterwarnings("ignore:grad and param do not obey")  # the package's own filter; pytest resets filters
def test_a_member_of_a_batched_group_refuses_live_changes_in_words(digits):
    """Members share every step: a change could not apply to one, so it is refused, not ignored."""
    from tunewidgets.engine.batched import train_batched

    hps = [LIVE.replace(epochs=200, lr=lr) for lr in (1e-3, 3e-3)]
    runs = train_batched(digits, hps, background=True)
    try:
        wait_for(lambda: runs[0].epochs_done >= 1, 30, interval=0.01)
        with pytest.raises(RuntimeError, match="cannot change lr while it trains: it trains in a batched group"):
            runs[0].update(lr=1e-2)
        assert runs[0].hparams.lr == 1e-3
    finally:
        for run in runs:
            run.stop()
        for run in runs:
            run.wait(30)
    assert set(runs[0].history["lr"]) == {1e-3} and runs[0].status == "stopped"


def test_a_fork_continues_from_its_parents_weights_and_numbering(digits):
    parent = tw.train(digits, LIVE.replace(epochs=6, lr=5e-3))
    fresh = tw.train(digits, LIVE.replace(epochs=1, lr=5e-3))
    child = parent.fork(epochs=3, lr=1e-3)
    assert child.parent is parent and child.status == "completed"
    assert child.history["epoch"].tolist() == [7, 8, 9] and child.history["lr"].tolist() == [1e-3] * 3
    first, last = child.history["train_loss"].iloc[0], parent.history["train_loss"].iloc[-1]
    assert first < 1.5 * last < fresh.history["train_loss"].iloc[0] / 3  # continued, not a fresh start
    with pytest.raises(ValueError, match="units cannot change in a fork"):
        parent.fork(units=64)


def test_forks_of_a_stopped_and_of_a_paused_run(digits):
    run = tw.train(digits, LIVE.replace(epochs=400), background=True)
    wait_until(lambda: run.epochs_done >= 3, TEST_TIMEOUT, "3 epochs", interval=0.005)
    run.pause()
    wait_until(lambda: run.status == "paused", TEST_TIMEOUT, "the pause", interval=0.005)
    with_paused = run.fork(epochs=2)  # from the weights the paused run holds now
    assert with_paused.status == "completed" and with_paused.history["epoch"].iloc[0] == run.epochs_done + 1
    assert run.status == "paused"  # the parent waits on
    run.stop()
    run.wait()
    assert run.fork(epochs=1).status == "completed"
    with pytest.raises(RuntimeError, match="pause or stop it first"):
        busy = tw.train(digits, LIVE.replace(epochs=400), background=True)
        try:
            wait_until(lambda: busy.status == "running", TEST_TIMEOUT, "the run to start", interval=0.005)
            busy.fork(epochs=1)
        finally:
            busy.stop()
            busy.wait()


def test_the_lr_finders_range_holds_its_suggestion_and_stops_at_the_blow_up(digits):
    result = tw.lr_find(digits, LIVE)
    dim = result.space()
    assert isinstance(dim, tw.LogUniform) and dim.low < result.suggestion < dim.high
    assert dim.high == pytest.approx(result.blow_up) and 1.4 < math.log10(dim.high / dim.low) < 1.6
    assert result.smoothed[result.lrs.index(result.blow_up)] >= result.smoothed[0]
    tw.Space(lr=dim)  # usable as it is


def test_the_sweep_panel_takes_its_lr_range_from_the_finder(digits):
    panel = tw.SweepPanel(digits, base=LIVE)
    dim = panel.lr_range()
    assert panel.space.dims["lr"] == dim and "lr range from the LR finder" in panel.message.value
    panel.message.value = ""
    panel.buttons["lr_range"].click()  # in the background: Launch waits, and so does panel.wait()
    assert panel.buttons["launch"].disabled and panel.buttons["lr_range"].disabled
    panel.wait(60)
    assert "lr range from the LR finder" in panel.message.value and not panel.busy
    assert not panel.buttons["launch"].disabled and panel.space.dims["lr"] == dim


def test_the_panel_moves_knobs_locks_structure_marks_changes_and_continues(digits):
    panel = TrainPanel(digits, LIVE.replace(epochs=300))
    run = panel.start()
    assert panel.controls.fields["units"].disabled and not panel.controls.fields["lr"].disabled
    assert "only lr, momentum, weight_decay, l1, dropout" in panel.controls.lock_note.value
    wait_until(lambda: run.epochs_done >= 2, TEST_TIMEOUT, "2 epochs", interval=0.005)
    panel.controls.fields["lr"].value = 0.02  # the slider, as a user moves it
    wait_for(lambda: panel.curves.knobs.data["x"], 10)
    assert run.hparams.lr == 0.02 and panel.curves.knobs.data["label"] == ["lr 0.02"]
    assert "from the next batch" in panel.message.value
    panel.set_hparams(run.hparams.replace(lr=0.5, dropout=0.3))  # values loaded from code (a table row, Reset)
    panel.reset()
    time.sleep(0.1)
    assert run.hparams.lr == 0.02 and run.hparams.dropout == LIVE.dropout  # move no knob
    assert not run.control.updates_pending and panel.curves.knobs.data["label"] == ["lr 0.02"]
    panel.stop()
    panel.wait(30)
    assert not panel.controls.fields["units"].disabled  # unlocked once it ended
    panel.controls.fields["epochs"].value = 2
    child = panel.buttons["continue"].click() or panel.run
    panel.wait(30)
    assert child.parent is run and child.name == "run 2" and child.status == "completed"
    assert panel.history.cells(1)[-1].startswith(f"from run 1 @ {run.epochs_done}")
    assert panel.curves.slots[1].epochs.data["epoch"][0] == run.epochs_done  # starts where the parent ended


def test_knob_marks_go_with_their_run_when_its_curve_slot_is_lent_again():
    from tunewidgets.plotting.curves import LiveCurves

    curves = LiveCurves(max_runs=2)
    curves.add_run("a", "run 1"), curves.add_run("b", "run 2")
    curves.mark("a", 1.5, "lr 0.01"), curves.mark("b", 2.5, "lr 0.02")
    curves.add_run("c", "run 3")  # takes run 1's slot and colour
    assert curves.knobs.data["run"] == ["b"] and curves.knobs.data["color"] == [curves.slots[1].color]
    curves.clear(keep=("c",))
    assert curves.knobs.data["run"] == []


def test_without_storage_nothing_is_written(digits, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    panel = TrainPanel(digits, LIVE.replace(epochs=1))
    panel.start()
    panel.wait(30)
    assert list(tmp_path.iterdir()) == []


STORED = """
import json, tunewidgets as tw
panel = tw.TrainPanel(tw.load_dataset("digits"), storage={url!r})
panel.history.select(1)
print(json.dumps({{"runs": [[r.name, r.status, r.epochs_done, r.parent.name if r.parent else None,
                             r.history["epoch"].tolist(), r.hparams.lr] for r in panel.runs],
                  "controls_lr": panel.hparams.lr, "rows": [panel.curves.rows(r.id) for r in panel.runs]}}))
"""


@pytest.mark.slow
def test_a_panel_on_the_same_storage_shows_the_runs_again_in_a_fresh_process(digits, tmp_path):
    url = f"sqlite:///{tmp_path}/runs.db"
    panel = TrainPanel(digits, LIVE.replace(epochs=3), storage=url)
    first = panel.start()
    panel.wait(30)
    panel.controls.fields["epochs"].value, panel.controls.fields["lr"].value = 2, 3e-3
    panel.continue_run()
    panel.wait(30)
    out = subprocess.run([sys.executable, "-c", STORED.format(url=url)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    import json

    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["runs"] == [["run 1", "completed", 3, None, [1, 2, 3], first.hparams.lr],
                            ["run 2", "completed", 2, "run 1", [4, 5], 3e-3]]
    assert seen["controls_lr"] == 3e-3  # selecting a stored run brings its hyperparameters back
    assert seen["rows"] == [3, 2]
