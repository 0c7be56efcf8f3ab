"""Training many configurations of one network at once, in one vectorized pass per batch.

On small models the per-step overhead, not the arithmetic, dominates; stacking members lets one
batched forward, backward and optimizer step serve them all. Each member is an ordinary ``Run``
(status, history, events, callbacks, model), so sweeps and plots treat members as trials.

What each member keeps from its sequential run (``tw.train`` with the same ``HParams``):

- the initial weights (``torch.manual_seed(seed)`` then ``build_model``), and its own shuffling order
  (its own generator seeded with ``seed``, as the sequential loop draws it);
- its optimizer, learning rate, momentum, weight decay, L1 and schedule (``optim.py``); members
  with different optimizers share one group, each kind updating its own slice of the stacked rows;
- early stopping, pruning and stopping, checked per member at each epoch boundary; a member that
  diverges is dropped without touching the others.

What differs: dropout masks come from one generator for the whole group (seeded from the members'
seeds; members with one seed share each step's draw, see ``MLPForward``), so with dropout a member's
run is statistically, not bitwise, the same as its sequential run. Without dropout the results agree
to float32 rounding (batched matrix products sum in another order). Pausing any member pauses its
group (members share each step); a stop takes effect at the next epoch boundary. ``seconds`` in a
row is the group's epoch time.
"""

from __future__ import annotations

import copy
import math
import time
import zlib
from typing import Iterable

import numpy as np
import torch
from torch import nn

from ...hparams import OPTIMIZERS, HParams, as_hparams
from ..control.callbacks import Callback, overrides
from ..control.events import BATCH_EVENT_SECONDS
from ..builtin.recipe import (EVAL_CHUNK, EarlyStopping, epoch_row, make_generator, make_optimizer, make_schedule,
                              member_losses, member_validation_scores, steps_per_epoch)
from ..builtin.data import Data
from ..builtin.device import resolve_device
from ..run import Run
from ..control.threads import train_in_background
from ..control.knobs import check_live_changes
from ..population.decide import PBT, Jump
from ..population.exploit import exploit
from .check import can_batch
from .optim import BatchedOptimizer, Schedules, base_momentum
from .stacked import MLPForward, StackedParams, VmapForward
from ...statuses import Status


