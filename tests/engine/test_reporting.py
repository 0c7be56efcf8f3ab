"""Custom metrics, evaluation beyond accuracy, export to CSV/JSON and TensorBoard."""

import json

import pandas as pd
import pytest

import tunewidgets as tw


def top2_accuracy(outputs, targets):
    return (outputs.topk(2, dim=1).indices == targets[:, None]).any(dim=1).float().mean().item()


def test_custom_metrics_become_history_columns(digits):
    run = tw.train(digits, epochs=3, units=32, lr=3e-3, metrics={"top2": top2_accuracy})
    h = run.history
    assert "val_top2" in h.columns
    assert (h["val_top2"] >= h["val_accuracy"]).all() and h["val_top2"].iloc[-1] > 0.9


def test_bad_custom_metric_names_are_rejected(digits):
    with pytest.raises(ValueError, match="metrics"):
        tw.train(digits, metrics={"top 2": top2_accuracy})


def test_evaluate_reports_per_class_scores_and_the_confusion_matrix(digits):
    run = tw.train(digits, epochs=5, units=64, lr=3e-3)
    ev = tw.evaluate(run, digits)
    assert ev.confusion.shape == (10, 10) and ev.confusion.values.sum() == digits.n_val
    assert ev.scores["accuracy"] == pytest.approx(run.history["val_accuracy"].iloc[-1])
    assert {"precision", "recall", "f1-score", "support"} <= set(ev.report.columns)
    assert ev.report.loc["macro avg", "f1-score"] == pytest.approx(ev.scores["f1"])


def test_evaluate_regression(regression_data):
    run = tw.train(regression_data, epochs=3, units=16)
    ev = tw.evaluate(run, regression_data)
    assert ev.scores["mse"] == pytest.approx(run.history["val_mse"].iloc[-1], rel=1e-4)


def test_export_runs_to_csv_and_json(tmp_path, digits):
    runs = [tw.train(digits, epochs=2, units=16, lr=lr) for lr in (1e-3, 1e-2)]
    csv = pd.read_csv(tw.export_runs(runs, tmp_path / "runs.csv"))
    assert len(csv) == 4 and set(csv["lr"]) == {1e-3, 1e-2}
    records = json.loads(tw.export_runs(runs, tmp_path / "runs.json").read_text())
    assert [len(r["history"]) for r in records] == [2, 2] and records[1]["hparams"]["lr"] == 1e-2
    assert list(tw.summary_frame(runs)["status"]) == ["completed", "completed"]
    with pytest.raises(ValueError, match=".csv or .json"):
        tw.export_runs(runs, tmp_path / "runs.xlsx")


def test_tensorboard_logger_writes_event_files(tmp_path, digits):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tw.train(digits, epochs=3, units=16, callbacks=[tw.TensorBoardLogger(tmp_path)])
    folders = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(folders) == 1
    acc = EventAccumulator(str(folders[0]))
    acc.Reload()
    values = [e.value for e in acc.Scalars("val_accuracy")]
    assert values == pytest.approx(run.history["val_accuracy"].tolist())
