"""A widget for each hyperparameter, built from ``FIELDS``; reading them gives a validated HParams.

Text boxes do not clamp silently: a value outside a field's range, or a combination the data
rules out (a batch larger than the training set, a CNN on flat features), is reported in words
with the field's allowed range, and ``hparams`` becomes ``None`` until it is fixed.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any, Callable

import ipywidgets as widgets
from traitlets import Instance

from ...engine.builtin.checks import check_against_data
from ...engine.builtin.data import Data
from ...hparams import ACTIVATIONS, FIELDS, MODELS, OPTIMIZERS, SCHEDULES, HParams, as_hparams, check_field
from ..base.form import Form

BATCH_SIZES = tuple(2 ** k for k in range(0, 17))
LR_EXPONENTS = (-6.0, 1.0)  # the slider's range, 1e-6 .. 10 (widened when a value outside is loaded)
LABELS = {"lr": "learning rate", "batch_size": "batch size", "weight_decay": "weight decay",
          "l1": "L1", "step_size": "step size", "early_stopping": "early stop", "model": "model kind"}
STYLE = {"description_width": "110px"}
LAYOUT = {"width": "270px"}
GRID = {"grid_template_columns": "repeat(3, 280px)", "grid_gap": "2px 8px"}  # the controls, three a row


def _devices() -> list[str]:
    import torch

    options = ["auto", "cpu"]
    if torch.cuda.is_available():
        options += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    backend = getattr(torch.backends, "mps", None)
    if backend is not None and backend.is_available():
        options.append("mps")
    return options


def _widget_makers() -> dict[str, Callable[[], widgets.ValueWidget]]:
    """One factory per field shown; fields absent here (amp) keep the value last loaded."""
    text_int = lambda: widgets.IntText()  # noqa: E731 - a table of small factories
    text_float = lambda: widgets.FloatText(step=None)  # noqa: E731
    return {
        "lr": lambda: widgets.FloatLogSlider(base=10, min=LR_EXPONENTS[0], max=LR_EXPONENTS[1], step=0.05,
                                             readout_format=".2e", continuous_update=False),
        "batch_size": lambda: widgets.Dropdown(options=BATCH_SIZES),
        "epochs": text_int,
        "model": lambda: widgets.Dropdown(options=MODELS),
        "layers": text_int,
        "units": text_int,
        "dropout": lambda: widgets.FloatSlider(min=0.0, max=0.95, step=0.05, readout_format=".2f",
                                               continuous_update=False),
        "activation": lambda: widgets.Dropdown(options=ACTIVATIONS),
        "optimizer": lambda: widgets.Dropdown(options=OPTIMIZERS),
        "momentum": text_float,
        "weight_decay": text_float,
        "l1": text_float,
        "schedule": lambda: widgets.Dropdown(options=SCHEDULES),
        "step_size": text_int,
        "gamma": text_float,
        "early_stopping": text_int,
        "seed": text_int,
        "device": lambda: widgets.Dropdown(options=_devices()),
    }


def validate(values: dict[str, Any], data: Data | None = None) -> tuple[HParams | None, list[str]]:
    """``(HParams, [])`` or ``(None, messages)``: every bad field is named with its allowed range."""
    errors = []
    for name, value in values.items():
        try:
            check_field(name, value)
        except ValueError as e:
            errors.append(str(e))
    if errors:
        return None, errors
    try:
        hp = HParams(**values)
        if data is not None:
            check_against_data(hp, data)
    except ValueError as e:
        return None, [str(e)]
    return hp, []


class HParamsControls(Form):
    """Widgets for all hyperparameters; ``hparams`` is the validated value or ``None``.

    Example::

        controls = HParamsControls(tw.HParams(lr=3e-3), data=data)
        controls.fields["units"].value = 256
        controls.hparams.units        # 256
        controls.set_hparams(run.hparams)
    """

    hparams = Instance(HParams, allow_none=True)
    VALUE_NAME = "hparams"

    def __init__(self, hparams: HParams | dict | None = None, data: Data | None = None, **kwargs: Any) -> None:
        self.data = data
        self._base = as_hparams(hparams)
        self._loading = False
        self.locked: set[str] = set()
        self.lock_note = widgets.HTML("").add_class("tw-controls-lock")
        self.fields: dict[str, widgets.ValueWidget] = {}
        for name, make in _widget_makers().items():
            w = make()
            w.description = LABELS.get(name, name.replace("_", " "))
            w.tooltip = f"{name}: {FIELDS[name].help} ({FIELDS[name].describe() if name != 'device' else 'auto, cpu, cuda:N, mps'})"
            w.style = STYLE
            w.layout = widgets.Layout(**LAYOUT)
            w.add_class(f"tw-field-{name}")
            self.fields[name] = w
        grid = widgets.GridBox(list(self.fields.values()),
                               layout=widgets.Layout(**GRID))
        super().__init__([grid, self.lock_note], "tw-controls-message", **kwargs)
        for w in self.fields.values():
            w.observe(self._on_change, names="value")
        self.set_hparams(self._base)

    # ---- reading -----------------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        """The raw values of all fields (those without a widget from the last loaded HParams)."""
        values = self._base.to_dict()
        values.update({name: w.value for name, w in self.fields.items()})
        return values

    def _on_change(self, change: Any = None) -> None:
        if self._loading:
            return
        self._show(*validate(self.values(), self.data))
        self._enable_dependents()

    def _enable_dependents(self) -> None:
        """Grey out fields the current choice does not use (they keep their value), and locked ones."""
        v = {name: w.value for name, w in self.fields.items()}
        unused = {"momentum": v["optimizer"] not in ("momentum", "rmsprop"), "step_size": v["schedule"] != "step",
                  "gamma": v["schedule"] not in ("step", "exponential")}
        for name, w in self.fields.items():
            w.disabled = name in self.locked or unused.get(name, False)

    def lock(self, keep: tuple[str, ...], note: str) -> None:
        """While a run trains: every field but ``keep`` is read-only, and ``note`` says why."""
        self.locked = {name for name in self.fields if name not in keep}
        self.lock_note.value = escape(note)
        self._enable_dependents()

    def unlock(self) -> None:
        self.locked = set()
        self.lock_note.value = ""
        self._enable_dependents()

    # ---- writing -----------------------------------------------------------------------------
    def set_hparams(self, hparams: HParams | dict) -> None:
        """Load ``hparams`` into the widgets (a run's, or a sweep's best); options widen to fit."""
        hp = as_hparams(hparams)
        self._loading = True
        try:
            self._base = hp
            for name, w in self.fields.items():
                value = getattr(hp, name)
                if isinstance(w, widgets.Dropdown):
                    pairs = [o if isinstance(o, tuple) else (str(o), o) for o in w.options]
                    if not any(v is value or v == value for _, v in pairs):
                        pairs.append((getattr(value, "__name__", "custom") if callable(value) else str(value), value))
                        if name == "batch_size":
                            pairs.sort(key=lambda p: p[1])
                        w.options = pairs
                elif isinstance(w, widgets.FloatLogSlider):
                    exponent = math.log10(value)
                    w.min, w.max = min(w.min, math.floor(exponent)), max(w.max, math.ceil(exponent))
                elif isinstance(w, widgets.FloatSlider):
                    w.min, w.max = min(w.min, value), max(w.max, value)
                w.value = value
        finally:
            self._loading = False
        self._on_change()
