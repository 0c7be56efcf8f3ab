"""Params: the hyperparameters of a run trained by a function of yours, under any names.

The built-in trainer has its fixed ``HParams`` fields; a training function ``fit(p, report)`` has
whatever names its author chose (``p.hidden``, ``p["kl_weight"]``). ``Params`` reads both ways, is
read-only to the function, and changes only through the run (``run.update``), so the values a fit
sees move exactly where the history says they did.

Example::

    p = Params({"lr": 1e-3, "hidden": 64})
    p.lr, p["hidden"], p.get("epochs", 10)
    p.replace(lr=3e-4)        # a new Params; unknown names are an error
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Iterator


TAKEN = ("get", "items", "keys", "values", "replace", "to_dict", "of", "reading")  # p.<name> is a method


def plain_values(values: Any, what: str = "base") -> dict[str, Any]:
    """``values`` as a dict of plain JSON values (what a sweep stores and ships to workers, what a runs
    file keeps); a ``ValueError`` names ``what`` and the value that is not one."""
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise ValueError(f"{what}={values!r} is not allowed: give a training function's fixed values as a dict, "
                         f"e.g. {what}={{'epochs': 10, 'hidden': 64}}")
    for key, value in values.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise ValueError(f"{what} key {key!r} is not allowed: names are identifiers, read as p.<name>")
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise ValueError(f"{what}[{key!r}]={value!r} is not allowed: a tuned value must be a number, string, "
                             f"bool, None or a list of them (it is stored and sent to workers); give objects such "
                             f"as data loaders to the function itself") from None
    return dict(values)


class Params(Mapping):
    """Hyperparameters by name: ``p.lr`` or ``p["lr"]``; a ``Mapping``, so ``dict(p)`` copies it."""

    def __init__(self, values: Mapping[str, Any] | None = None, **more: Any) -> None:
        merged = {**dict(values or {}), **more}
        for name in merged:
            if not (isinstance(name, str) and name.isidentifier()):
                raise ValueError(f"hyperparameter name {name!r} is not allowed: names are identifiers such as "
                                 f"'lr' or 'hidden'")
            if name in TAKEN or name.startswith("_"):
                raise ValueError(f"hyperparameter name {name!r} is not allowed: p.{name} is a method of the "
                                 f"hyperparameters, not a value; name it otherwise (names may not start with _)")
        object.__setattr__(self, "_values", merged)

    @classmethod
    def of(cls, values: Any, **overrides: Any) -> "Params":
        """``values`` (a dict or a Params) with ``overrides``; a ``ValueError`` for anything else."""
        if values is None:
            values = {}
        if not isinstance(values, Mapping):
            raise ValueError(f"params={type(values).__name__} is not allowed: a training function's "
                             f"hyperparameters are a dict such as {{'lr': 1e-3, 'epochs': 10}}")
        return cls(values, **overrides)

    @classmethod
    def reading(cls, values: dict[str, Any]) -> "Params":
        """A Params that reads ``values`` itself, not a copy: its owner (a run's report) moves live
        changes into the dict between two of the fit's calls, and ``p`` shows them."""
        params = cls(values)
        object.__setattr__(params, "_values", values)
        return params

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(f"no hyperparameter {name!r}: this run has {sorted(values)}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"hyperparameters are read-only in the training function: change {name!r} with "
                             f"run.update({name}=...) or a control, and read it again from p")

    def __getitem__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise KeyError(f"no hyperparameter {name!r}: this run has {sorted(self._values)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self._values) == dict(other)

    __hash__ = None  # type: ignore[assignment]

    def replace(self, **changes: Any) -> "Params":
        """A copy with ``changes``; a name the run does not have is an error (a typo is not a new knob)."""
        unknown = [name for name in changes if name not in self._values]
        if unknown:
            raise ValueError(f"{', '.join(map(repr, unknown))} is not a hyperparameter of this run: it has "
                             f"{sorted(self._values)}")
        for name, value in changes.items():
            check_same_kind(name, self._values[name], value)
        return Params({**self._values, **changes})

    def to_dict(self) -> dict[str, Any]:
        return dict(self._values)

    def __repr__(self) -> str:
        return f"Params({self._values!r})"


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_same_kind(name: str, old: Any, new: Any) -> None:
    """A changed number stays a finite number, a flag a flag, a text a text: what the fit reads keeps
    the kind it was written for."""
    if is_number(old):
        if not (is_number(new) and math.isfinite(new)):
            raise ValueError(f"{name}={new!r} is not allowed: must be a finite number (it was {old!r})")
    elif isinstance(old, (bool, str)) and type(new) is not type(old):
        raise ValueError(f"{name}={new!r} is not allowed: must be a {type(old).__name__} (it was {old!r})")
