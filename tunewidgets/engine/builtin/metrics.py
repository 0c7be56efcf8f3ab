"""Validation metrics computed on the device from confusion matrices (no copy to the CPU per epoch).

These run every epoch, so they avoid scikit-learn's per-call overhead; ``tests/engine/test_metrics.py``
checks them against scikit-learn. Each takes a leading member dimension, so a batched group scores
all its members in one pass (one host sync, not one per member); a single run is a group of one.
"""

from __future__ import annotations

import torch

CLASSIFICATION = ("accuracy", "f1", "recall")
REGRESSION = ("mse", "mae", "r2")


def member_classification_metrics(logits: torch.Tensor, y: torch.Tensor, n_classes: int) -> list[dict[str, float]]:
    """Accuracy, macro F1 and macro recall of each member's ``(members, n, classes)`` logits (classes
    absent from both ``y`` and a member's predictions score 0, as scikit-learn's ``zero_division=0``)."""
    members = logits.shape[0]
    pred = logits.argmax(dim=2)
    cell = torch.arange(members, device=pred.device).unsqueeze(1) * n_classes ** 2 + y * n_classes + pred
    confusion = torch.bincount(cell.reshape(-1), minlength=members * n_classes ** 2)
    confusion = confusion.reshape(members, n_classes, n_classes).double()
    true_pos = confusion.diagonal(dim1=1, dim2=2)
    support = confusion.sum(dim=2)
    predicted = confusion.sum(dim=1)
    zeros = torch.zeros_like(true_pos)
    recall = torch.where(support > 0, true_pos / support.clamp(min=1), zeros)
    precision = torch.where(predicted > 0, true_pos / predicted.clamp(min=1), zeros)
    denom = precision + recall
    f1 = torch.where(denom > 0, 2 * precision * recall / denom.clamp(min=1e-12), zeros)
    present = ((support > 0) | (predicted > 0)).double()  # scikit-learn averages over labels seen
    seen = present.sum(dim=1)
    values = torch.stack([true_pos.sum(dim=1) / confusion.sum(dim=(1, 2)), (f1 * present).sum(dim=1) / seen,
                          (recall * present).sum(dim=1) / seen], dim=1).tolist()
    return [dict(zip(CLASSIFICATION, row)) for row in values]


def member_regression_metrics(pred: torch.Tensor, y: torch.Tensor) -> list[dict[str, float]]:
    """MSE, MAE and R2 (averaged over targets) of each member's ``(members, n, ...)`` predictions, in
    the standardized target units."""
    members = pred.shape[0]
    pred, y = pred.double().reshape(members, len(y), -1), y.double().reshape(len(y), -1)
    err = pred - y
    ss_res = (err ** 2).sum(dim=1)
    ss_tot = ((y - y.mean(dim=0)) ** 2).sum(dim=0).clamp(min=1e-12)
    values = torch.stack([(err ** 2).mean(dim=(1, 2)), err.abs().mean(dim=(1, 2)),
                          (1 - ss_res / ss_tot).mean(dim=1)], dim=1).tolist()
    return [dict(zip(REGRESSION, row)) for row in values]


def classification_metrics(logits: torch.Tensor, y: torch.Tensor, n_classes: int) -> dict[str, float]:
    """``member_classification_metrics`` of one model's ``(n, classes)`` logits."""
    return member_classification_metrics(logits.unsqueeze(0), y, n_classes)[0]


def regression_metrics(pred: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """``member_regression_metrics`` of one model's predictions."""
    return member_regression_metrics(pred.unsqueeze(0), y)[0]
