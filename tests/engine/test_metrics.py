"""The per-epoch metrics computed on the device agree with scikit-learn."""

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, mean_squared_error, r2_score, recall_score

from tunewidgets.engine.builtin.metrics import classification_metrics, regression_metrics


def test_classification_metrics_match_sklearn_including_missing_classes():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 300)  # class 4 never occurs in y
    pred = np.where(rng.random(300) < 0.7, y, rng.integers(0, 5, 300))
    logits = torch.nn.functional.one_hot(torch.as_tensor(pred), 5).float()
    got = classification_metrics(logits, torch.as_tensor(y), 5)
    assert np.isclose(got["accuracy"], accuracy_score(y, pred))
    assert np.isclose(got["f1"], f1_score(y, pred, average="macro", zero_division=0))
    assert np.isclose(got["recall"], recall_score(y, pred, average="macro", zero_division=0))


def test_regression_metrics_match_sklearn():
    rng = np.random.default_rng(1)
    y = rng.normal(size=(200, 1))
    pred = y + rng.normal(scale=0.3, size=(200, 1))
    got = regression_metrics(torch.as_tensor(pred), torch.as_tensor(y))
    assert np.isclose(got["mse"], mean_squared_error(y, pred))
    assert np.isclose(got["mae"], mean_absolute_error(y, pred))
    assert np.isclose(got["r2"], r2_score(y, pred))
