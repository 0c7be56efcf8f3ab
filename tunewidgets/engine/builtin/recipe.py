"""The recipe every built-in training loop follows: the seeded model, batches, optimizers and
schedules, the L1 penalty, validation scores, the history row and early stopping.

The single-model loop (``loop.py``), the group loop (``batched/``) and the learning-rate range
test (``lr_finder.py``) all build on these, so a rule changed here changes for every path at once
(a custom metric, the NaN row of a diverged epoch, which weights L1 applies to).
"""

from __future__ import annotations

import math
import threading
from typing import Any, Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ...hparams import HParams
from .checks import check_output_width
from .data import Data, iterate_batches
from .metrics import member_classification_metrics, member_regression_metrics
from .models import build_model
from ..control.history import as_number

EVAL_CHUNK = 4096  # validation samples per forward pass
NAN = float("nan")


class Diverged(Exception):
    """The loss became NaN or infinite."""


# ---- set-up ----------------------------------------------------------------------------------------
SEEDING = threading.Lock()


def seeded_model(hp: HParams, data: Data, device: torch.device) -> nn.Module:
    """The model ``hp`` describes, with the weights ``hp.seed`` gives, on ``device``; a user's
    factory is checked to output what the data needs."""
    with SEEDING:  # the global generator: two runs built at once (a population's members) would mix draws
        torch.manual_seed(hp.seed)
        model = build_model(hp, data)
    model = model.to(device)
    if callable(hp.model):
        check_output_width(model, hp, data, device)
    return model


def make_generator(device: torch.device, seed: int) -> torch.Generator:
    """A seeded generator for shuffling: on the GPU for CUDA runs (no host sync), else on the CPU."""
    return torch.Generator(device=device if device.type == "cuda" else torch.device("cpu")).manual_seed(seed)


def make_optimizer(hp: HParams, model: nn.Module) -> torch.optim.Optimizer:
    """The optimizer ``hp.optimizer`` names; ``weight_decay`` is its L2 term (decoupled for AdamW)."""
    params = [p for p in model.parameters() if p.requires_grad]
    if hp.optimizer == "sgd":
        return torch.optim.SGD(params, lr=hp.lr, weight_decay=hp.weight_decay)
    if hp.optimizer == "momentum":
        return torch.optim.SGD(params, lr=hp.lr, momentum=hp.momentum, nesterov=True, weight_decay=hp.weight_decay)
    if hp.optimizer == "adam":
        return torch.optim.Adam(params, lr=hp.lr, weight_decay=hp.weight_decay)
    if hp.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=hp.lr, weight_decay=hp.weight_decay)
    if hp.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay)
    raise ValueError(f"optimizer={hp.optimizer!r} is unknown")  # unreachable: HParams validated it


def make_schedule(hp: HParams, optimizer: torch.optim.Optimizer, steps_per_epoch: int):
    """``(scheduler or None, steps_per_batch)``: cosine and one-cycle move every batch, step and
    exponential once per epoch."""
    sched = torch.optim.lr_scheduler
    total = max(1, hp.epochs * steps_per_epoch)
    if hp.schedule == "constant":
        return None, False
    if hp.schedule == "step":
        return sched.StepLR(optimizer, step_size=hp.step_size, gamma=hp.gamma), False
    if hp.schedule == "exponential":
        return sched.ExponentialLR(optimizer, gamma=hp.gamma), False
    if hp.schedule == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=total), True
    if hp.schedule == "onecycle":
        return sched.OneCycleLR(optimizer, max_lr=hp.lr, total_steps=total), True
    raise ValueError(f"schedule={hp.schedule!r} is unknown")  # unreachable: HParams validated it


def steps_per_epoch(data: Data, batch_size: int) -> int:
    return math.ceil(data.n_train / batch_size)


