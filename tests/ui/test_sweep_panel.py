"""SweepPanel headless: real widgets, real Bokeh documents, real sweeps of digits trained in the background."""

import html
import time

import optuna
import pytest
from bokeh.core.serialization import Serializer
from bokeh.document.events import ColumnsPatchedEvent, ColumnsStreamedEvent

import tunewidgets as tw
from helpers.settings import SMALL
from helpers.waiting import wait_for
from tunewidgets.plotting.sweep_curves import FADED
from tunewidgets.ui import TrainPanel
from tunewidgets.ui.sweep.panel import SweepFeed, SweepPanel

BASE = SMALL.replace(seed=1)






def edit_grid(panel, epochs=3):
    """Through the widgets: a 2 x 2 grid over lr (log) and units (choices); the default rows off."""
    rows = panel.editor.rows
    for name in ("layers", "dropout"):
        rows[name].include.value = False
    rows["lr"].inputs["low"].value = 1e-3
    rows["lr"].inputs["high"].value = 1e-1
    rows["lr"].inputs["n"].value = 2
    rows["units"].inputs["values"].value = "16, 48"
    panel.settings["strategy"].value = "grid"
    panel.settings["n_trials"].value = 4
    panel.settings["epochs"].value = epochs


@pytest.fixture(scope="module")
def finished(digits):
    """A panel linked to a TrainPanel whose 4-trial grid sweep was launched by a click and has ended."""
    train = TrainPanel(digits, BASE.replace(units=64, lr=5e-3))
    panel = SweepPanel(digits, base=BASE, train_panel=train)
    edit_grid(panel)
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.INFO)
    started = time.monotonic()
    panel.buttons["launch"].click()
    sweep = panel.sweep
    assert sweep is not None, html.unescape(panel.message.value)
    quiet_while_running = optuna.logging.get_verbosity()
    assert panel.buttons["launch"].disabled and not panel.buttons["stop"].disabled
    assert panel.wait(60) == "completed"
    elapsed = time.monotonic() - started
    info = {"quiet_while_running": quiet_while_running, "level_after": optuna.logging.get_verbosity(),
            "elapsed": elapsed}
    optuna.logging.set_verbosity(level)
    return panel, train, sweep, info


def test_launch_runs_the_space_edited_in_the_widgets(finished):
    panel, _, sweep, info = finished
    assert panel.space == tw.Space(lr=tw.LogUniform(1e-3, 1e-1, n=2), units=tw.Choice([16, 48]))
    assert sweep.space == panel.space and sweep.base == BASE
    assert sweep.info["strategy"] == "grid" and sweep.info["pruner"] is None  # "none" in the dropdown
    table = sweep.table()
    assert len(table) == 4 and set(table["status"]) == {"complete"}
    assert sorted(zip(table["lr"], table["units"])) == [(1e-3, 16), (1e-3, 48), (1e-1, 16), (1e-1, 48)]
    assert (table["epochs_trained"] == 3).all()
    assert sweep.best_value > 0.8  # it really trained
    # Optuna's per-trial INFO lines were quiet while the panel ran, and its level is back afterwards
    assert info["quiet_while_running"] == optuna.logging.WARNING
    assert info["level_after"] == optuna.logging.INFO


def test_the_table_shows_the_trials_ranked_best_first(finished):
    panel, _, sweep, _ = finished
    table = sweep.table()
    assert len(panel.table) == 4
    assert panel.table.header[:4] == ["trial", "rank", "status", "val_accuracy"]
    cells = [panel.table.cells(i) for i in range(4)]
    assert [c[0] for c in cells] == [f"trial {t}" for t in table["trial"]]
    assert [c[1] for c in cells] == ["1", "2", "3", "4"]
    shown = [float(c[3]) for c in cells]
    assert shown == sorted(shown, reverse=True)
    assert shown == pytest.approx(list(table["val_accuracy"]), abs=5e-5)
    assert [c[7] for c in cells] == [str(u) for u in table["units"]]
    assert "4/4 trials" in panel.status.value and "completed" in panel.status.value
    assert panel.progress.value == 4 and panel.progress.bar_style == "success"
    best = table.iloc[0]
    assert f"(trial {best['trial']})" in panel.best_label.value


