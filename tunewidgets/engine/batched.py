"""Training many configurations of one network at once, in one vectorized pass per batch.

On small models the per-step overhead, not the arithmetic, dominates; stacking members lets one
batched forward, backward and optimizer step serve them all. Each member is an ordinary ``Run``
(status, history, events, callbacks, model), so sweeps and plots treat members as trials.

What each member keeps from its sequential run (``tw.train`` with the same ``HParams``):

- the initial weights (``torch.manual_seed(seed)`` then ``build_model``), and its own shuffling order
  (its own generator seeded with ``seed``, as the sequential loop draws it);
- its optimizer, learning rate, momentum, weight decay, L1 and schedule (``batched_optim``); members
  with different optimizers share one group, each kind updating its own slice of the stacked rows;
- early stopping, pruning and stopping, checked per member at each epoch boundary; a member that
  diverges is dropped without touching the others.

What differs: dropout masks come from one generator for the whole group (seeded from the members'
seeds), so with dropout a member's run is statistically, not bitwise, the same as its sequential
run. Without dropout the results agree to float32 rounding (batched matrix products sum in another
order). Pausing any member pauses its group (members share each step); a stop takes effect at the
next epoch boundary. ``seconds`` in a row is the group's epoch time.
"""

from __future__ import annotations

import copy
import math
import threading
import time
import traceback
import zlib
from typing import Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..hparams import OPTIMIZERS, HParams, as_hparams
from .batched_model import MLPForward, StackedParams, VmapForward
from .batched_optim import BatchedOptimizer, Schedules
from .callbacks import Callback, overrides
from .data import Data
from .device import pin_training_thread, resolve_device
from .metrics import classification_metrics, regression_metrics
from .models import build_model
from .run import Run, check_against_data
from .trainer import BATCH_EVENT_SECONDS, EVAL_CHUNK, make_optimizer, make_schedule

STRUCTURE = ("model", "layers", "units", "activation", "batch_size", "epochs")  # and the device they resolve to


# ---- can these be batched? ----------------------------------------------------------------------
def can_batch(hparams_list: Iterable[HParams | dict], data: Data) -> tuple[bool, str]:
    """``(True, '')`` when the configurations can train as one group, else ``(False, why)``.

    The caller falls back to training one after another with ``why`` as the message.
    """
    try:
        hps = [as_hparams(hp) for hp in hparams_list]
    except ValueError as e:
        return False, str(e)
    if not hps:
        return False, "no configurations to train"
    if not isinstance(data, Data):
        return False, f"data is a {type(data).__name__}, not a tw.Data"
    if not data.in_memory:
        return False, "the data is batched through a DataLoader; batched training needs in-memory data"
    for name in STRUCTURE:
        values = {_key(getattr(hp, name)) for hp in hps}
        if len(values) > 1:
            return False, f"members differ in {name} ({', '.join(sorted(map(str, values)))}); they must agree"
    hp = hps[0]
    try:
        check_against_data(hp, data)
        devices = {resolve_device(spec) for spec in {h.device for h in hps}}
    except ValueError as e:
        return False, str(e)
    if len(devices) > 1:
        return False, f"members train on different devices ({', '.join(sorted(map(str, devices)))})"
    device = devices.pop()
    if device.type not in ("cpu", "cuda"):
        return False, f"batched training runs on the CPU or CUDA, not {device.type}"
    if hp.amp and device.type == "cuda":
        return False, "mixed precision (amp=True) is not batched"
    if hp.model == "mlp":
        return True, ""
    return _check_generic(hps, data)


def _key(value):
    return value if isinstance(value, str) else getattr(value, "__qualname__", repr(value)) + f"@{id(value)}"


