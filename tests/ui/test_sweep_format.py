"""The sweep panel's text: progress line, ETA, best, table cells, choice parsing."""

import math

import pytest

from tunewidgets.ui.sweep.space_editor import parse_choices
from tunewidgets.ui.sweep.format import (format_best, format_space_error, format_sweep_progress, sweep_cells,
                                         sweep_eta, sweep_header)


def progress(done=0, n_trials=10, running=0, pruned=0, failed=0, stopped=0, elapsed=0.0):
    return {"done": done, "n_trials": n_trials, "running": running, "pruned": pruned, "failed": failed,
            "stopped": stopped, "complete": done - pruned - failed - stopped, "elapsed": elapsed}


@pytest.mark.parametrize("p, eta", [
    (progress(done=0, elapsed=5), None),             # nothing finished: unknown
    (progress(done=2, elapsed=10), 40.0),            # 5 s a trial, 8 left
    (progress(done=5, n_trials=10, elapsed=30), 30.0),
    (progress(done=10, n_trials=10, elapsed=30), 0.0),
    (progress(done=3, elapsed=float("nan")), None),
])
def test_sweep_eta_from_the_average_trial_so_far(p, eta):
    assert sweep_eta(p) == eta


def test_progress_line_while_running_and_after():
    p = progress(done=3, n_trials=6, running=1, pruned=1, failed=0, elapsed=6.0)
    assert format_sweep_progress(p, "running") == "3/6 trials · 1 running · 1 pruned · 0 failed · ETA 0:06"
    assert format_sweep_progress(progress(done=0, n_trials=4, running=1), "running").endswith("ETA -:--")
    done = progress(done=4, n_trials=4, failed=1, stopped=1)
    assert format_sweep_progress(done, "stopped") == ("4/4 trials · 0 running · 0 pruned · 1 failed · 1 stopped"
                                                      " · stopped")


def test_best_text():
    assert format_best("val_accuracy", 0.96111, 3) == "best val_accuracy 0.9611 (trial 3)"
    assert format_best("val_loss", 0.5, None) == "best val_loss 0.5000"
    assert format_best("val_accuracy", None, None) == "" and format_best("val_accuracy", math.nan, 1) == ""


def test_table_header_and_cells_in_the_same_order():
    header = sweep_header("val_accuracy", ["lr", "batch_size", "optimizer"])
    assert header == ["trial", "rank", "status", "val_accuracy", "epochs", "time", "lr", "batch size", "optimizer",
                      "error"]
    row = {"rank": 1, "trial": 4, "status": "complete", "val_accuracy": 0.961111, "epochs_trained": 3,
           "seconds": 1.234, "lr": 0.00316227, "batch_size": 64, "optimizer": "adam", "error": ""}
    cells = sweep_cells(row, "val_accuracy", ["lr", "batch_size", "optimizer"])
    assert cells == ["trial 4", "1", "complete", "0.9611", "3", "1.2 s", "0.00316", "64", "adam", ""]
    failed = dict(row, status="failed", val_accuracy=math.nan, error="RuntimeError: " + "x" * 200)
    cells = sweep_cells(failed, "val_accuracy", ["lr", "batch_size", "optimizer"])
    assert cells[3] == "" and len(cells[-1]) == 80 and cells[-1].endswith("...")
    # a parameter whose column was renamed to avoid a clash
    clash = {"rank": 1, "trial": 0, "status": "complete", "val_accuracy": 0.5, "param_seconds": 7}
    assert sweep_cells(clash, "val_accuracy", ["seconds"], {"seconds": "param_seconds"})[6] == "7"


def test_numpy_scalars_format_like_python_numbers():
    np = pytest.importorskip("numpy")
    row = {"rank": np.int64(2), "trial": np.int64(1), "status": "pruned", "val_accuracy": np.float64(0.5),
           "epochs_trained": np.int64(2), "seconds": np.float64(12.4), "lr": np.float64(0.001), "error": ""}
    assert sweep_cells(row, "val_accuracy", ["lr"]) == ["trial 1", "2", "pruned", "0.5000", "2", "12 s", "0.001", ""]


def test_space_errors_name_the_field_first():
    assert format_space_error("lr", "lr: low=0.1 must be < high=0.01") == "lr: low=0.1 must be < high=0.01"
    assert format_space_error("units", "choice 'x' is not an integer") == "units: choice 'x' is not an integer"


@pytest.mark.parametrize("name, text, values", [
    ("batch_size", "32, 64,128", [32, 64, 128]),
    ("optimizer", "sgd, 'adam' , rmsprop", ["sgd", "adam", "rmsprop"]),
    ("dropout", "0, 0.25", [0.0, 0.25]),
    ("amp", "true, False", [True, False]),
])
def test_parse_choices_types_values_by_field(name, text, values):
    assert parse_choices(name, text) == values


@pytest.mark.parametrize("name, text, words", [
    ("batch_size", "32, big", "batch_size: choice 'big' is not an integer"),
    ("dropout", "0.1, x", "dropout: choice 'x' is not a number"),
    ("units", " , ", "units: no choices given"),
])
def test_parse_choices_names_the_field(name, text, words):
    with pytest.raises(ValueError, match=words):
        parse_choices(name, text)