# ---- batches ---------------------------------------------------------------------------------------
def train_batches(data: Data, batch_size: int, device: torch.device, generator: torch.Generator
                  ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One shuffled epoch: index batching of in-memory tensors, or a seeded ``DataLoader``."""
    if data.in_memory:
        x, y, _, _ = data.on(device)
        return iterate_batches(x, y, batch_size, generator)
    loader_gen = torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,), generator=generator)))
    loader = data.loader("train", batch_size, shuffle=True, generator=loader_gen)
    return ((x.to(device, non_blocking=True), y.to(device, non_blocking=True)) for x, y in loader)


def split_batches(data: Data, device: torch.device, split: str = "val",
                  cached: bool = True) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """A split in order, ``EVAL_CHUNK`` samples at a time, on ``device``: what validation and
    ``tw.predict`` read. ``cached`` reads the copy the data keeps on the device (a training run's, made
    once); otherwise each chunk is moved on its own and nothing stays behind on the device."""
    if data.in_memory and cached:  # already on the device: slices, nothing moved (validation, every epoch)
        x_train, y_train, x_val, y_val = data.on(device)
        x, y = (x_train, y_train) if split == "train" else (x_val, y_val)
        return iterate_batches(x, y, EVAL_CHUNK, None)
    if data.in_memory:
        x, y = (data.x_train, data.y_train) if split == "train" else (data.x_val, data.y_val)
        return ((xb.to(device), yb.to(device)) for xb, yb in iterate_batches(x, y, EVAL_CHUNK, None))
    return ((x.to(device), y.to(device)) for x, y in data.loader(split, EVAL_CHUNK, shuffle=False))


# ---- losses and scores -----------------------------------------------------------------------------
def loss_function(task: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The training loss of a task (mean over the batch)."""
    return F.cross_entropy if task == "classification" else mse_loss


def mse_loss(out: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Mean squared error with the targets in the outputs' shape: a Dataset may yield one target per
    sample as a scalar, and ``(n,)`` against ``(n, 1)`` would broadcast to ``(n, n)``."""
    return F.mse_loss(out, y.reshape(out.shape), reduction=reduction)


def member_losses(task: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Each member's training loss over a batched group's stacked outputs ``(members, batch, ...)``:
    the loss ``loss_function(task)`` gives, computed per member."""
    m = out.shape[0]
    if task == "classification":  # classes as dimension 1: no copy of outputs computed transposed
        return F.cross_entropy(out.transpose(1, 2), y, reduction="none").mean(1)
    return mse_loss(out, y, reduction="none").reshape(m, -1).mean(1)


def is_l1_weight(param: torch.Tensor) -> bool:
    """L1 applies to weights (matrices, kernels), not to biases or norm scales."""
    return param.ndim > 1


def l1_weights(model: nn.Module) -> list[torch.Tensor]:
    return [p for p in model.parameters() if p.requires_grad and is_l1_weight(p)]


def l1_penalty(weights: list[torch.Tensor], l1: float) -> torch.Tensor:
    """``l1 * sum |w|`` over ``weights``: the term added to the training loss."""
    return l1 * sum(w.abs().sum() for w in weights)


def validation_scores(out: torch.Tensor, y: torch.Tensor, data: Data,
                      custom: dict[str, Callable] | None = None) -> dict[str, float]:
    """Validation loss, the task's metrics and the custom ones, each prefixed ``val_``.

    A non-finite loss gives NaN metrics (the row of a diverged epoch); a custom metric gets the
    model's outputs and the targets, as ``tw.train(..., metrics={name: fn(outputs, targets)})`` says.
    """
    return member_validation_scores(out.unsqueeze(0), y, data, [custom or {}])[0]


def member_validation_scores(out: torch.Tensor, y: torch.Tensor, data: Data,
                             customs: list[dict[str, Callable]]) -> list[dict[str, float]]:
    """``validation_scores`` of each member of a batched group's stacked outputs ``(members, n, ...)``,
    with each member's own custom metrics: the built-in ones for all members at once."""
    out = out.float()
    losses = member_losses(data.task, out, y.expand(len(out), *y.shape)).tolist()
    if data.task == "classification":
        metrics = member_classification_metrics(out, y, data.n_outputs)
    else:
        metrics = member_regression_metrics(out, y)
    scores = []
    for k, (loss, member_metrics, custom) in enumerate(zip(losses, metrics, customs)):
        finite = math.isfinite(loss)
        if data.task == "classification" and not finite:
            member_metrics = dict.fromkeys(member_metrics, NAN)
        for name, fn in custom.items():
            member_metrics[name] = as_number(name, fn(out[k], y), "returned", "a metric must return one number") if finite else NAN
        scores.append({"val_loss": loss, **{f"val_{name}": v for name, v in member_metrics.items()}})
    return scores


def epoch_row(epoch: int, train_loss: float, scores: dict[str, float], lr: float, seconds: float,
              samples: int) -> dict[str, Any]:
    """One history row: the order of its columns is the order of ``run.history``."""
    return {"epoch": epoch, "train_loss": train_loss, **scores, "lr": lr, "seconds": seconds,
            "samples_per_sec": samples / seconds if seconds > 0 else NAN}


# ---- early stopping --------------------------------------------------------------------------------
class EarlyStopping:
    """Stop after ``patience`` epochs without a lower validation loss; keep the best weights.

    ``snapshot()`` returns a copy of the weights; it is called only when the loss improves.
    """

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.best_loss = math.inf
        self.best_state: Any = None
        self.epochs_since_best = 0

    def should_stop(self, val_loss: float, snapshot: Callable[[], Any]) -> bool:
        if self.patience <= 0:
            return False
        if val_loss < self.best_loss:
            self.best_loss, self.best_state, self.epochs_since_best = val_loss, snapshot(), 0
            return False
        self.epochs_since_best += 1
        return self.epochs_since_best >= self.patience

    @property
    def due(self) -> bool:
        """Whether the last ``should_stop`` said stop."""
        return 0 < self.patience <= self.epochs_since_best

    def release(self) -> Any:
        """Hand over the best weights (None without improvement) and forget them."""
        state, self.best_state = self.best_state, None
        return state