def _check_generic(hps: list[HParams], data: Data) -> tuple[bool, str]:
    """A non-MLP model batches if all members build the same buffer-free architecture and vmap runs it."""
    with torch.random.fork_rng(devices=[]):
        try:
            models = [build_model(hp, data) for hp in hps]
        except Exception as e:  # noqa: BLE001 - a factory's error is the reason
            return False, f"building the model failed: {e!r}"
    name = hps[0].model_name
    buffers = [n for n, _ in models[0].named_buffers()]
    if buffers:
        norm = [type(m).__name__ for m in models[0].modules() if isinstance(m, nn.modules.batchnorm._NormBase)]
        what = f"batch norm ({norm[0]}) keeps running statistics" if norm else f"it has buffers ({buffers[0]})"
        return False, f"model {name!r} cannot be batched: {what}, which cannot be stacked across members"
    if not list(models[0].parameters()):
        return False, f"model {name!r} has no parameters"
    first = repr(models[0])
    for hp, m in zip(hps[1:], models[1:]):
        if repr(m) != first or [p.shape for p in m.parameters()] != [p.shape for p in models[0].parameters()]:
            return False, (f"model {name!r} builds different architectures for different members "
                           f"(e.g. seed {hp.seed}); they must be identical, dropout rates included")
    try:
        stacked = StackedParams(models[:2])
        x = data.x_train[:2].unsqueeze(0).expand(len(stacked.flat), *data.x_train[:2].shape)
        VmapForward(models[0], stacked.names)(stacked.leaves, x, training=True)
    except Exception as e:  # noqa: BLE001
        return False, f"model {name!r} cannot run under torch.func.vmap: {e!r}"
    return True, ""


# ---- the public entry point -----------------------------------------------------------------------
def train_batched(data: Data, hparams_list: Iterable[HParams | dict] | None = None,
                  callbacks_per_member: Iterable[Iterable[Callback]] | None = None,
                  runs: list[Run] | None = None, background: bool = False) -> list[Run]:
    """Train the configurations as one group; return one ``Run`` per configuration, in order.

    Pass ``runs`` (pending ``Run`` objects on ``data``) to train runs created elsewhere, e.g. by a
    sweep (``hparams_list`` is then ignored); otherwise runs are created from ``hparams_list`` and ``callbacks_per_member``. Raises
    ``ValueError`` with the reason when ``can_batch`` says no. With ``background=True`` a thread trains
    the group and this returns at once (``run.wait()`` works per member).

    Example::

        hps = [tw.HParams(lr=lr, seed=0) for lr in (1e-3, 3e-3, 1e-2)]
        runs = train_batched(data, hps)
        [r.best_metric for r in runs]
    """
    if runs is None:
        hps = [as_hparams(hp) for hp in (hparams_list or [])]
        cbs = list(callbacks_per_member) if callbacks_per_member is not None else [()] * len(hps)
        if len(cbs) != len(hps):
            raise ValueError(f"callbacks_per_member has {len(cbs)} entries for {len(hps)} configurations")
        runs = [Run(data, hp, callbacks=cb) for hp, cb in zip(hps, cbs)]
    else:
        runs = list(runs)
        for run in runs:
            if run.data is not data or run.status != "pending":
                raise ValueError(f"{run.name} must be a pending Run on the same data")
    ok, why = can_batch([r.hparams for r in runs], data)
    if not ok:
        raise ValueError(f"these configurations cannot be trained as one group: {why}")
    group = GroupLoop(data, runs)
    if background:
        thread = threading.Thread(target=group.train, name="tunewidgets batched group", daemon=True)
        for run in runs:
            run._thread = thread
        thread.start()
    else:
        group.train()
    return runs


# ---- one member's bookkeeping ----------------------------------------------------------------------
class Member:
    """A run inside a group: its early-stopping state and whether it has ended."""

    def __init__(self, run: Run) -> None:
        self.run, self.hp, self.control = run, run.hparams, run._control
        self.best_val_loss = math.inf
        self.best_state: list[torch.Tensor] | None = None
        self.epochs_since_best = 0
        self.batch_callbacks = [cb for cb in run.callbacks if overrides(cb, "on_batch_end")]

    def early_stop(self, val_loss: float, values) -> bool:
        """``TrainingLoop._early_stop`` for one member; ``values()`` snapshots its parameters."""
        if self.hp.early_stopping <= 0:
            return False
        if val_loss < self.best_val_loss:
            self.best_val_loss, self.best_state, self.epochs_since_best = val_loss, values(), 0
            return False
        self.epochs_since_best += 1
        return self.epochs_since_best >= self.hp.early_stopping


