"""The panel's text: status line, ETA, rates, table cells."""

import math

import pytest

import tunewidgets as tw
from tunewidgets.ui.base.format import (format_duration, format_eta, format_lr_suggestion, format_rate, format_status,
                                   format_value, history_cells, history_header, hparams_summary)


@pytest.mark.parametrize("seconds, text", [(0, "0:00"), (4.6, "0:05"), (59.4, "0:59"), (61, "1:01"),
                                           (3599, "59:59"), (3723, "1:02:03"), (None, "-:--"),
                                           (float("nan"), "-:--"), (float("inf"), "-:--"), (-1, "-:--")])
def test_format_eta(seconds, text):
    assert format_eta(seconds) == text


@pytest.mark.parametrize("rate, text", [(41_234.5, "41,200 samples/s"), (41_000, "41,000 samples/s"),
                                        (1_234_567, "1,230,000 samples/s"), (999.6, "1,000 samples/s"),
                                        (123.4, "123 samples/s"), (12.34, "12.3 samples/s"), (0, "0 samples/s"),
                                        (None, "-- samples/s"), (float("nan"), "-- samples/s")])
def test_format_rate(rate, text):
    assert format_rate(rate) == text


def test_status_line_while_running():
    line = format_status("cpu (2 threads)", "running", 3, 20, 41_000, 5)
    assert line == "cpu (2 threads) · epoch 3/20 · 41,000 samples/s · ETA 0:05"


def test_status_line_shows_the_status_instead_of_the_eta_when_not_running():
    assert format_status("cuda:0 (NVIDIA H100)", "paused", 3, 20, None, 5) == \
        "cuda:0 (NVIDIA H100) · epoch 3/20 · -- samples/s · paused"
    assert format_status("", "stopped", 0, 20, None, None).endswith("· stopped")


@pytest.mark.parametrize("seconds, text", [(0.042, "0.04 s"), (0.42, "0.4 s"), (12.4, "12 s"), (185, "3:05"), (None, ""),
                                           (float("nan"), "")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_format_value():
    assert format_value(0.003) == "0.003"
    assert format_value(0.0) == "0"
    assert format_value(1e-5) == "1e-05"
    assert format_value(128) == "128"
    assert format_value(True) == "yes"
    assert format_value(float("nan")) == ""
    assert format_value("adam") == "adam"

    def my_net(hp, data):
        return None

    assert format_value(my_net) == "my_net"


def test_history_row_matches_its_header():
    header = history_header("val_accuracy")
    cells = history_cells("run 1", "completed", 0.97123, 3.21, {"lr": 3e-3, "batch_size": 64, "model": "mlp"})
    assert len(cells) == len(header) == 5  # one hyperparameter column: the table fits a notebook's width
    assert cells[:4] == ["run 1", "completed", "0.9712", "3.2 s"]
    assert header[2] == "best val_accuracy"
    assert cells[4] == "lr 0.003 · batch 64 · epochs 20 · mlp 2x128 · adam · seed 0"
    assert history_cells("run 2", "running", math.nan, None, {})[2:4] == ["", ""]


def test_the_hyperparameter_summary_adds_what_differs_from_the_defaults():
    hp = tw.HParams(lr=1e-2, units=40, dropout=0.2, schedule="cosine", weight_decay=1e-4).to_dict()
    assert hparams_summary(hp) == ("lr 0.01 · batch 64 · epochs 20 · mlp 2x40 · adam · seed 0 · dropout 0.2 · "
                                   "L2 0.0001 · schedule cosine")
    assert hparams_summary(tw.HParams().to_dict()) == "lr 0.001 · batch 64 · epochs 20 · mlp 2x128 · adam · seed 0"


def test_lr_suggestion_message():
    text = format_lr_suggestion(3.1e-3, 2e-2, True)
    assert "3.10e-03" in text and "steepest" in text and "exploded" in text
    assert "no usable" in format_lr_suggestion(float("nan"), float("nan"), False)
