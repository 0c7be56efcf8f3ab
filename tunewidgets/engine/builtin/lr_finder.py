"""Learning-rate range test: train briefly while the rate grows exponentially, and suggest one.

A short run from ``start_lr`` to ``end_lr`` shows where the loss starts to fall and where it blows
up; a good rate lies on the steep part of the fall. It reuses the engine's shared core (``recipe.py``: seeded
model, optimizer, batching, L1) so that the test sees the same model the real run will train.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import torch

from ...hparams import HParams, as_hparams
from ...guards import require_count
from ...space import LogUniform
from .checks import check_against_data
from .recipe import l1_penalty, l1_weights, loss_function, make_generator, make_optimizer, seeded_model, train_batches
from .data import Data
from .device import resolve_device

SMOOTHING = 0.9  # weight of the running average (bias-corrected, as in fastai's finder)
EXPLODE_FACTOR = 4.0  # stop once the smoothed loss exceeds this multiple of its minimum
# A blow-up is a rise to at least this multiple of the lowest smoothed loss (and back above the start):
# on a loss that stays flat, batch noise moves the average by about 1% (digits, 2.32 +- 0.02), never 50%.
BLOW_UP_RISE = 1.5


@dataclass
class LRFinderResult:
    """The losses seen at each learning rate, and the suggested rate.

    ``suggestion`` is the rate where the smoothed loss falls fastest (steepest negative slope
    against log lr, before the minimum); ``lr_min / 10`` is the other common rule of thumb and is
    given as ``lr_min_over_10``.
    """

    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)
    suggestion: float = float("nan")
    lr_min: float = float("nan")
    stopped_early: bool = False

    @property
    def lr_min_over_10(self) -> float:
        return self.lr_min / 10

    @property
    def blow_up(self) -> float:
        """The first rate past the minimum where the smoothed loss is back above where it started and
        half as large again as its lowest (the last rate tried if it never was): where training stops
        working. A flat loss that noise lifts a little above its start has not blown up."""
        if not self.lrs:
            return float("nan")
        lowest = int(np.nanargmin(self.smoothed))
        threshold = max(self.smoothed[0], BLOW_UP_RISE * self.smoothed[lowest])
        return next((lr for lr, loss in zip(self.lrs[lowest:], self.smoothed[lowest:]) if loss >= threshold),
                    self.lrs[-1])

    def space(self, decades: float = 1.5) -> LogUniform:
        """A learning-rate range for a sweep: from ``decades`` below the blow-up up to it (the useful
        region the plot shows), widened if needed to hold the suggestion.

        Example::

            space = tw.Space(lr=tw.lr_find(data, hp).space(), dropout=tw.Uniform(0, 0.3))
        """
        if not (math.isfinite(self.suggestion) and math.isfinite(self.blow_up)):
            raise ValueError("the range test found no usable rates (the loss was NaN from the start): there is no "
                             "range to suggest; try a lower start_lr")
        if not (isinstance(decades, (int, float)) and 0 < decades <= 6):
            raise ValueError(f"decades={decades!r} is not allowed: must be a number > 0 and <= 6")
        high = max(self.blow_up, self.suggestion * 2)
        low = min(high / 10 ** decades, self.suggestion / 2)
        return LogUniform(float(low), float(high))

    def to_frame(self):
        """A DataFrame with columns lr, loss, smoothed_loss."""
        import pandas as pd

        return pd.DataFrame({"lr": self.lrs, "loss": self.losses, "smoothed_loss": self.smoothed})

    def __repr__(self) -> str:
        return (f"<LRFinderResult {len(self.lrs)} steps, suggestion={self.suggestion:.3g}, "
                f"lr_min={self.lr_min:.3g}{', stopped early' if self.stopped_early else ''}>")


def _check_range(start_lr: float, end_lr: float, steps: int) -> None:
    for name, value in (("start_lr", start_lr), ("end_lr", end_lr)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value <= 100):
            raise ValueError(f"{name}={value!r} is not allowed: must be a number > 0 and <= 100")
    if end_lr <= start_lr:
        raise ValueError(f"end_lr={end_lr!r} is not allowed: must be > start_lr={start_lr!r}")
    require_count("steps", steps, low=5, high=100_000)


def _endless_batches(data: Data, hp: HParams, device: torch.device, generator: torch.Generator
                     ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    while True:
        yield from train_batches(data, hp.batch_size, device, generator)


def suggest_lr(lrs: list[float], smoothed: list[float]) -> float:
    """The rate of the steepest descent of ``smoothed`` against log10(lr), up to its minimum."""
    if not lrs:
        return float("nan")
    loss = np.asarray(smoothed, dtype=float)
    stop = int(np.nanargmin(loss)) + 1
    skip = min(3, max(stop - 3, 0))  # the first few points carry the average's start-up noise
    if stop - skip < 3:
        return lrs[stop - 1] / 10
    slope = np.gradient(loss[skip:stop], np.log10(np.asarray(lrs[skip:stop])))
    return float(lrs[skip + int(np.argmin(slope[:-1]))])  # the minimum itself is not a descent


def lr_find(data: Data, hparams: HParams | dict | None = None, start_lr: float = 1e-6, end_lr: float = 1.0,
            steps: int = 100) -> LRFinderResult:
    """Run the learning-rate range test on a fresh model built from ``hparams`` (its ``lr`` is ignored).

    Example::

        result = tw.lr_find(data, tw.HParams(optimizer="adam"))
        result.suggestion, result.to_frame().tail()

    Stops early once the smoothed loss exceeds 4x its minimum or becomes NaN.
    """
    _check_range(start_lr, end_lr, steps)
    hp = as_hparams(hparams)
    check_against_data(hp, data)
    device = resolve_device(hp.device)
    model = seeded_model(hp, data, device)
    model.train()
    optimizer = make_optimizer(hp.replace(lr=start_lr), model)
    loss_fn = loss_function(data.task)
    weights = l1_weights(model) if hp.l1 > 0 else []
    generator = make_generator(device, hp.seed)
    factor = (end_lr / start_lr) ** (1 / (steps - 1))
    result = LRFinderResult()
    average, best = 0.0, math.inf
    batches = _endless_batches(data, hp, device, generator)
    for i in range(steps):
        lr = start_lr * factor ** i
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = next(batches)
        loss = loss_fn(model(x), y)
        if weights:
            loss = loss + l1_penalty(weights, hp.l1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        value = loss.item()
        if not math.isfinite(value):
            result.stopped_early = True
            break
        average = SMOOTHING * average + (1 - SMOOTHING) * value
        smooth = average / (1 - SMOOTHING ** (i + 1))
        result.lrs.append(lr)
        result.losses.append(value)
        result.smoothed.append(smooth)
        best = min(best, smooth)
        if smooth > EXPLODE_FACTOR * best:
            result.stopped_early = True
            break
    if result.lrs:
        result.lr_min = result.lrs[int(np.argmin(result.smoothed))]
        result.suggestion = suggest_lr(result.lrs, result.smoothed)
    if device.type == "cuda":
        del model, optimizer
        torch.cuda.empty_cache()
    return result
