"""Search spaces: which hyperparameters a sweep varies, and over what values.

A ``Space`` is a plain, validated value object (stdlib only): it checks every dimension, and
``check_fields`` checks it against the ``FIELDS`` table for the built-in trainer, so a bad range fails
before any trial with the same wording as ``HParams``; it can list its grid. Turning it into Optuna distributions is the sweep layer's job.

Example::

    space = Space(lr=LogUniform(1e-4, 1e-1), batch_size=Choice([32, 64, 128]),
                  dropout=Uniform(0, 0.5), layers=IntRange(1, 4))
    space.grid()[:2]     # [{'lr': 0.0001, 'batch_size': 32, ...}, ...]
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from typing import Any, Iterable

from .hparams import FIELDS, check_field
from .guards import require_count

PRIMITIVES = (bool, int, float, str, type(None))


class Dimension:
    """One axis of a space. Subclasses are frozen dataclasses with ``grid()`` and ``to_dict()``."""

    def grid(self) -> list:
        raise NotImplementedError

    def size(self) -> int:
        """How many grid points, without listing them."""
        return len(self.grid())

    def check(self, name: str, field_checked: bool) -> None:
        """Raise a ``ValueError`` naming ``name`` if the dimension is unusable."""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": type(self).__name__, **self.__dict__}


def _number(name: str, what: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name}: {what}={value!r} is not allowed: must be a finite number")
    return value


def _check_bounds(name: str, low: Any, high: Any, field_checked: bool) -> None:
    _number(name, "low", low)
    _number(name, "high", high)
    if low >= high:
        raise ValueError(f"{name}: low={low!r} must be < high={high!r}")
    if field_checked:
        for bound in (low, high):
            try:
                check_field(name, bound)
            except ValueError as e:
                raise ValueError(f"{name}: range {low!r}..{high!r} is outside the allowed values: {e}") from None


def _check_float_field(name: str, dim: str, field_checked: bool) -> None:
    if field_checked and name in FIELDS and FIELDS[name].kind is not float:
        kind = FIELDS[name].kind.__name__
        hint = "IntRange or Choice" if FIELDS[name].kind is int else "Choice"
        raise ValueError(f"{name}: {dim} needs a float hyperparameter, but {name} is {kind}: use {hint}")


def _check_n(name: str, n: Any) -> None:
    require_count(f"{name}: n", n, low=2, hint="grid points")


@dataclass(frozen=True)
class FloatRange(Dimension):
    """Any number in ``[low, high]``; a grid takes ``n`` points, evenly spaced (``log``: on a log scale)."""

    low: float
    high: float
    n: int = 5
    log = False  # a class constant of each kind, not a field

    def check(self, name: str, field_checked: bool) -> None:
        _check_float_field(name, type(self).__name__, field_checked)
        if self.log:
            _number(name, "low", self.low)
            if self.low <= 0:
                raise ValueError(f"{name}: LogUniform low={self.low!r} is not allowed: a log range needs low > 0")
        _check_bounds(name, self.low, self.high, field_checked)
        _check_n(name, self.n)

    def size(self) -> int:
        return self.n

    def grid(self) -> list[float]:
        if self.log:
            inner = [self.low * (self.high / self.low) ** (i / (self.n - 1)) for i in range(1, self.n - 1)]
        else:
            step = (self.high - self.low) / (self.n - 1)
            inner = [self.low + i * step for i in range(1, self.n - 1)]
        return [float(self.low)] + inner + [float(self.high)]


class Uniform(FloatRange):
    """Any number in ``[low, high]``; a grid takes ``n`` evenly spaced points."""


class LogUniform(FloatRange):
    """Any number in ``[low, high]`` explored on a log scale (learning rates, penalties); ``low > 0``."""

    log = True


@dataclass(frozen=True)
class IntRange(Dimension):
    """The integers ``low, low+step, ..., <= high``; a grid takes all of them."""

    low: int
    high: int
    step: int = 1

    def check(self, name: str, field_checked: bool) -> None:
        for what in ("low", "high", "step"):
            value = getattr(self, what)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name}: IntRange {what}={value!r} is not allowed: must be an integer")
        if field_checked and name in FIELDS and FIELDS[name].kind is not int:
            raise ValueError(f"{name}: IntRange needs an integer hyperparameter, but {name} is "
                             f"{FIELDS[name].kind.__name__}: use " +
                             ("Uniform or LogUniform" if FIELDS[name].kind is float else "Choice"))
        if self.step < 1:
            raise ValueError(f"{name}: IntRange step={self.step!r} is not allowed: must be >= 1")
        _check_bounds(name, self.low, self.high, field_checked)

    def grid(self) -> list[int]:
        return list(range(self.low, self.high + 1, self.step))

    def size(self) -> int:
        return len(range(self.low, self.high + 1, self.step))


class Choice(Dimension):
    """One of a fixed list of values (strings, numbers, booleans, None)."""

    def __init__(self, values: Iterable) -> None:
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise ValueError(f"Choice({values!r}) is not allowed: pass a list of values, e.g. Choice(['sgd', 'adam'])")
        self.values = tuple(values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Choice) and self.values == other.values

    def __hash__(self) -> int:
        return hash(self.values)

    def __repr__(self) -> str:
        return f"Choice({list(self.values)!r})"

    def check(self, name: str, field_checked: bool) -> None:
        if not self.values:
            raise ValueError(f"{name}: Choice([]) is empty: give at least one value")
        for v in self.values:
            if not isinstance(v, PRIMITIVES):
                raise ValueError(f"{name}: Choice value {v!r} is not allowed: values must be strings, numbers, "
                                 f"booleans or None (so that they can be stored)")
        if len(set(map(repr, self.values))) != len(self.values):
            raise ValueError(f"{name}: Choice({list(self.values)!r}) holds the same value twice")
        if field_checked:
            for v in self.values:
                try:
                    check_field(name, v)
                except ValueError as e:
                    raise ValueError(f"{name}: Choice value {v!r} is not allowed: {e}") from None

    def grid(self) -> list:
        return list(self.values)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "Choice", "values": list(self.values)}


KINDS = {"Uniform": Uniform, "LogUniform": LogUniform, "IntRange": IntRange, "Choice": Choice}


class Space:
    """Named dimensions of any names; what a sweep searches. Names the space leaves out come from
    the sweep's ``base``.

    A plain list is taken as a ``Choice``. Each dimension is checked on its own when the space is
    built; a space for the built-in trainer is checked against the ``HParams`` fields where it is used
    (``check_fields``: ``tw.sweep(data, ...)``, the sweep panel), so a training function of yours may
    search any names and values (``kl_weight``, an optimizer tunewidgets does not build).
    """

    def __init__(self, _dims: dict[str, Any] | None = None, **dims: Any) -> None:
        merged = {**(_dims or {}), **dims}
        self.dims: dict[str, Dimension] = {}
        for name, dim in merged.items():
            if isinstance(dim, (list, tuple)):
                dim = Choice(dim)
            if not isinstance(dim, Dimension):
                raise ValueError(f"{name}={dim!r} is not a dimension: use LogUniform, Uniform, IntRange, "
                                 f"Choice or a list of values")
            dim.check(name, False)
            self.dims[name] = dim

    @classmethod
    def free(cls, **dims: Any) -> "Space":
        """A space over arbitrary parameter names (a scikit-learn estimator's): the same as ``Space``."""
        return cls(dims)

    def check_fields(self) -> "Space":
        """This space itself, once every name is an ``HParams`` field and every dimension fits its
        field's kind and allowed values: what the built-in trainer can train."""
        for name, dim in self.dims.items():
            if name not in FIELDS:
                raise ValueError(f"unknown hyperparameter {name!r} in the space: known are {sorted(FIELDS)}")
            dim.check(name, True)
        return self

    @property
    def names(self) -> list[str]:
        return list(self.dims)

    def grid_values(self) -> dict[str, list]:
        """Each dimension's grid points."""
        return {name: dim.grid() for name, dim in self.dims.items()}

    def grid(self) -> list[dict[str, Any]]:
        """Every combination of grid points (the cartesian product), in a fixed order."""
        values = self.grid_values()
        return [dict(zip(values, combo)) for combo in itertools.product(*values.values())]

    @property
    def grid_size(self) -> int:
        """Points in the full grid (counted, not listed: a huge grid costs nothing to size)."""
        return math.prod(dim.size() for dim in self.dims.values())

    def to_dict(self) -> dict[str, Any]:
        return {"dims": {name: dim.to_dict() for name, dim in self.dims.items()}}

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> "Space":
        dims = {}
        for name, spec in value["dims"].items():
            spec = dict(spec)
            kind = KINDS[spec.pop("kind")]
            dims[name] = kind(spec["values"]) if kind is Choice else kind(**spec)
        return cls(dims)  # an older file's "checked" flag is not needed: a stored space was checked

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> "Space":
        return cls.from_dict(json.loads(text))

    def __len__(self) -> int:
        return len(self.dims)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Space) and self.dims == other.dims

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.dims.items())
        return f"Space({inner})"
