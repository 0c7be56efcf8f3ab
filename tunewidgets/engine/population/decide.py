"""Population-based training's decisions: which members copy which, and where their values move.

Every ``interval`` epochs the members are ranked by the metric; each of the worst ``quantile`` copies
a member of the best ``quantile`` (exploit: its weights and optimizer state) and moves the copied
values (explore): each value is resampled from its dimension with probability ``resample``, else
multiplied by 0.8 or 1.2 (a choice moves to a neighbouring value), and kept inside the dimension's
bounds. These are Ray Tune's defaults (Jaderberg et al. 2017). Only live fields can move: the
members of a population share one network shape, and the trainer moves the rest between two
batches. This module decides; the training loop applies (``batched.group`` copies stacked rows).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from ...guards import require_count
from ...objective import Objective
from ...space import Choice, Dimension, FloatRange, IntRange, Space
from ..control.knobs import LIVE_FIELDS

PERTURB_FACTORS = (0.8, 1.2)


@dataclass
class Jump:
    """Member ``member`` (a position in the population) takes ``donor``'s weights and optimizer state,
    then trains on with ``values`` (every explored name)."""

    member: int
    donor: int
    values: dict[str, Any]


@dataclass
class PBT:
    """The population's schedule of exploits: ``interval`` epochs between decisions, ranked by
    ``metric`` (``direction`` "minimize" or "maximize")."""

    space: Space
    metric: str = "val_loss"
    direction: str | None = None  # None: from the metric's name (loss, error: minimize; accuracy, f1: maximize)
    interval: int = 4
    quantile: float = 0.25
    resample: float = 0.25
    seed: int = 0
    # what may move: the built-in trainer's live fields; None for a training function of yours, whose
    # every name can move (``p.<name>`` reads the new value from its next report call)
    fields: tuple[str, ...] | None = LIVE_FIELDS
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        require_count("interval", self.interval, hint="epochs between exploits, e.g. 4")
        if not (isinstance(self.quantile, (int, float)) and 0 < self.quantile <= 0.5):
            raise ValueError(f"quantile={self.quantile!r} is not allowed: must be in (0, 0.5], the share of the "
                             f"population that copies the best (0.25: the worst quarter copies the best quarter)")
        if not (isinstance(self.resample, (int, float)) and 0 <= self.resample <= 1):
            raise ValueError(f"resample={self.resample!r} is not allowed: must be in [0, 1], the chance that a "
                             f"copied value is drawn afresh instead of moved by x0.8 or x1.2")
        if self.direction is None:
            self.direction = Objective.named(self.metric).direction  # asks for direction= when the name says nothing
        if self.direction not in ("minimize", "maximize"):
            raise ValueError(f"direction={self.direction!r} is not allowed: must be 'minimize' or 'maximize'")
        check_explorable(self.space, self.fields)
        self._rng = random.Random(self.seed)

    @property
    def names(self) -> list[str]:
        return self.space.names

    def due(self, epoch: int, epochs: int) -> bool:
        """Whether the population is judged after ``epoch`` (never after the last: nothing trains on)."""
        return epoch % self.interval == 0 and epoch < epochs

    def scores_of(self, rows: list[dict[str, Any]]) -> list[float]:
        """Each member's ``metric`` in its last row; a ``ValueError`` naming the columns when no row has it."""
        if rows and not any(self.metric in row for row in rows):
            raise ValueError(f"metric={self.metric!r} is not in the members' rows: they have "
                             f"{', '.join(sorted(rows[0]))}")
        return [row.get(self.metric, math.nan) for row in rows]

    def decide(self, scores: list[float], values: list[dict[str, Any]]) -> list[Jump]:
        """The jumps for members with these ``scores`` (a NaN ranks last) and current ``values``."""
        n = len(scores)
        k = int(n * self.quantile)
        if k < 1:
            return []
        sign = 1.0 if self.direction == "minimize" else -1.0
        order = sorted(range(n), key=lambda i: (not math.isfinite(scores[i]), sign * scores[i]
                                                if math.isfinite(scores[i]) else 0.0))
        best, worst = order[:k], order[-k:]
        jumps = []
        for member in worst:
            donor = self._rng.choice(best)
            jumps.append(Jump(member, donor, self.explore(values[donor])))
        return jumps

    def explore(self, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` moved: each name resampled (``resample``) or perturbed, inside its dimension."""
        return {name: self._move(dim, values[name]) for name, dim in self.space.dims.items()}

    def _move(self, dim: Dimension, value: Any) -> Any:
        rng = self._rng
        if rng.random() < self.resample:
            return draw(dim, rng)
        if isinstance(dim, Choice):
            grid = dim.grid()
            at = grid.index(value) if value in grid else rng.randrange(len(grid))
            return grid[min(max(at + rng.choice((-1, 1)), 0), len(grid) - 1)]
        moved = value * rng.choice(PERTURB_FACTORS)
        if isinstance(dim, IntRange):
            steps = round((moved - dim.low) / dim.step)
            return int(min(max(dim.low + steps * dim.step, dim.low), dim.high))
        return float(min(max(moved, dim.low), dim.high))


def draw(dim: Dimension, rng: random.Random) -> Any:
    """A fresh value of ``dim`` (log-uniform for a log range)."""
    if isinstance(dim, Choice):
        return rng.choice(dim.grid())
    if isinstance(dim, IntRange):
        return rng.choice(dim.grid())
    if isinstance(dim, FloatRange):
        if dim.log:
            return float(math.exp(rng.uniform(math.log(dim.low), math.log(dim.high))))
        return float(rng.uniform(dim.low, dim.high))
    raise ValueError(f"{type(dim).__name__} cannot be drawn from")


def first_values(space: Space, n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` members' starting values, drawn from ``space`` (seeded)."""
    rng = random.Random(seed)
    return [{name: draw(dim, rng) for name, dim in space.dims.items()} for _ in range(n)]


def check_explorable(space: Space, fields: tuple[str, ...] | None = LIVE_FIELDS) -> None:
    """A ``ValueError`` naming each dimension population-based training cannot move (``fields``: the
    names that can; None: any name)."""
    if not len(space):
        raise ValueError("population-based training needs a space to explore, e.g. tw.Space(lr=tw.LogUniform(1e-3, "
                         f"1e-1)); it moves {', '.join(fields or ('numbers',))}")
    fixed = [name for name in space.names if fields is not None and name not in fields]
    if fixed:
        raise ValueError(f"{', '.join(fixed)} cannot be explored by population-based training: the members "
                         f"share one network shape and their batches, and only {', '.join(fields)} can move "
                         f"while they train; put {', '.join(fixed)} in base=")
    for name, dim in space.dims.items():
        if isinstance(dim, Choice) and not all(isinstance(v, (int, float)) for v in dim.grid()):
            raise ValueError(f"{name}: Choice({dim.grid()!r}) is not allowed for population-based training: its "
                             f"values must be numbers")
