"""The optimizer step and learning-rate schedules of a batched group, one row per member.

``torch.optim`` takes one learning rate per tensor, so a group whose members have their own learning
rates, momenta and decays needs its own step over the stacked ``(members, P)`` parameters. The update
rules repeat the arithmetic of torch's single-tensor SGD (plain and Nesterov), Adam, AdamW and RMSprop
with each scalar replaced by a per-member column; the schedules repeat torch's ``StepLR``,
``ExponentialLR``, ``CosineAnnealingLR`` (its recursive form) and ``OneCycleLR`` (including the
momentum / beta1 cycling it applies) in float64, so a member sees the values its sequential run sees.
``tests/engine/test_batched.py`` checks both against torch.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ...hparams import OPTIMIZERS, HParams

ADAM_BETA2, ADAM_EPS = 0.999, 1e-8
RMSPROP_ALPHA, RMSPROP_EPS = 0.99, 1e-8
ONECYCLE = {"pct_start": 0.3, "div_factor": 25.0, "final_div_factor": 1e4,
            "base_momentum": 0.85, "max_momentum": 0.95}
PER_BATCH = ("cosine", "onecycle")
NEEDS = {"sgd": ("mom", "neg_lr"), "momentum": ("mom", "neg_lr"), "rmsprop": ("mom", "neg_lr"),
         "adam": ("one_minus_beta1", "neg_step_size"), "adamw": ("one_minus_beta1", "neg_step_size", "decay")}


def base_momentum(hp: HParams) -> float:
    """The momentum (beta1 for Adam kinds) torch's optimizer starts with for ``hp``."""
    if hp.optimizer in ("adam", "adamw"):
        return 0.9
    return 0.0 if hp.optimizer == "sgd" else hp.momentum