def test_the_plot_got_every_epoch_of_every_trial_once(finished):
    panel, _, sweep, info = finished
    curves = panel.curves
    assert curves.rows() == 12  # 4 trials x 3 epochs, nothing lost, nothing doubled
    data = curves.source.data
    for number, history in sweep.runs.items():
        mine = [i for i, t in enumerate(data["trial"]) if t == number]
        assert [data["x1"][i] for i in mine] == [1, 2, 3]
        assert [data["y1"][i] for i in mine] == pytest.approx(list(history["val_accuracy"]))
        # each segment starts where the trial's previous epoch ended
        assert [data["y0"][i] for i in mine[1:]] == [data["y1"][i] for i in mine[:-1]]
    best = int(sweep.table().iloc[0]["trial"])
    assert curves.best_trial == best
    assert curves.best_source.data["value"] == pytest.approx(list(sweep.runs[best]["val_accuracy"]))
    # throttled: at most one stream per tick (10 a second), not one per epoch event
    assert 1 <= panel.stream_calls <= 10 * info["elapsed"] + 2
    assert len(curves.figure.renderers) == 5  # built once (with the population marks): no glyph added per trial


def test_charts_appear_under_the_panel_when_the_sweep_ends(finished, monkeypatch):
    panel, _, _, _ = finished
    assert len(panel.charts.children) == 3  # title, the top-k% choice, the figures
    view = panel.charts.children[2]
    names = {m.name for m in view.bokeh_model.references() if getattr(m, "name", None)}
    assert {"tw-sweep-vs-lr", "tw-sweep-vs-units", "tw-sweep-parallel", "tw-sweep-importance"} <= names
    monkeypatch.setattr(panel.sweep, "importances", None)  # narrowing reuses the importances computed once
    panel.charts.top.value = 0.5  # only the best half of the trials in the parallel coordinates
    assert view.comm is None  # the replaced view was closed
    view = panel.charts.children[2]
    parallel = next(m for m in view.bokeh_model.references() if getattr(m, "name", None) == "tw-sweep-parallel")
    assert "best 50%" in parallel.title.text
    assert "tw-sweep-importance" in {getattr(m, "name", None) for m in view.bokeh_model.references()}


def test_apply_best_and_a_clicked_row_load_into_the_linked_train_panel(finished):
    panel, train, sweep, _ = finished
    assert not panel.buttons["apply_best"].disabled
    assert train.hparams.units == 64
    panel.buttons["apply_best"].click()
    assert train.hparams == sweep.best
    assert train.controls.fields["units"].value == sweep.best.units
    assert train.controls.fields["lr"].value == pytest.approx(sweep.best.lr)
    assert "best trial" in panel.message.value
    table = sweep.table()
    panel.table.row_buttons[3].click()  # the worst trial
    worst = table.iloc[3]
    assert train.hparams == BASE.replace(lr=float(worst["lr"]), units=int(worst["units"]))
    assert f"trial {worst['trial']}" in panel.message.value
    assert panel.apply(int(table.iloc[1]["trial"])) == train.hparams
    with pytest.raises(ValueError, match="trial 99 does not exist"):
        panel.apply(99)


def test_echoed_stream_and_patch_events_from_the_page_are_ignored(finished):
    panel, _, _, _ = finished
    source = panel.curves.source
    rows = {c: [v[0]] for c, v in source.data.items()}
    for event in (ColumnsStreamedEvent(source.document, source, "data", rows, None, None),
                  ColumnsPatchedEvent(source.document, source, "data", {"alpha": [(0, 0.1)]}, None)):
        content = {**Serializer().encode(event), "event": "jsevent"}
        panel.plots._sync_model(panel.plots, dict(content), [])
    assert panel.curves.rows() == 12 and panel.plots.echoes_ignored == 2
    assert source.data["alpha"][0] != 0.1


