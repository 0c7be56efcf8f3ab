"""Live knobs: hyperparameters that may change while a run trains, and how each change is applied.

The learning rate, momentum, weight decay, L1 and dropout act on the optimizer, the loss or the
model's dropout layers, so they can change between two batches; everything else (the model's
shape, the batches, the number of epochs, the schedule's kind) is fixed once a run started. A
change is validated like any ``HParams`` field, then applied by the training loop at its next batch.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from ...hparams import FIELDS, HParams

LIVE_FIELDS = ("lr", "momentum", "weight_decay", "l1", "dropout")
DROPOUT_LAYERS = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)


def check_knob_names(changes: dict[str, Any]) -> None:
    """A ``ValueError`` for a name that is no hyperparameter at all (a typo such as ``learning_rate``),
    said before anything about what may change live."""
    unknown = [name for name in changes if name not in FIELDS]
    if unknown:
        raise ValueError(f"{', '.join(map(repr, unknown))} is not a hyperparameter: the live knobs are "
                         f"{', '.join(LIVE_FIELDS)}")


def check_live_changes(hp: HParams, changes: dict[str, Any], model: nn.Module | None) -> HParams:
    """The run's hyperparameters with ``changes``, or a ``ValueError`` saying why one cannot apply live."""
    check_knob_names(changes)
    fixed = [name for name in changes if name not in LIVE_FIELDS]
    if fixed:
        raise ValueError(f"{', '.join(fixed)} cannot change while a run trains (it fixes the model, its batches or "
                         f"its schedule): only {', '.join(LIVE_FIELDS)} can; fork the run to change the rest")
    new = hp.replace(**changes)
    if "momentum" in changes and hp.optimizer not in ("momentum", "rmsprop"):
        raise ValueError(f"momentum={changes['momentum']!r} has no effect with optimizer={hp.optimizer!r}: it applies "
                         f"to 'momentum' and 'rmsprop'")
    if hp.schedule == "onecycle" and "momentum" in changes:
        raise ValueError("momentum cannot change live with schedule='onecycle': the schedule sets it every batch")
    if "dropout" in changes and model is not None and not any(isinstance(m, DROPOUT_LAYERS) for m in model.modules()):
        raise ValueError(f"dropout={changes['dropout']!r} cannot be set live: this model was built without dropout "
                         f"layers (dropout=0 builds none); fork the run with dropout={changes['dropout']!r}")
    return new


def apply_changes(changes: dict[str, Any], old: HParams, optimizer: Any, scheduler: Any, model: nn.Module) -> None:
    """Apply validated live changes between two batches (the built-in loop's optimizer, schedule, model)."""
    apply_to_optimizer(changes, old.lr, optimizer, scheduler)
    if "dropout" in changes:
        apply_dropout(changes["dropout"], model)


def apply_to_optimizer(changes: dict[str, Any], old_lr: float | None, optimizer: Any, scheduler: Any) -> None:
    """A new ``lr`` scales the schedule (``lr`` is its base, or its peak for one-cycle), so a decayed
    rate stays decayed in proportion; ``momentum`` and ``weight_decay`` are set where the optimizer
    has them."""
    if "lr" in changes and old_lr:
        factor = changes["lr"] / old_lr
        for group in optimizer.param_groups:
            group["lr"] *= factor
            for key in ("initial_lr", "max_lr", "min_lr"):  # the schedulers' own copies
                if key in group:
                    group[key] *= factor
        if scheduler is not None and hasattr(scheduler, "base_lrs"):
            scheduler.base_lrs = [lr * factor for lr in scheduler.base_lrs]
    for name in ("momentum", "weight_decay"):
        if name in changes:
            for group in optimizer.param_groups:
                if name in group:
                    group[name] = changes[name]


def apply_dropout(p: float, model: nn.Module) -> None:
    """Every dropout layer of ``model`` drops with probability ``p`` from now on."""
    for module in model.modules():
        if isinstance(module, DROPOUT_LAYERS):
            module.p = p
