"""TrainPanel headless: real widgets, real Bokeh documents, real background training."""

import html
import json
import time

import pytest
from bokeh.core.serialization import Serializer
from bokeh.document.events import ColumnsStreamedEvent
from jupyter_bokeh import BokehModel

from helpers.settings import SMALL
from helpers.waiting import wait_for
from tunewidgets.ui import TrainPanel

FAST = SMALL.replace(lr=3e-3, seed=1, device="auto")  # the panel's own device choice






@pytest.fixture
def panel(digits):
    p = TrainPanel(digits, FAST)
    yield p
    p.stop()
    p.wait(10)


def test_start_trains_with_the_values_set_in_the_controls(panel):
    f = panel.controls.fields
    f["lr"].value = 0.01
    f["units"].value = 48
    f["batch_size"].value = 256
    f["optimizer"].value = "momentum"
    f["momentum"].value = 0.8
    f["epochs"].value = 4
    panel.buttons["start"].click()
    assert len(panel.runs) == 1
    run = panel.runs[0]
    assert panel.wait(60) == "completed"
    hp = run.hparams
    assert (hp.lr, hp.units, hp.batch_size, hp.optimizer, hp.momentum, hp.epochs) == (0.01, 48, 256, "momentum", 0.8, 4)
    assert run.model[0].out_features == 48  # the model was built from the controls too
    # the plot received every epoch once, with the history's values
    source = panel.curves.slot_of(run.id).epochs
    assert source.data["epoch"] == [1, 2, 3, 4]
    assert source.data["val_loss"] == pytest.approx(list(run.history["val_loss"]))
    assert source.data["metric"] == pytest.approx(list(run.history["val_accuracy"]))
    assert panel.progress.value == 4 and panel.progress.bar_style == "success"
    assert "epoch 4/4" in panel.status.value and "completed" in panel.status.value
    assert panel.history.cells(0)[:2] == [run.name, "completed"]
    assert not panel.buttons["start"].disabled and panel.buttons["stop"].disabled


def test_stop_ends_the_run_within_a_second_and_pause_holds_it(panel):
    panel.controls.fields["epochs"].value = 5000
    run = panel.start()
    assert wait_for(lambda: run.epochs_done >= 1)
    assert not panel.buttons["stop"].disabled and panel.buttons["start"].disabled
    panel.buttons["pause"].click()
    assert panel.buttons["pause"].description == "Resume"
    assert wait_for(lambda: run.status == "paused", timeout=2)
    held = run.epochs_done
    time.sleep(0.4)
    assert run.epochs_done == held
    panel.buttons["pause"].click()
    assert panel.buttons["pause"].description == "Pause"
    assert wait_for(lambda: run.epochs_done > held, timeout=10)
    started = time.monotonic()
    panel.buttons["stop"].click()
    assert run.wait(1.0) == "stopped"
    assert time.monotonic() - started < 1.0
    panel.wait(5)
    assert "stopped" in panel.status.value
    assert panel.curves.rows(run.id) == run.epochs_done  # nothing lost, nothing doubled


@pytest.mark.parametrize("field, value, words", [
    ("units", 0, ["units=0", ">= 1 and <= 65536"]),
    ("epochs", -5, ["epochs=-5", ">= 1"]),
    ("weight_decay", 2.0, ["weight_decay=2.0", "<= 1"]),
    ("batch_size", 4096, ["batch_size=4096", "1437 training samples"]),
    ("model", "cnn", ["model='cnn'", "image data"]),
])
def test_an_invalid_value_disables_start_with_a_message_naming_the_field(panel, field, value, words):
    start = panel.buttons["start"]
    assert not start.disabled
    panel.controls.fields[field].value = value
    assert start.disabled and panel.buttons["find_lr"].disabled
    for word in words:
        assert word in html.unescape(panel.controls.message.value)
        assert word in panel.controls.error
    start.click()  # a click on a stale page must not raise into the notebook
    assert panel.runs == []
    with pytest.raises(ValueError, match=field):
        panel.start()
    panel.controls.set_hparams(FAST)
    assert not start.disabled and panel.controls.message.value == ""


def test_selecting_a_history_row_loads_its_hyperparameters(panel):
    panel.controls.fields["units"].value = 24
    panel.start()
    panel.wait(60)
    panel.controls.fields["units"].value = 40
    panel.controls.fields["dropout"].value = 0.25
    panel.start()
    panel.wait(60)
    assert len(panel.history) == 2
    assert "x40" in panel.history.cells(1)[panel.history.header.index("hyperparameters")]
    panel.history.row_buttons[0].click()
    assert panel.hparams == panel.runs[0].hparams
    assert panel.controls.fields["units"].value == 24 and panel.controls.fields["dropout"].value == 0.0
    panel.history.row_buttons[1].click()
    assert panel.hparams.units == 40 and panel.hparams.dropout == 0.25
    panel.reset()
    assert panel.hparams == FAST