def test_epochs_that_arrive_with_a_trials_result_still_reach_the_plot(finished, digits):
    """Process and Dask workers can finish before their last epoch events are relayed: the finished
    trial's record completes its curve, and a relayed event arriving after that is not drawn twice."""
    _, _, sweep, _ = finished
    panel = SweepPanel(digits, base=BASE)
    panel.sweep = sweep
    ends = [tw.MetricEvent(f"trial-{r.number}", "status", len(r.rows), 0, {"status": r.status, "trial": r.number})
            for r in sweep.records()]
    panel._deliver(SweepFeed(sweep), ends)  # the status events only: no epoch event came through
    assert panel.curves.rows() == 12
    late = [tw.MetricEvent("trial-0", "epoch", 3, 0, {"val_accuracy": 0.5, "trial": 0})]
    panel._deliver(SweepFeed(sweep), late)
    assert panel.curves.rows() == 12 and panel.curves.rows(0) == 3


def test_stop_ends_the_sweep_and_keeps_finished_trials(digits):
    panel = SweepPanel(digits, tw.Space(lr=tw.LogUniform(1e-3, 1e-2)), base=BASE.replace(epochs=5000),
                       n_trials=6, seed=0)
    started = time.monotonic()
    sweep = panel.launch()
    assert panel.sweep is sweep and panel.active
    assert wait_for(lambda: panel.curves.rows() >= 3, timeout=30)
    assert "running" in panel.status.value and "ETA" in panel.status.value
    stop_clicked = time.monotonic()
    panel.buttons["stop"].click()
    assert sweep.wait(10) == "stopped"
    assert time.monotonic() - stop_clicked < 5
    assert panel.wait(10) == "stopped"
    elapsed = time.monotonic() - started
    table = sweep.table()
    assert len(table) == 1 and table.iloc[0]["status"] == "stopped"  # one trial at a time, no new ones
    assert panel.curves.rows() == int(table.iloc[0]["epochs_trained"]) >= 3
    assert set(panel.curves.source.data["color"]) == {FADED[0]}  # the stopped trial is faded
    assert panel.patch_calls == 1
    assert panel.table.cells(0)[2] == "stopped" and "stopped" in panel.status.value
    assert panel.progress.bar_style == "warning"
    assert not panel.buttons["launch"].disabled and panel.buttons["stop"].disabled
    assert panel.stream_calls <= 10 * elapsed + 2
    assert panel.buttons["apply_best"].disabled  # nothing completed, nothing linked


def include_and_set(panel, name, text):
    panel.editor.rows[name].include.value = True
    panel.editor.rows[name].inputs["values"].value = text


def test_the_pruner_picked_in_the_panel_prunes_and_pruned_trials_fade(digits):
    panel = SweepPanel(digits, tw.Space(lr=tw.LogUniform(1e-4, 1e-1)), base=BASE.replace(epochs=4), seed=0)
    panel.settings["pruner"].value = "halving"
    panel.settings["n_trials"].value = 6
    panel.buttons["launch"].click()
    assert panel.wait(60) == "completed"
    sweep = panel.sweep
    assert sweep.info["pruner"] == "halving"
    table = sweep.table()
    pruned = list(table.loc[table["status"] == "pruned", "trial"])
    assert pruned and (table.loc[table["status"] == "pruned", "epochs_trained"] < 4).all()
    data = panel.curves.source.data
    for trial, color, alpha in zip(data["trial"], data["color"], data["alpha"]):
        assert ((color, alpha) == FADED) == (trial in pruned)
    assert panel.patch_calls == len(pruned)  # one restyle per pruned trial
    assert f"{len(pruned)} pruned" in panel.status.value
    statuses = [panel.table.cells(i)[2] for i in range(len(panel.table))]
    assert statuses == list(table["status"]) and statuses[-len(pruned):] == ["pruned"] * len(pruned)
    assert panel.curves.best_trial not in pruned


