"""Evaluation beyond accuracy: per-class precision, recall and F1, and the confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .data import Data
from .recipe import split_batches
from ..run import Run
from ...statuses import Status


@dataclass
class Evaluation:
    """What ``evaluate`` found. Classification fills ``report`` and ``confusion``; regression ``scores``."""

    task: str
    scores: dict[str, float]
    report: pd.DataFrame | None = None  # one row per class, plus macro and weighted averages
    confusion: pd.DataFrame | None = None  # rows: true class, columns: predicted class


@torch.no_grad()
def predict(model: torch.nn.Module, data: Data, split: str = "val") -> tuple[np.ndarray, np.ndarray]:
    """Model outputs and targets of a split ('train' or 'val'), on the CPU."""
    if split not in ("train", "val"):
        raise ValueError(f"split={split!r} is not allowed: must be 'train' or 'val'")
    device = next(model.parameters()).device
    model.eval()
    outputs, targets = [], []
    for xb, yb in split_batches(data, device, split, cached=False):
        outputs.append(model(xb).float().cpu())
        targets.append(yb.cpu())
    return torch.cat(outputs).numpy(), torch.cat(targets).numpy()


def evaluate(run_or_model: Run | torch.nn.Module, data: Data, split: str = "val") -> Evaluation:
    """Score a trained run (or model) on ``data``'s validation (or training) split.

    Example::

        ev = tw.evaluate(run, data)
        ev.report          # precision / recall / F1 / support per class
        ev.confusion       # true x predicted counts
    """
    from sklearn import metrics as skm

    model = run_or_model.model if isinstance(run_or_model, Run) else run_or_model
    if model is None:
        raise ValueError("the run has no model yet: start it first")
    if isinstance(run_or_model, Run) and run_or_model.status == Status.DIVERGED:
        raise ValueError(f"{run_or_model.name} diverged (its loss became NaN or infinite after "
                         f"{run_or_model.epochs_done} finished epoch(s)): its weights give no usable predictions; "
                         f"evaluate a run that trained to the end, e.g. with a lower lr")
    out, y = predict(model, data, split)
    if not np.isfinite(out).all():
        raise ValueError("the model's outputs hold NaN or infinite values (it diverged): there is nothing to "
                         "evaluate; retrain it, e.g. with a lower lr")
    if data.task == "regression":
        return Evaluation("regression", {"mse": float(skm.mean_squared_error(y, out)),
                                         "mae": float(skm.mean_absolute_error(y, out)),
                                         "r2": float(skm.r2_score(y, out))})
    pred = out.argmax(axis=1)
    labels = list(range(data.n_outputs))
    names = [str(n) for n in (data.class_names or labels)]
    report = skm.classification_report(y, pred, labels=labels, target_names=names, output_dict=True,
                                       zero_division=0)
    report_frame = pd.DataFrame(report).T.drop(index="accuracy", errors="ignore")
    confusion = pd.DataFrame(skm.confusion_matrix(y, pred, labels=labels), index=names, columns=names)
    confusion.index.name, confusion.columns.name = "true", "predicted"
    scores = {"accuracy": float(skm.accuracy_score(y, pred)),
              "precision": float(skm.precision_score(y, pred, average="macro", zero_division=0)),
              "recall": float(skm.recall_score(y, pred, average="macro", zero_division=0)),
              "f1": float(skm.f1_score(y, pred, average="macro", zero_division=0))}
    return Evaluation("classification", scores, report_frame, confusion)