class Schedules:
    """Each member's learning rate and momentum, step by step, as torch's schedulers compute them.

    ``epoch_table(n)`` gives the values the next ``n`` batches use (advancing per-batch schedules);
    ``end_epoch()`` advances per-epoch schedules. ``lr`` is what a history row reports.
    """

    def __init__(self, hps: list[HParams], steps_per_epoch: int) -> None:
        self.total = max(1, hps[0].epochs * steps_per_epoch)
        kinds = np.array([hp.schedule for hp in hps])
        self.cosine, self.onecycle = kinds == "cosine", kinds == "onecycle"
        self.step_kind, self.expo = kinds == "step", kinds == "exponential"
        self.step_size = np.array([hp.step_size for hp in hps])
        self.gamma = np.array([hp.gamma for hp in hps], dtype=np.float64)
        self.lr = np.array([hp.lr for hp in hps], dtype=np.float64)
        self.mom = np.array([base_momentum(hp) for hp in hps], dtype=np.float64)
        self.max_lr = self.lr.copy()
        self.initial_lr = self.max_lr / ONECYCLE["div_factor"]
        self.min_lr = self.initial_lr / ONECYCLE["final_div_factor"]
        self.batches = 0
        self.epochs = 0
        self.per_batch = bool(self.cosine.any() or self.onecycle.any())
        if self.onecycle.any():
            self._onecycle(0)

    def _onecycle(self, k: int) -> None:
        """OneCycleLR.get_lr at ``last_epoch == k`` (cosine annealing, two phases)."""
        oc = self.onecycle
        phases = [(float(ONECYCLE["pct_start"] * self.total) - 1, self.initial_lr, self.max_lr,
                   ONECYCLE["max_momentum"], ONECYCLE["base_momentum"]),
                  (self.total - 1, self.max_lr, self.min_lr, ONECYCLE["base_momentum"], ONECYCLE["max_momentum"])]
        start_step = 0.0
        for i, (end_step, lr0, lr1, m0, m1) in enumerate(phases):
            if k <= end_step or i == len(phases) - 1:
                pct = (k - start_step) / (end_step - start_step)
                cos_out = math.cos(math.pi * pct) + 1
                self.lr[oc] = lr1[oc] + (lr0[oc] - lr1[oc]) / 2.0 * cos_out
                self.mom[oc] = m1 + (m0 - m1) / 2.0 * cos_out
                return
            start_step = end_step

    def _advance_batch(self) -> None:
        self.batches += 1
        k, t = self.batches, self.total
        if self.cosine.any():
            factor = (1 + math.cos(math.pi * k / t)) / (1 + math.cos(math.pi * (k - 1) / t))
            self.lr[self.cosine] = factor * (self.lr[self.cosine] - 0.0) + 0.0
        if self.onecycle.any():
            self._onecycle(k)

    def epoch_table(self, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
        """``(lr, momentum)``, each ``(n_steps, members)``: the values each coming batch uses."""
        if not self.per_batch:
            return np.tile(self.lr, (n_steps, 1)), np.tile(self.mom, (n_steps, 1))
        lrs, moms = np.empty((n_steps, len(self.lr))), np.empty((n_steps, len(self.lr)))
        for s in range(n_steps):
            lrs[s], moms[s] = self.lr, self.mom
            self._advance_batch()
        return lrs, moms

    def end_epoch(self) -> None:
        """StepLR / ExponentialLR ``step()`` after an epoch."""
        self.epochs += 1
        decay = self.expo | (self.step_kind & (self.epochs % self.step_size == 0))
        self.lr[decay] = self.lr[decay] * self.gamma[decay]

    def keep(self, index: np.ndarray) -> None:
        """Keep only the members at ``index`` (in that order)."""
        for name in ("cosine", "onecycle", "step_kind", "expo", "step_size", "gamma", "lr", "mom",
                     "max_lr", "initial_lr", "min_lr"):
            setattr(self, name, getattr(self, name)[index])

    LR_ARRAYS = ("lr", "max_lr", "initial_lr", "min_lr")

    def copy_member(self, to: int, source: int, lr_scale: float = 1.0, momentum: float | None = None) -> None:
        """Member ``to`` takes ``source``'s place in the schedule, its rates scaled by ``lr_scale`` (a
        new base rate over the source's: a decayed rate stays decayed in proportion) and, when given,
        ``momentum``."""
        for name in self.LR_ARRAYS:
            values = getattr(self, name)
            values[to] = values[source] * lr_scale
        self.mom[to] = self.mom[source] if momentum is None else momentum


class BatchedOptimizer:
    """One update over all members of ``flat`` (``members x P``) from its gradient ``grad``.

    Members must be sorted by optimizer kind: each kind updates its contiguous slice of rows in place,
    so a group may mix kinds. Per-member values (lr, momentum, decay) come in as float64 arrays and
    become float32 columns on the device once per epoch (``set_epoch``), so a step needs no host sync.
    """

    def __init__(self, hps: list[HParams], flat: torch.Tensor) -> None:
        self.kinds = [hp.optimizer for hp in hps]
        if self.kinds != sorted(self.kinds, key=OPTIMIZERS.index):
            raise ValueError("members must be sorted by optimizer kind")
        self.wd = np.array([hp.weight_decay for hp in hps], dtype=np.float64)
        self.device, self.dtype = flat.device, flat.dtype
        self.state: dict[str, torch.Tensor] = {}
        self.steps = 0
        self._columns(flat)

    def _columns(self, flat: torch.Tensor) -> None:
        kinds = set(self.kinds)
        self.segments = [(k, self.kinds.index(k), len(self.kinds) - self.kinds[::-1].index(k))
                         for k in OPTIMIZERS if k in kinds]
        need = {"buf": kinds & {"sgd", "momentum", "rmsprop"}, "exp_avg": kinds & {"adam", "adamw"},
                "sq": kinds & {"adam", "adamw", "rmsprop"}}
        for name, used in need.items():
            if used and name not in self.state:
                self.state[name] = torch.zeros_like(flat)
        self.wd_col = self._col(self.wd)
        self.l2 = {k: bool(self.wd[a:b].any()) for k, a, b in self.segments}

    def _col(self, values: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(values, dtype=np.float64), dtype=self.dtype).to(self.device).unsqueeze(-1)

    def set_epoch(self, lr: np.ndarray, mom: np.ndarray) -> None:
        """Upload the ``(steps, members)`` tables of the coming epoch, with what each rule derives."""
        n = lr.shape[0]
        steps = np.arange(self.steps + 1, self.steps + n + 1, dtype=np.float64)[:, None]
        bc1 = 1 - mom ** steps  # Adam's bias correction with the beta1 of each step
        tables = {"neg_lr": -lr, "mom": mom, "one_minus_beta1": 1 - mom, "neg_step_size": -(lr / bc1),
                  "decay": 1 - lr * self.wd}
        self.tables = {k: torch.as_tensor(v, dtype=self.dtype).to(self.device).unsqueeze(-1)
                       for k, v in tables.items()}
        self.use_momentum = {k: bool((mom[:, a:b] != 0).any()) for k, a, b in self.segments}
        self.row = 0

    @torch.no_grad()
    def step(self, flat: torch.Tensor, grad: torch.Tensor) -> None:
        """Apply one update to every member (row ``self.row`` of the epoch tables); ``grad`` may be
        overwritten (weight decay is added to it in place)."""
        self.steps += 1
        row = self.row
        self.row += 1
        for kind, a, b in self.segments:
            p, g = flat[a:b], grad[a:b]
            col = {k: self.tables[k][row, a:b] for k in NEEDS[kind]}
            if kind != "adamw" and self.l2[kind]:
                g.addcmul_(p, self.wd_col[a:b])  # in place: the gradient buffer is rewritten every step
            if kind in ("sgd", "momentum"):
                self._sgd(kind, p, g, col, a, b)
            elif kind == "rmsprop":
                self._rmsprop(p, g, col, a, b)
            else:
                self._adam(kind, p, g, col, a, b)

    def _sgd(self, kind, p, g, col, a, b) -> None:
        if self.use_momentum[kind]:
            buf = self.state["buf"][a:b]
            buf.mul_(col["mom"]).add_(g)
            g = torch.addcmul(g, buf, col["mom"]) if kind == "momentum" else buf
        p.addcmul_(g, col["neg_lr"])

    def _scratch(self, a: int, b: int) -> torch.Tensor:
        """Rows ``a:b`` of a buffer shaped like the parameters, for an update's temporary values."""
        if "scratch" not in self.state:
            self.state["scratch"] = torch.empty_like(self.state["sq"])
        return self.state["scratch"][a:b]

    def _rmsprop(self, p, g, col, a, b) -> None:
        sq = self.state["sq"][a:b]
        sq.mul_(RMSPROP_ALPHA).addcmul_(g, g, value=1 - RMSPROP_ALPHA)
        avg = torch.sqrt(sq, out=self._scratch(a, b)).add_(RMSPROP_EPS)
        if self.use_momentum["rmsprop"]:
            buf = self.state["buf"][a:b]
            buf.mul_(col["mom"]).addcdiv_(g, avg)
            p.addcmul_(buf, col["neg_lr"])
        else:
            p.addcmul_(g.div(avg), col["neg_lr"])

    def _adam(self, kind, p, g, col, a, b) -> None:
        if kind == "adamw" and self.l2[kind]:
            p.mul_(col["decay"])
        exp_avg, sq = self.state["exp_avg"][a:b], self.state["sq"][a:b]
        exp_avg.lerp_(g, col["one_minus_beta1"])
        sq.mul_(ADAM_BETA2).addcmul_(g, g, value=1 - ADAM_BETA2)
        # torch's capturable form, with the (per-member) step size folded into the denominator,
        # computed in a kept buffer: a fresh (members, P) tensor per step costs page faults
        neg_ss = col["neg_step_size"]
        denom = torch.sqrt(sq, out=self._scratch(a, b))
        denom.div_(neg_ss * (1 - ADAM_BETA2 ** self.steps) ** 0.5).add_(ADAM_EPS / neg_ss)
        p.addcdiv_(exp_avg, denom)

    @torch.no_grad()
    def copy_member(self, to: int, source: int) -> None:
        """Member ``to`` takes ``source``'s optimizer state (momentum buffers, Adam's averages)."""
        for name, values in self.state.items():
            if name != "scratch":
                values[to].copy_(values[source])

    def set_weight_decay(self, member: int, value: float, flat: torch.Tensor) -> None:
        """Member ``member`` decays its weights by ``value`` from the next epoch's tables."""
        self.wd[member] = value
        self._columns(flat)

    def keep(self, index: torch.Tensor, flat: torch.Tensor) -> None:
        """Keep only the members at ``index``; ``flat`` is the compacted parameter tensor."""
        idx = index.tolist()
        self.kinds = [self.kinds[i] for i in idx]
        self.wd = self.wd[idx]
        self.state = {k: v.index_select(0, index) for k, v in self.state.items() if k != "scratch"}
        self.tables = {k: v.index_select(1, index) for k, v in getattr(self, "tables", {}).items()}
        self._columns(flat)