def train_batched(data: Data, hparams_list: Iterable[HParams | dict] | None = None,
                  callbacks_per_member: Iterable[Iterable[Callback]] | None = None,
                  runs: list[Run] | None = None, background: bool = False,
                  population: PBT | None = None) -> list[Run]:
    """Train the configurations as one group; return one ``Run`` per configuration, in order.

    Pass ``runs`` (pending ``Run`` objects on ``data``) to train runs created elsewhere, e.g. by a
    sweep (``hparams_list`` is then ignored); otherwise runs are created from ``hparams_list`` and
    ``callbacks_per_member``. Raises ``ValueError`` with the reason when ``can_batch`` says no. With
    ``background=True`` a thread trains the group and this returns at once (``run.wait()`` works
    per member). With ``population`` (a ``tw.engine.pbt.PBT``) the group trains as a population: every
    ``interval`` epochs its worst members take the best ones' weights and move their values.

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
            if run.data is not data or run.status != Status.PENDING:
                raise ValueError(f"{run.name} must be a pending Run on the same data")
    ok, why = can_batch([r.hparams for r in runs], data)
    if not ok:
        raise ValueError(f"these configurations cannot be trained as one group: {why}")
    if population is not None:
        check_population(population, [r.hparams for r in runs])
    group = GroupLoop(data, runs, population)
    if background:
        train_in_background(group.train)
    else:
        group.train()
    return runs


class Member:
    """A run inside a group: its early stopping and its batch hooks."""

    def __init__(self, run: Run) -> None:
        self.run, self.hp, self.control = run, run.hparams, run.control
        self.early_stopping = EarlyStopping(self.hp.early_stopping)
        self.batch_callbacks = [cb for cb in run.callbacks if overrides(cb, "on_batch_end")]


class GroupLoop:
    """Trains the members of one group; each ends with the status its sequential run would get."""

    def __init__(self, data: Data, runs: list[Run], population: PBT | None = None) -> None:
        self.data, self.runs, self.population = data, runs, population
        for run in runs:
            run.in_population = population is not None  # its rows count exploits, its result its lineage
        hp = runs[0].hparams
        self.device = resolve_device(hp.device)
        self.batch_size, self.epochs = hp.batch_size, hp.epochs
        self.steps_per_epoch = steps_per_epoch(data, hp.batch_size)
        self.is_mlp = hp.model == "mlp"
        self.members: list[Member] = []

    def train(self) -> None:
        if not self._start_members():
            return
        try:
            self._setup()
            self._fit()
        except Exception as e:  # noqa: BLE001 - a failure of the group fails its remaining members
            for m in self.members:
                self._finalize(m, Status.FAILED, error=e)

    # ---- set-up ------------------------------------------------------------------------------
    def _start_members(self) -> list[Member]:
        """Begin every run; a member whose model, optimizer or hooks fail ends 'failed' on its own."""
        # by optimizer kind: each kind updates a contiguous slice of the stacked rows
        order = sorted(self.runs, key=lambda r: OPTIMIZERS.index(r.hparams.optimizer))
        for run in order:
            run.control.knobs_fixed_because = "it trains in a batched group, whose members share every step"
            try:
                if not run.begin():
                    continue
                probe = nn.Linear(1, 1)  # the sequential loop's optimizer/schedule errors, raised here
                make_schedule(run.hparams, make_optimizer(run.hparams, probe), self.steps_per_epoch)
                self.members.append(Member(run))
            except Exception as e:  # noqa: BLE001
                run.end(Status.FAILED, e)
        return self.members

    def _setup(self) -> None:
        hps = [m.hp for m in self.members]
        for m in self.members:
            m.run.memory_shared_by = len(self.members)
        seeds = [hp.seed for hp in hps]
        self.shufflers = [make_generator(self.device, s) for s in seeds]
        group_seed = zlib.crc32(repr(seeds).encode())
        self.dropout_gen = torch.Generator(device=self.device).manual_seed(group_seed)
        self.params = StackedParams([m.run.model for m in self.members])
        if self.is_mlp:
            self.forward = MLPForward(hps[0].activation, [hp.dropout for hp in hps], self.device, self.dropout_gen,
                                      seeds)
        else:
            torch.manual_seed(group_seed)  # vmap's per-member dropout draws from the global generator
            self.forward = VmapForward(copy.deepcopy(self.members[0].run.model), self.params.names)
        self.schedules = Schedules(hps, self.steps_per_epoch)
        self.optimizer = BatchedOptimizer(hps, self.params.flat)
        self._set_penalties(hps)

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
            if self.population is not None and self.population.due(epoch, self.epochs):
                self._exploit_and_explore(epoch)
        for m in list(self.members):
            self._finalize(m, Status.COMPLETED)
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
        loss = member_losses(self.data.task, self.forward(p.leaves, xb, training=True), yb)
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
        n_train = max(self.data.n_train, 1)
        for m, total in zip(self.members, totals.tolist()):
            running = total / seen
            if math.isfinite(running):
                m.run.report_batch(epoch, self.optimizer.steps, running, rate, epoch - 1 + seen / n_train)

    # ---- population-based training -----------------------------------------------------------
    def _exploit_and_explore(self, epoch: int) -> None:
        """The worst members take the best ones' weights, optimizer state and place in the schedule,
        in place in the stacked rows, then train on with moved values (``PBT.decide``)."""
        pop, members = self.population, self.members

        def take_state(jump: Jump) -> None:
            m, donor = members[jump.member], members[jump.donor]
            hp = m.hp.replace(**jump.values)
            self.params.copy_member(jump.member, jump.donor)
            self.optimizer.copy_member(jump.member, jump.donor)
            self.schedules.copy_member(jump.member, jump.donor, lr_scale=hp.lr / donor.hp.lr,
                                       momentum=base_momentum(hp) if "momentum" in jump.values else None)
            if "weight_decay" in jump.values:
                self.optimizer.set_weight_decay(jump.member, hp.weight_decay, self.params.flat)
            if "dropout" in jump.values:
                self.forward.set_rate(jump.member, hp.dropout)
            m.early_stopping = copy.deepcopy(donor.early_stopping)
            m.hp = m.run.hparams = hp
            m.run.knob_moved(dict(jump.values), float(epoch), self.optimizer.steps)

        jumps = exploit(pop, [m.run for m in members], take_state)
        if jumps and "l1" in pop.names:
            self._set_penalties([m.hp for m in members])

    # ---- epoch boundary ----------------------------------------------------------------------
    def _epoch_end(self, epoch: int, totals: torch.Tensor, seen: int, seconds: float) -> list[int]:
        """Evaluate, record rows and decide who ends; return the positions of members that ended."""
        ended = []
        means = (totals / max(seen, 1)).tolist()
        scores = self.evaluate()
        lrs = self.schedules.lr.tolist()
        for i, m in enumerate(self.members):
            if seen and not math.isfinite(means[i]):
                ended.append(self._finalize(m, Status.DIVERGED, i))
                continue
            if m.control.stop_requested:  # stopped during the epoch: no row, as in the sequential loop
                ended.append(self._finalize(m, m.control.stop_status, i))
                continue
            row = epoch_row(epoch, means[i], scores[i], lrs[i], seconds, seen)
            if self.population is not None:  # the values each epoch trained with ("lr" is the scheduled rate)
                row.update({name: getattr(m.hp, name) for name in self.population.names if name != "lr"})
            try:
                m.run.record_epoch(row)
            except Exception as e:  # noqa: BLE001 - a raising callback fails this member only
                ended.append(self._finalize(m, Status.FAILED, i, error=e))
                continue
            if not math.isfinite(row["val_loss"]):
                ended.append(self._finalize(m, Status.DIVERGED, i))
            elif m.control.stop_requested:  # e.g. a pruner called run.stop() in on_epoch_end
                ended.append(self._finalize(m, m.control.stop_status, i))
            elif m.early_stopping.should_stop(row["val_loss"], lambda i=i: self.params.member(i)):
                ended.append(self._finalize(m, Status.EARLY_STOPPED, i))
        return ended

    @torch.no_grad()
    def evaluate(self) -> list[dict[str, float]]:
        """Each member's validation scores (with its own custom metrics), as ``TrainingLoop.evaluate``."""
        _, _, xv, yv = self.data.on(self.device)
        n_members = len(self.members)
        chunks = [self.forward(self.params.leaves, xv[i:i + EVAL_CHUNK].unsqueeze(0).expand(
            n_members, *xv[i:i + EVAL_CHUNK].shape), training=False).float() for i in range(0, len(xv), EVAL_CHUNK)]
        out = torch.cat(chunks, dim=1)
        return member_validation_scores(out, yv, self.data, [m.run.extra_metrics for m in self.members])

    def _finalize(self, m: Member, status: str, position: int | None = None,
                  error: BaseException | None = None) -> int | None:
        """End one member: its weights (best epoch's with early stopping) go into ``run.model``."""
        if m.run.done:
            return position
        best = m.early_stopping.release()
        try:
            if position is None:
                position = self.members.index(m)
            self.params.load_into(best if best is not None else self.params.member(position), m.run.model)
        except Exception as e:  # noqa: BLE001
            error = error or e
        m.run.end(status, error)
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


def check_population(population: PBT, hps: list[HParams], batched: bool = True) -> None:
    """A ``ValueError`` in words when these members cannot move the population's values live (momentum
    without a momentum optimizer; ``batched``: dropout outside an MLP, whose per-member rates the stacked
    pass has)."""
    names = population.names
    shared = [{k: v for k, v in hp.to_dict().items() if k not in (*names, "seed")} for hp in hps]
    differ = sorted({k for s in shared for k in s if s[k] != shared[0][k]})
    if differ:
        raise ValueError(f"the members differ in {', '.join(differ)}: a population shares every value but the "
                         f"explored ones ({', '.join(names)}) and the seed, since a member takes another's optimizer "
                         f"state and place in the schedule")
    if batched and "dropout" in names and hps[0].model != "mlp":
        raise ValueError(f"dropout cannot be explored with model={hps[0].model!r}: a batched group of that model "
                         f"shares one dropout rate (model='mlp' has one per member)")
    for hp in hps:
        check_live_changes(hp, {name: getattr(hp, name) for name in names}, None)