@pytest.mark.parametrize("edit, words", [
    (lambda p: setattr(p.editor.rows["lr"].inputs["low"], "value", 0.0), ["lr:", "low=0.0", "low > 0"]),
    (lambda p: setattr(p.editor.rows["lr"].inputs["low"], "value", 0.5), ["lr:", "low=0.5", "high=0.1",
                                                                          "> 0 and <= 100"]),
    (lambda p: setattr(p.editor.rows["dropout"].inputs["high"], "value", 1.0), ["dropout", "1.0", ">= 0 and < 1"]),
    (lambda p: setattr(p.editor.rows["units"].inputs["values"], "value", "16, lots"), ["units:", "'lots'",
                                                                                     "integer"]),
    (lambda p: setattr(p.editor.rows["layers"].inputs["high"], "value", 99), ["layers", "99", ">= 1 and <= 64"]),
    (lambda p: include_and_set(p, "batch_size", "0, 64"), ["batch_size:", "0", ">= 1 and <= 1000000"]),
    (lambda p: [setattr(r.include, "value", False) for r in p.editor.rows.values()], ["no hyperparameter"]),
])
def test_an_invalid_space_edit_disables_launch_with_a_message_naming_the_field(digits, edit, words):
    panel = SweepPanel(digits, base=BASE)
    launch = panel.buttons["launch"]
    assert not launch.disabled and panel.editor.message.value == ""
    edit(panel)
    assert launch.disabled and not panel.valid
    shown = html.unescape(panel.editor.message.value)
    for word in words:
        assert word in shown and word in panel.editor.error
    launch.click()  # a click on a stale page must not raise into the notebook
    assert panel.sweep is None and words[0] in html.unescape(panel.message.value)
    with pytest.raises(ValueError, match=words[0].rstrip(":")):
        panel.launch()


@pytest.mark.parametrize("key, value, words", [("n_trials", 0, "trials=0"), ("epochs", 0, "epochs=0")])
def test_invalid_settings_disable_launch_too(digits, key, value, words):
    panel = SweepPanel(digits, base=BASE)
    panel.settings[key].value = value
    assert panel.buttons["launch"].disabled and words in panel.settings_message.value
    panel.settings[key].value = 2
    assert not panel.buttons["launch"].disabled and panel.settings_message.value == ""


def test_defaults_a_given_space_and_linking(digits):
    panel = SweepPanel(digits)
    assert panel.space == tw.Space(lr=tw.LogUniform(1e-4, 1e-1), units=tw.Choice([32, 64, 128]),
                                   layers=tw.IntRange(1, 3), dropout=tw.Uniform(0.0, 0.5))
    assert {"batch_size", "optimizer"} <= set(panel.editor.rows)
    assert not panel.editor.rows["optimizer"].include.value
    assert panel.editor.rows["optimizer"].inputs["values"].disabled  # greyed out while not searched
    assert "grid of 225 points" in panel.editor.summary.value
    given = tw.Space(lr=tw.LogUniform(1e-3, 1e-2, n=3), batch_size=tw.Choice([32, 64]),
                     weight_decay=tw.Uniform(0.0, 0.01), momentum=tw.Uniform(0.5, 0.9))
    panel = SweepPanel(digits, given, base=BASE)
    assert panel.space == given  # default rows not in the given space are off; new fields get a row
    assert "momentum" in panel.editor.rows
    assert panel.buttons["apply_best"].disabled
    with pytest.raises(ValueError, match="no TrainPanel is linked|no trial has completed"):
        panel.apply_best()
    with pytest.raises(ValueError, match="must be a tw.TrainPanel"):
        panel.link(object())
    with pytest.raises(ValueError, match="must be a tw.Data"):
        SweepPanel([1, 2, 3])
    assert tw.SweepPanel is SweepPanel
