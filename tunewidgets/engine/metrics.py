"""Validation metrics computed on the device from a confusion matrix (no copy to the CPU per epoch).

These run every epoch, so they avoid scikit-learn's per-call overhead; ``tests/test_metrics.py``
checks them against scikit-learn.
"""

from __future__ import annotations

import torch

def classification_metrics(logits: torch.Tensor, y: torch.Tensor, n_classes: int) -> dict[str, float]:
    """Accuracy, macro F1 and macro recall (classes absent from both ``y`` and predictions score 0,
    as scikit-learn's ``zero_division=0``)."""
    pred = logits.argmax(dim=1)
    confusion = torch.bincount(y * n_classes + pred, minlength=n_classes * n_classes)
    confusion = confusion.reshape(n_classes, n_classes).double()
    true_pos = confusion.diag()
    support = confusion.sum(dim=1)
    predicted = confusion.sum(dim=0)
    recall = torch.where(support > 0, true_pos / support.clamp(min=1), torch.zeros_like(true_pos))
    precision = torch.where(predicted > 0, true_pos / predicted.clamp(min=1), torch.zeros_like(true_pos))
    denom = precision + recall
    f1 = torch.where(denom > 0, 2 * precision * recall / denom.clamp(min=1e-12), torch.zeros_like(denom))
    present = (support > 0) | (predicted > 0)  # scikit-learn averages over labels seen in y or predictions
    values = torch.stack([true_pos.sum() / confusion.sum(), f1[present].mean(), recall[present].mean()]).tolist()
    return {"accuracy": values[0], "f1": values[1], "recall": values[2]}


def regression_metrics(pred: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """MSE, MAE and R2 (averaged over targets), in the standardized target units."""
    pred, y = pred.double(), y.double()
    err = pred - y
    ss_res = (err ** 2).sum(dim=0)
    ss_tot = ((y - y.mean(dim=0)) ** 2).sum(dim=0).clamp(min=1e-12)
    values = torch.stack([(err ** 2).mean(), err.abs().mean(), (1 - ss_res / ss_tot).mean()]).tolist()
    return {"mse": values[0], "mae": values[1], "r2": values[2]}