def _start(run: Run) -> None:
    """What ``Run.start`` does before training: device, seeded model, status, start callbacks."""
    run._prepare()
    run._set_status("running")
    run.started_at = time.time()
    for cb in run.callbacks:
        cb.on_train_start(run)


def _finish(run: Run, status: str) -> None:
    """End a member as ``Run._train`` ends a run, with its model in eval mode."""
    if run.model is not None:
        run.model.eval()
    run._finish(status)


def _fail(run: Run, error: BaseException) -> None:
    run.error, run.traceback = error, traceback.format_exc()
    _finish(run, "failed")


# ---- the group's training loop ---------------------------------------------------------------------
class GroupLoop:
    """Trains the members of one group; each ends with the status its sequential run would get."""

    def __init__(self, data: Data, runs: list[Run]) -> None:
        self.data, self.runs = data, runs
        hp = runs[0].hparams
        self.device = resolve_device(hp.device)
        self.batch_size, self.epochs = hp.batch_size, hp.epochs
        self.steps_per_epoch = math.ceil(data.n_train / hp.batch_size)
        self.is_mlp = hp.model == "mlp"

    def train(self) -> None:
        pin_training_thread(self.device)
        members = self._start_members()
        if not members:
            return
        try:
            self._setup(members)
            self._fit()
        except Exception as e:  # noqa: BLE001 - a failure of the group fails its remaining members
            for m in self.members:
                self._finalize(m, None, error=e)

    # ---- set-up ------------------------------------------------------------------------------
    def _start_members(self) -> list[Member]:
        """Prepare every run; a member whose optimizer or callbacks fail ends 'failed' on its own."""
        members = []
        # by optimizer kind (each kind updates a contiguous slice), then members with dropout together
        order = sorted(self.runs, key=lambda r: (OPTIMIZERS.index(r.hparams.optimizer), r.hparams.dropout > 0))
        for run in order:
            try:
                _start(run)
                probe = nn.Linear(1, 1)  # the sequential loop's optimizer/schedule errors, raised here
                make_schedule(run.hparams, make_optimizer(run.hparams, probe), self.steps_per_epoch)
                members.append(Member(run))
            except Exception as e:  # noqa: BLE001
                _fail(run, e)
        self.members = members
        return members

    def _setup(self, members: list[Member]) -> None:
        hps = [m.hp for m in members]
        seeds = [hp.seed for hp in hps]
        gen_device = self.device if self.device.type == "cuda" else torch.device("cpu")
        self.shufflers = [torch.Generator(device=gen_device).manual_seed(s) for s in seeds]
        group_seed = zlib.crc32(repr(seeds).encode())
        self.dropout_gen = torch.Generator(device=self.device).manual_seed(group_seed)
        self.params = StackedParams([m.run.model for m in members])
        if self.is_mlp:
            self.forward = MLPForward(hps[0].activation, [hp.dropout for hp in hps], self.device, self.dropout_gen)
        else:
            torch.manual_seed(group_seed)  # vmap's per-member dropout draws from the global generator
            self.forward = VmapForward(copy.deepcopy(members[0].run.model), self.params.names)
        self.schedules = Schedules(hps, self.steps_per_epoch)
        self.optimizer = BatchedOptimizer(hps, self.params.flat)
        self._set_penalties(hps)
        self.classification = self.data.task == "classification"

    def _set_penalties(self, hps: list[HParams]) -> None:
        l1 = torch.tensor([hp.l1 for hp in hps], dtype=self.params.flat.dtype, device=self.device)
        self.l1 = l1 if bool((l1 > 0).any()) else None
        if self.l1 is not None:
            self.l1_grad = l1.unsqueeze(1) * self.params.weight_mask  # d(l1 * sum|W|)/dW = l1 * sign(W)

    # ---- the loop ----------------------------------------------------------------------------
    def _fit(self) -> None:
        x, y, _, _ = self.data.on(self.device)
        for epoch in range(1, self.epochs + 1):
            started = time.perf_counter()
            lr, mom = self.schedules.epoch_table(self.steps_per_epoch)
            self.optimizer.set_epoch(lr, mom)
            totals, seen, paused = self._train_epoch(epoch, x, y)
            self.schedules.end_epoch()
            ended = self._epoch_end(epoch, totals, seen, time.perf_counter() - started - paused)
            if ended:
                self._compact(ended)
            if not self.members:
                return
        for m in list(self.members):
            self._finalize(m, "completed")
        self.members = []

    def _train_epoch(self, epoch: int, x: torch.Tensor, y: torch.Tensor):
        """One pass over the data for all members; returns (loss sums per member, samples, paused s)."""
        p = self.params
        n = len(x)
        orders = torch.stack([torch.randperm(n, generator=g, device=g.device) for g in self.shufflers])
        orders = orders.to(x.device)
        totals = torch.zeros(len(self.members), device=self.device, dtype=p.flat.dtype)
        seen, paused = 0, 0.0
        last_emit = time.perf_counter()
        controls = [m.control for m in self.members]
        batch_cbs = any(m.batch_callbacks for m in self.members)
        for i in range(0, n, self.batch_size):
            if all(c.stop_requested for c in controls):
                break
            if any(c.pause_requested for c in controls):
                paused += self._wait_while_paused(controls)
            idx = orders[:, i:i + self.batch_size]
            loss = self._step(x[idx], y[idx])
            b = idx.shape[1]
            seen += b
            totals += loss * b
            if batch_cbs:
                self._batch_callbacks(loss)
            now = time.perf_counter()
            if now - last_emit >= BATCH_EVENT_SECONDS:
                self._publish(epoch, totals, seen, seen / max(now - last_emit, 1e-9))
                last_emit = now
        return totals, seen, paused

    def _step(self, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        """Forward, backward and update for all members; returns each member's loss (with L1)."""
        p = self.params
        out = self.forward(p.leaves, xb, training=True)
        m, b = out.shape[0], out.shape[1]
        if self.classification:
            loss = F.cross_entropy(out.reshape(m * b, -1), yb.reshape(m * b), reduction="none").view(m, b).mean(1)
        else:
            loss = F.mse_loss(out, yb, reduction="none").reshape(m, -1).mean(1)
        p.grad.zero_()
        loss.sum().backward()
        loss = loss.detach()
        if self.l1 is not None:
            with torch.no_grad():
                loss = loss + self.l1 * (p.flat.abs() @ p.weight_mask)
                p.grad.addcmul_(torch.sign(p.flat), self.l1_grad)
        self.optimizer.step(p.flat, p.grad)
        return loss

    def _wait_while_paused(self, controls) -> float:
        paused = 0.0
        for c in controls:
            if c.pause_requested and not c.stop_requested:
                paused += c.wait_while_paused()
        return paused

    def _batch_callbacks(self, loss: torch.Tensor) -> None:
        values = loss.tolist()
        step = self.optimizer.steps
        for m, value in zip(self.members, values):
            for cb in m.batch_callbacks:
                cb.on_batch_end(m.run, step, value)

    def _publish(self, epoch: int, totals: torch.Tensor, seen: int, rate: float) -> None:
        for m, total in zip(self.members, totals.tolist()):
            running = total / seen
            if math.isfinite(running):
                m.run._publish_batch(epoch, self.optimizer.steps, running, rate)

    # ---- epoch boundary ----------------------------------------------------------------------
    def _epoch_end(self, epoch: int, totals: torch.Tensor, seen: int, seconds: float) -> list[int]:
        """Evaluate, record rows and decide who ends; return the positions of members that ended."""
        ended = []
        means = (totals / max(seen, 1)).tolist()
        val = self.evaluate()
        lrs = self.schedules.lr.tolist()
        for i, m in enumerate(self.members):
            if seen and not math.isfinite(means[i]):
                ended.append(self._finalize(m, "diverged", i))
                continue
            if m.control.stop_requested:  # stopped during the epoch: no row, as in the sequential loop
                ended.append(self._finalize(m, m.control.stop_status, i))
                continue
            row = {"epoch": epoch, "train_loss": means[i], **val[i], "lr": lrs[i], "seconds": seconds,
                   "samples_per_sec": seen / seconds if seconds > 0 else float("nan")}
            try:
                m.run._record_epoch(row)
            except Exception as e:  # noqa: BLE001 - a raising callback fails this member only
                ended.append(self._finalize(m, None, i, error=e))
                continue
            if not math.isfinite(row["val_loss"]):
                ended.append(self._finalize(m, "diverged", i))
            elif m.control.stop_requested:  # e.g. a pruner called run.stop() in on_epoch_end
                ended.append(self._finalize(m, m.control.stop_status, i))
            elif m.early_stop(row["val_loss"], lambda i=i: self.params.member(i)):
                ended.append(self._finalize(m, "early_stopped", i))
        return ended

    @torch.no_grad()
    def evaluate(self) -> list[dict[str, float]]:
        """Each member's validation loss and metrics, computed as ``TrainingLoop.evaluate`` does."""
        _, _, xv, yv = self.data.on(self.device)
        n_members = len(self.members)
        chunks = [self.forward(self.params.leaves, xv[i:i + EVAL_CHUNK].unsqueeze(0).expand(
            n_members, *xv[i:i + EVAL_CHUNK].shape), training=False).float() for i in range(0, len(xv), EVAL_CHUNK)]
        out = torch.cat(chunks, dim=1)
        loss_fn = F.cross_entropy if self.classification else F.mse_loss
        results = []
        for k in range(n_members):
            loss = loss_fn(out[k], yv).item()
            if self.classification:
                metrics = classification_metrics(out[k], yv, self.data.n_outputs) if math.isfinite(loss) else \
                    {"accuracy": float("nan"), "f1": float("nan"), "recall": float("nan")}
            else:
                metrics = regression_metrics(out[k], yv)
            results.append({"val_loss": loss, **{f"val_{k2}": v for k2, v in metrics.items()}})
        return results

    def _finalize(self, m: Member, status: str | None, position: int | None = None,
                  error: BaseException | None = None) -> int | None:
        """End one member: its weights (best epoch's with early stopping) go into ``run.model``."""
        if m.run.done:
            return position
        try:
            if position is None:
                position = self.members.index(m)
            values = m.best_state if m.best_state is not None else self.params.member(position)
            self.params.load_into(values, m.run.model)
        except Exception as e:  # noqa: BLE001
            error = error or e
        m.best_state = None
        if error is not None:
            m.run.error, m.run.traceback = error, "".join(traceback.format_exception(error))
            status = "failed"
        _finish(m.run, status)
        return position

    def _compact(self, ended: list[int]) -> None:
        """Drop ended members from every stacked tensor; the rest continue unchanged."""
        gone = set(ended)
        keep = [i for i in range(len(self.members)) if i not in gone]
        self.members = [self.members[i] for i in keep]
        if not keep:
            return
        index = torch.tensor(keep, device=self.device)
        self.params.keep(index)
        self.forward.keep(index)
        self.schedules.keep(np.array(keep))
        self.optimizer.keep(index, self.params.flat)
        self.shufflers = [self.shufflers[i] for i in keep]
        self._set_penalties([m.hp for m in self.members])