def test_rollover_bounds_the_rows_and_updates_are_throttled(digits):
    panel = TrainPanel(digits, FAST.replace(epochs=8), rollover=3)
    started = time.monotonic()
    run = panel.start()
    assert panel.wait(60) == "completed"
    elapsed = time.monotonic() - started
    assert run.epochs_done == 8
    assert panel.curves.rows(run.id) == 3
    assert panel.curves.slot_of(run.id).epochs.data["epoch"] == [6, 7, 8]
    # at most one stream per source per tick (10 a second), whatever the number of events
    assert panel.stream_calls <= 2 * (10 * elapsed + 2)


def test_redisplay_shows_the_current_data_and_clear_removes_old_runs(panel):
    first = panel.start()
    panel.wait(60)
    # what a page connecting now receives (Voila connects after the notebook ran), even without a redisplay
    docs = json.loads(panel.plots.get_state("render_bundle")["render_bundle"])["docs_json"]
    text = json.dumps(docs)
    assert '"tw-epochs-0"' in text
    # the bundle new views render from holds the three epochs streamed after construction
    source = next(r for r in _walk(docs) if isinstance(r, dict) and r.get("name") == "ColumnDataSource"
                  and _attr(r, "name") == "tw-epochs-0")
    assert len(_column(source, "epoch")) == 3
    panel.controls.fields["epochs"].value = 5000
    second = panel.start()
    panel.buttons["clear"].click()  # while the second trains: only the first goes
    assert panel.curves.slot_of(first.id) is None and panel.curves.slot_of(second.id) is not None
    assert panel.curves.slots[0].legend_items[0].visible is False
    assert panel.curves.slots[1].legend_items[0].label.value == second.name
    panel.stop()


def test_echoed_stream_events_from_the_page_are_ignored(panel):
    run = panel.start()
    panel.wait(60)
    source = panel.curves.slot_of(run.id).epochs
    event = ColumnsStreamedEvent(source.document, source, "data",
                                 {"epoch": [9], "train_loss": [1.0], "val_loss": [1.0], "metric": [0.5]}, None, None)
    content = {**Serializer().encode(event), "event": "jsevent"}
    panel.plots._sync_model(panel.plots, dict(content), [])
    assert panel.curves.rows(run.id) == 3 and panel.plots.echoes_ignored == 1
    # jupyter_bokeh's own widget would apply the echo a second time
    plain = BokehModel(panel.curves.layout)
    plain._sync_model(plain, dict(content), [])
    assert panel.curves.rows(run.id) == 4


def test_find_lr_button_plots_the_test_and_moves_the_lr_slider(panel):
    panel.buttons["find_lr"].click()
    panel.wait(60)
    assert "suggested lr" in panel.message.value
    lrs = panel.lr_chart.source.data["lr"]
    assert len(lrs) >= 20 and panel.lr_chart.figure.visible
    suggestion = panel.lr_chart.marker.location
    assert lrs[0] <= suggestion <= lrs[-1]
    assert panel.controls.fields["lr"].value == pytest.approx(suggestion)
    assert panel.hparams.lr == pytest.approx(suggestion)
    assert not panel.buttons["start"].disabled


def test_a_run_that_fails_is_shown_not_raised(digits):
    def broken(hp, data):
        import torch

        class Bad(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.w = torch.nn.Linear(64, 10)

            def forward(self, x):
                if self.training:  # passes the output check before training, fails in the first batch
                    raise RuntimeError("shape trouble")
                return self.w(x)
        return Bad()

    panel = TrainPanel(digits, FAST.replace(model=broken))
    panel.buttons["start"].click()
    assert panel.wait(30) == "failed"
    assert "shape trouble" in panel.message.value and panel.progress.bar_style == "danger"


def test_a_factory_with_the_wrong_output_width_is_refused_at_start(digits):
    import torch

    panel = TrainPanel(digits, FAST.replace(model=lambda hp, data: torch.nn.Linear(64, 3)))
    panel.buttons["start"].click()  # shown in the panel, not raised, and nothing trains
    assert "outputs shape (3,) per sample" in panel.message.value and "10 classes" in panel.message.value
    assert panel.runs == [] and not panel.buttons["start"].disabled


def _walk(node):
    yield node
    if isinstance(node, dict):
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def _attr(model, key):
    return (model.get("attributes") or {}).get(key)


def _column(source, key):
    data = _attr(source, "data")
    entries = dict(data["entries"]) if isinstance(data, dict) and "entries" in data else data
    col = entries[key]
    if isinstance(col, dict) and "shape" in col:
        return [None] * col["shape"][0]
    return col
