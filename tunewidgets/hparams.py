"""HParams: the validated, immutable hyperparameters of one training run.

Every layer (engine, sweeps, widgets) speaks ``HParams``. The rules for each field live in one
table, ``FIELDS``, so that the API, the widgets and the search spaces report the same allowed
ranges in the same words.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any, Callable, Union

MODELS = ("mlp", "cnn", "resnet")
OPTIMIZERS = ("sgd", "momentum", "adam", "adamw", "rmsprop")
SCHEDULES = ("constant", "step", "exponential", "cosine", "onecycle")
ACTIVATIONS = ("relu", "gelu", "tanh", "silu", "leaky_relu")


@dataclass(frozen=True)
class FieldRule:
    """What one hyperparameter may hold; used for validation, widgets and search spaces."""

    kind: type
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # True: the low bound itself is not allowed
    high_open: bool = False
    choices: tuple | None = None
    log: bool = False  # best explored on a log scale
    help: str = ""

    def describe(self) -> str:
        """The allowed values in words, e.g. ``a number > 0 and <= 10``."""
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        noun = "an integer" if self.kind is int else "a number"
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {_fmt(self.low)}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {_fmt(self.high)}")
        return noun + (" " + " and ".join(parts) if parts else "")

    def check(self, name: str, value: Any) -> Any:
        """Return ``value`` (ints widened to float where needed) or raise a ``ValueError`` naming the field."""
        original = value
        if self.choices is not None:
            if value not in self.choices:
                raise ValueError(f"{name}={value!r} is not allowed: must be {self.describe()}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{name}={value!r} is not allowed: must be {self.describe()}")
        if self.kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(f"{name}={value!r} is not allowed: must be {self.describe()}")
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"{name}={value!r} is not allowed: must be {self.describe()}")
        too_low = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        too_high = self.high is not None and (value >= self.high if self.high_open else value > self.high)
        if too_low or too_high:
            raise ValueError(f"{name}={original!r} is not allowed: must be {self.describe()}")
        return value


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(x)


FIELDS: dict[str, FieldRule] = {
    "lr": FieldRule(float, 0, 100, low_open=True, log=True, help="learning rate (peak rate for onecycle)"),
    "batch_size": FieldRule(int, 1, 1_000_000, log=True, help="samples per optimizer step"),
    "epochs": FieldRule(int, 1, 100_000, help="passes over the training data"),
    "model": FieldRule(str, choices=MODELS, help="built-in model kind, or a callable (hparams, data) -> nn.Module"),
    "layers": FieldRule(int, 1, 64, help="hidden layers (mlp) or conv / residual blocks (cnn, resnet)"),
    "units": FieldRule(int, 1, 65_536, log=True, help="hidden width (mlp) or channels (cnn, resnet)"),
    "dropout": FieldRule(float, 0, 1, high_open=True, help="probability of zeroing a hidden unit"),
    "activation": FieldRule(str, choices=ACTIVATIONS, help="non-linearity between layers"),
    "optimizer": FieldRule(str, choices=OPTIMIZERS, help="update rule"),
    "momentum": FieldRule(float, 0, 1, high_open=True, help="momentum of 'momentum' SGD and RMSprop"),
    "weight_decay": FieldRule(float, 0, 1, help="L2 penalty (decoupled for adamw)"),
    "l1": FieldRule(float, 0, 1, help="L1 penalty on weights, added to the loss"),
    "schedule": FieldRule(str, choices=SCHEDULES, help="learning-rate schedule over the run"),
    "step_size": FieldRule(int, 1, 100_000, help="epochs between decays of the 'step' schedule"),
    "gamma": FieldRule(float, 0, 1, low_open=True, help="decay factor of 'step' (per step) and 'exponential' (per epoch)"),
    "early_stopping": FieldRule(int, 0, 100_000, help="epochs without validation-loss improvement before stopping; 0 = off"),
    "seed": FieldRule(int, 0, 2**63 - 1, help="seed of weight init, shuffling and dropout"),
    "device": FieldRule(str, help="'auto' (cuda, then mps, then cpu), 'cpu', 'cuda', 'cuda:1', 'mps'"),
    "amp": FieldRule(bool, help="mixed precision on CUDA"),
}


def _check_device(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"device={value!r} is not allowed: must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'")
    head, _, index = value.partition(":")
    if head not in ("auto", "cpu", "cuda", "mps") or (index and not (head == "cuda" and index.isdigit())):
        raise ValueError(f"device={value!r} is not allowed: must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'")
    return value


ModelSpec = Union[str, Callable[..., Any]]


@dataclass(frozen=True)
class HParams:
    """Hyperparameters of one run, validated on construction.

    Example::

        hp = HParams(lr=3e-3, layers=2, units=128, optimizer="adam", epochs=20)
        hp2 = hp.replace(dropout=0.2)
        HParams.from_json(hp2.to_json()) == hp2   # True

    ``model`` may be a callable ``(hparams, data) -> torch.nn.Module`` for your own networks.
    """

    lr: float = 1e-3
    batch_size: int = 64
    epochs: int = 20
    model: ModelSpec = "mlp"
    layers: int = 2
    units: int = 128
    dropout: float = 0.0
    activation: str = "relu"
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    l1: float = 0.0
    schedule: str = "constant"
    step_size: int = 10
    gamma: float = 0.5
    early_stopping: int = 0
    seed: int = 0
    device: str = "auto"
    amp: bool = False

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            checked = check_field(f.name, value)
            if checked is not value:
                object.__setattr__(self, f.name, checked)
        if self.optimizer == "momentum" and self.momentum == 0:  # torch refuses Nesterov without momentum
            raise ValueError("momentum=0 is not allowed with optimizer='momentum' (Nesterov SGD): must be in "
                             "(0, 1); for SGD without momentum use optimizer='sgd'")

    def replace(self, **changes: Any) -> "HParams":
        """A copy with some fields changed (validated again)."""
        unknown = set(changes) - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown hyperparameter(s) {sorted(unknown)}: known are {sorted(FIELDS)}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """A plain dict of all fields (a callable ``model`` stays a callable)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "HParams":
        """Build from a dict; unknown keys are an error, missing keys take defaults."""
        unknown = set(values) - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown hyperparameter(s) {sorted(unknown)}: known are {sorted(FIELDS)}")
        return cls(**values)

    def to_json(self) -> str:
        if callable(self.model):
            raise ValueError("model is a callable and cannot be written as JSON; store its name separately")
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "HParams":
        return cls.from_dict(json.loads(text))

    @property
    def model_name(self) -> str:
        """'mlp', 'cnn', 'resnet', or the factory's name."""
        return self.model if isinstance(self.model, str) else getattr(self.model, "__name__", "custom")


def check_field(name: str, value: Any) -> Any:
    """Validate one field's value against ``FIELDS``; raise a ``ValueError`` naming it and what is allowed."""
    if name not in FIELDS:
        raise ValueError(f"unknown hyperparameter {name!r}: known are {sorted(FIELDS)}")
    if name == "model" and callable(value):
        return value
    if name == "device":
        return _check_device(value)
    rule = FIELDS[name]
    if rule.kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name}={value!r} is not allowed: must be True or False")
        return value
    return rule.check(name, value)


def as_hparams(hparams: "HParams | dict | None" = None, **overrides: Any) -> HParams:
    """Accept an ``HParams``, a dict or nothing, plus keyword overrides."""
    if hparams is None:
        base = HParams()
    elif isinstance(hparams, HParams):
        base = hparams
    elif isinstance(hparams, dict):
        base = HParams.from_dict(hparams)
    else:
        raise ValueError(f"hparams={hparams!r} is not allowed: must be an HParams, a dict or None")
    return base.replace(**overrides) if overrides else base
