"""The single-model training loop: epochs of batches, mixed precision, the NaN guard.

It knows nothing about threads or widgets: it trains ``run.model`` and speaks to the run through
its public training contract (``run.control``, ``run.record_epoch``, ``run.report_batch``). What
it shares with the batched loop and the range test (optimizers, L1, validation scores, early
stopping) is in ``recipe.py``. The hot path stays close to a hand-written loop
(``benchmarks/bench_engine.py``).
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import TYPE_CHECKING

import torch

from ..control.callbacks import overrides
from ..control.events import BATCH_EVENT_SECONDS
from ..control.state import cpu_copy, state_snapshot
from .recipe import (Diverged, EarlyStopping, epoch_row, l1_penalty, l1_weights, loss_function, make_generator,
                     make_optimizer, make_schedule, steps_per_epoch, train_batches, split_batches,
                     validation_scores)
from ..control.knobs import apply_changes
from ...statuses import Status

if TYPE_CHECKING:  # pragma: no cover
    from ..control.run_like import RunLike


class TrainingLoop:
    """One run's training: build it with a begun run, then ``fit()`` returns the final status."""

    def __init__(self, run: "RunLike") -> None:
        self.run, self.hp, self.data = run, run.hparams, run.data
        self.device: torch.device = run.device
        self.model = run.model
        self.control = run.control
        self.optimizer = make_optimizer(self.hp, self.model)
        if run.optimizer_state is not None:  # a fork continues its parent's optimizer, with its own settings
            settings = [{k: v for k, v in g.items() if k != "params"} for g in self.optimizer.param_groups]
            self.optimizer.load_state_dict(run.optimizer_state)
            for group, own in zip(self.optimizer.param_groups, settings):
                group.update(own)
        self.steps_per_epoch = steps_per_epoch(self.data, self.hp.batch_size)
        self.scheduler, self.schedule_per_batch = make_schedule(self.hp, self.optimizer, self.steps_per_epoch)
        self.loss_fn = loss_function(self.data.task)
        self.l1_weights = l1_weights(self.model)
        self.changed: list[str] = []  # live knobs moved so far: their values go into each history row
        self.batch_callbacks = [cb for cb in run.callbacks if overrides(cb, "on_batch_end")]
        self.sync_each_batch = self.device.type == "cpu" or bool(self.batch_callbacks)
        self.autocast, self.scaler = self._mixed_precision()
        self.first_epoch = run.first_epoch  # a fork's epochs continue its parent's numbering
        self.generator = make_generator(self.device, self.hp.seed + self.first_epoch)
        self.early_stopping = EarlyStopping(self.hp.early_stopping)
        self.step = 0

    def _mixed_precision(self):
        if not (self.hp.amp and self.device.type == "cuda"):
            return contextlib.nullcontext, None
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        scaler = torch.amp.GradScaler("cuda") if dtype is torch.float16 else None
        return (lambda: torch.autocast("cuda", dtype=dtype)), scaler

    # ---- the loop ----------------------------------------------------------------------------
    def fit(self) -> str:
        """Train all epochs; return 'completed', 'early_stopped', 'diverged' or the stop status."""
        for epoch in range(self.first_epoch + 1, self.first_epoch + self.hp.epochs + 1):
            started = time.perf_counter()
            try:
                train_loss, samples, paused = self._train_epoch(epoch)
            except Diverged:
                return Status.DIVERGED
            if self.control.stop_requested:
                return self.control.stop_status
            if self.scheduler is not None and not self.schedule_per_batch:
                self.scheduler.step()
            scores = self.evaluate()
            row = epoch_row(epoch, train_loss, scores, self.optimizer.param_groups[0]["lr"],
                            time.perf_counter() - started - paused, samples)
            row.update({name: getattr(self.hp, name) for name in self.changed if name != "lr"})
            # judged before the hooks run: a population member that takes another's weights in
            # on_epoch_end takes its early stopping too, which has counted this epoch already
            self.early_stopping.should_stop(scores["val_loss"], state_snapshot(self.model))
            self.run.record_epoch(row)
            if not math.isfinite(scores["val_loss"]):
                return Status.DIVERGED
            if self.control.stop_requested:  # e.g. a pruner called run.stop() in on_epoch_end
                return self.control.stop_status
            if self.early_stopping.due:
                return Status.EARLY_STOPPED
        return Status.COMPLETED

    def _train_epoch(self, epoch: int) -> tuple[float, int, float]:
        """One pass; returns (mean train loss, samples seen, seconds spent paused)."""
        model, opt, hp, control = self.model, self.optimizer, self.hp, self.control
        model.train()
        total = torch.zeros((), device=self.device) if not self.sync_each_batch else 0.0
        seen = 0
        paused = 0.0
        last_emit = time.perf_counter()
        for x, y in train_batches(self.data, hp.batch_size, self.device, self.generator):
            if control.stop_requested:
                break
            if control.pause_requested:
                paused += control.wait_while_paused()
                if control.stop_requested:
                    break
            if control.updates_pending:
                hp = self._apply_updates(epoch - 1 + seen / max(self.data.n_train, 1))
            with self.autocast():
                loss = self.loss_fn(model(x), y)
                if hp.l1 > 0:
                    loss = loss + l1_penalty(self.l1_weights, hp.l1)
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
                self.run.report_batch(epoch, self.step, running, seen / max(now - last_emit, 1e-9),
                                      epoch - 1 + seen / max(self.data.n_train, 1))
                last_emit = now
        mean = float(total) / max(seen, 1)
        if seen and not math.isfinite(mean):
            raise Diverged
        return mean, seen, paused

    def _apply_updates(self, at_epoch: float):
        """Live changes queued by ``run.update``: applied between two batches; returns the new HParams."""
        changes = self.control.take_updates()
        apply_changes(changes, self.hp, self.optimizer, self.scheduler, self.model)
        self.hp = self.hp.replace(**changes)
        self.changed += [name for name in changes if name not in self.changed]
        self.run.knob_moved(changes, at_epoch, self.step)
        return self.hp

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Validation loss and metrics (built-in and the run's own), prefixed ``val_``."""
        self.model.eval()
        outputs, targets = [], []
        with self.autocast():
            for x, y in split_batches(self.data, self.device):
                outputs.append(self.model(x).float())
                targets.append(y)
        return validation_scores(torch.cat(outputs), torch.cat(targets), self.data, self.run.extra_metrics)

    def restore_best(self) -> None:
        """With early stopping on, put the best epoch's weights back into the model."""
        best = self.early_stopping.release()
        if best is not None:
            self.model.load_state_dict(best)

    def release(self) -> None:
        """Keep the optimizer's state on the CPU (a fork continues from it); free what it held on the device."""
        if self.optimizer is not None and self.run.keeps_optimizer_state:
            self.run.optimizer_state = cpu_copy(self.optimizer.state_dict())
        self.optimizer = None  # type: ignore[assignment]
        self.early_stopping.release()
