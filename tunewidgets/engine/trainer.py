"""The training loop: optimizers, schedules, L1/L2, validation metrics, early stopping, NaN guard.

It knows nothing about threads or widgets: it trains ``run.model`` and reports through the run's
small control surface (``run._control``) and ``run._record_epoch`` / ``run._publish_batch``.
The hot path stays close to a hand-written loop (see ``benchmarks/bench_engine.py``).
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from typing import TYPE_CHECKING, Iterator

import torch
from torch import nn

from ..hparams import HParams
from .callbacks import overrides
from .data import Data, iterate_batches
from .metrics import classification_metrics, regression_metrics

if TYPE_CHECKING:  # pragma: no cover
    from .run import Run

BATCH_EVENT_SECONDS = 0.2  # how often a running train loss is published within an epoch
EVAL_CHUNK = 4096


class Diverged(Exception):
    """The loss became NaN or infinite."""


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


def l1_penalty_params(model: nn.Module) -> list[torch.Tensor]:
    """Weights (not biases or norm scales) that the L1 penalty applies to."""
    return [p for p in model.parameters() if p.requires_grad and p.ndim > 1]


def loss_function(data: Data) -> nn.Module:
    return nn.CrossEntropyLoss() if data.task == "classification" else nn.MSELoss()


class TrainingLoop:
    """One run's training: build once with a prepared run, then ``fit()`` returns the final status."""

    def __init__(self, run: "Run") -> None:
        self.run = run
        self.hp: HParams = run.hparams
        self.data: Data = run.data
        self.device: torch.device = run.device
        self.model: nn.Module = run.model
        self.control = run._control
        self.optimizer = make_optimizer(self.hp, self.model)
        self.steps_per_epoch = math.ceil(self.data.n_train / self.hp.batch_size)
        self.scheduler, self.schedule_per_batch = make_schedule(self.hp, self.optimizer, self.steps_per_epoch)
        self.loss_fn = loss_function(self.data)
        self.l1_params = l1_penalty_params(self.model) if self.hp.l1 > 0 else []
        self.batch_callbacks = [cb for cb in run.callbacks if overrides(cb, "on_batch_end")]
        self.sync_each_batch = self.device.type == "cpu" or bool(self.batch_callbacks)
        self.autocast, self.scaler = self._mixed_precision()
        gen_device = self.device if self.device.type == "cuda" else torch.device("cpu")
        self.generator = torch.Generator(device=gen_device)
        self.generator.manual_seed(self.hp.seed)
        self.step = 0
        self.best_val_loss = math.inf
        self.best_state: dict | None = None
        self.epochs_since_best = 0

    # ---- set-up ------------------------------------------------------------------------------
    def _mixed_precision(self):
        if not (self.hp.amp and self.device.type == "cuda"):
            return contextlib.nullcontext, None
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        scaler = torch.amp.GradScaler("cuda") if dtype is torch.float16 else None
        return (lambda: torch.autocast("cuda", dtype=dtype)), scaler

    def _train_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self.data.in_memory:
            x, y, _, _ = self.data.on(self.device)
            return iterate_batches(x, y, self.hp.batch_size, self.generator)
        loader_gen = torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,), generator=self.generator)))
        loader = self.data.loader("train", self.hp.batch_size, shuffle=True, generator=loader_gen)
        return ((x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)) for x, y in loader)

    def _val_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self.data.in_memory:
            _, _, x, y = self.data.on(self.device)
            return iterate_batches(x, y, EVAL_CHUNK, None)
        loader = self.data.loader("val", EVAL_CHUNK, shuffle=False)
        return ((x.to(self.device), y.to(self.device)) for x, y in loader)

    # ---- the loop ----------------------------------------------------------------------------
    def fit(self) -> str:
        """Train all epochs; return 'completed', 'stopped', 'early_stopped', 'diverged' or the stop status."""
        for epoch in range(1, self.hp.epochs + 1):
            started = time.perf_counter()
            try:
                train_loss, samples, paused = self._train_epoch(epoch)
            except Diverged:
                return "diverged"
            if self.control.stop_requested:
                return self.control.stop_status
            if self.scheduler is not None and not self.schedule_per_batch:
                self.scheduler.step()
            val = self.evaluate()
            seconds = time.perf_counter() - started - paused
            row = {"epoch": epoch, "train_loss": train_loss, **val,
                   "lr": self.optimizer.param_groups[0]["lr"], "seconds": seconds,
                   "samples_per_sec": samples / seconds if seconds > 0 else float("nan")}
            self.run._record_epoch(row)
            if not math.isfinite(val["val_loss"]):
                return "diverged"
            if self.control.stop_requested:  # e.g. a pruner called run.stop() in on_epoch_end
                return self.control.stop_status
            if self._early_stop(val["val_loss"]):
                return "early_stopped"
        return "completed"

    def _train_epoch(self, epoch: int) -> tuple[float, int, float]:
        """One pass; returns (mean train loss, samples seen, seconds spent paused)."""
        model, opt, hp, control = self.model, self.optimizer, self.hp, self.control
        model.train()
        total = torch.zeros((), device=self.device) if not self.sync_each_batch else 0.0
        seen = 0
        paused = 0.0
        last_emit = time.perf_counter()
        for x, y in self._train_batches():
            if control.stop_requested:
                break
            if control.pause_requested:
                paused += control.wait_while_paused()
                if control.stop_requested:
                    break
            with self.autocast():
                loss = self.loss_fn(model(x), y)
                if self.l1_params:
                    loss = loss + hp.l1 * sum(p.abs().sum() for p in self.l1_params)
            opt.zero_grad(set_to_none=True)
            if self.scaler is not None:
                self.scaler.scale(loss).backward()
                self.scaler.step(opt)
                self.scaler.update()
            else:
                loss.backward()
                opt.step()
            if self.schedule_per_batch:
                self.scheduler.step()
            self.step += 1
            n = len(y)
            seen += n
            if self.sync_each_batch:
                value = loss.item()
                if not math.isfinite(value):
                    raise Diverged
                total += value * n
                for cb in self.batch_callbacks:
                    cb.on_batch_end(self.run, self.step, value)
            else:
                total += loss.detach() * n
            now = time.perf_counter()
            if now - last_emit >= BATCH_EVENT_SECONDS:
                running = float(total) / seen
                if not math.isfinite(running):
                    raise Diverged
                self.run._publish_batch(epoch, self.step, running, seen / max(now - last_emit, 1e-9))
                last_emit = now
        mean = float(total) / max(seen, 1)
        if seen and not math.isfinite(mean):
            raise Diverged
        return mean, seen, paused

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Validation loss and the task's metrics, prefixed ``val_``."""
        model = self.model
        model.eval()
        outputs, targets = [], []
        with self.autocast():
            for x, y in self._val_batches():
                outputs.append(model(x).float())
                targets.append(y)
        out, y = torch.cat(outputs), torch.cat(targets)
        loss = self.loss_fn(out, y).item()
        if self.data.task == "classification":
            metrics = classification_metrics(out, y, self.data.n_outputs) if math.isfinite(loss) else \
                {"accuracy": float("nan"), "f1": float("nan"), "recall": float("nan")}
        else:
            metrics = regression_metrics(out, y)
        for name, fn in self.run.extra_metrics.items():
            metrics[name] = float(fn(out, y))
        return {"val_loss": loss, **{f"val_{k}": v for k, v in metrics.items()}}

    def _early_stop(self, val_loss: float) -> bool:
        if self.hp.early_stopping <= 0:
            return False
        if val_loss < self.best_val_loss:
            self.best_val_loss = val_loss
            self.best_state = copy.deepcopy(self.model.state_dict())
            self.epochs_since_best = 0
            return False
        self.epochs_since_best += 1
        return self.epochs_since_best >= self.hp.early_stopping

    def restore_best(self) -> None:
        """With early stopping on, put the best epoch's weights back into the model."""
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)

    def release(self) -> None:
        """Free device memory held by the optimizer and the best-weights copy."""
        self.optimizer = None  # type: ignore[assignment]
        self.best_state = None
