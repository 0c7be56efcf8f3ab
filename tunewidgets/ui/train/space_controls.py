"""A control per dimension of a space, for a training function of yours: reading them gives its values.

In the spirit of ipywidgets' ``interact``, the kind of each dimension picks its widget: a log slider
for ``LogUniform``, a slider for ``Uniform``, an integer box for ``IntRange``, a dropdown for
``Choice``. Values the space leaves out (``base``) are shown, fixed. A value outside its dimension
is reported in words with the allowed range, and ``hparams`` becomes ``None`` until it is fixed.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

import ipywidgets as widgets
from traitlets import Any as AnyTrait

from ...space import Choice, Dimension, FloatRange, IntRange, Space
from .controls import GRID, LAYOUT, STYLE
from ..base.form import Form
from ..base.format import format_value

SLIDER_STEPS = 100  # a slider's resolution over its range


def first_value(dim: Dimension) -> Any:
    """A control's value when ``base`` gives none: the log-middle of a log range, the middle of a
    range, the first choice."""
    if isinstance(dim, Choice):
        return dim.values[0]
    if isinstance(dim, IntRange):
        grid = dim.grid()
        return grid[(len(grid) - 1) // 2]  # the lower middle of an even count
    if dim.log:
        return math.sqrt(dim.low * dim.high)
    return (dim.low + dim.high) / 2


def control_for(dim: Dimension) -> widgets.ValueWidget:
    """The widget that edits values of ``dim``."""
    if isinstance(dim, Choice):
        return widgets.Dropdown(options=[(format_value(v), v) for v in dim.values])
    if isinstance(dim, IntRange):
        return widgets.BoundedIntText(min=dim.low, max=dim.high, step=dim.step)
    if dim.log:
        low, high = math.log10(dim.low), math.log10(dim.high)
        return widgets.FloatLogSlider(base=10, min=low, max=high, step=(high - low) / SLIDER_STEPS,
                                      readout_format=".2e", continuous_update=False)
    return widgets.FloatSlider(min=dim.low, max=dim.high, step=(dim.high - dim.low) / SLIDER_STEPS,
                               readout_format=".3g", continuous_update=False)


def out_of_range(name: str, dim: Dimension, value: Any) -> str | None:
    """Why ``value`` is not a value of ``dim``, naming the field and its range, or None."""
    if isinstance(dim, Choice):
        return None if value in dim.values else f"{name}={value!r} is not allowed: must be one of {list(dim.values)}"
    if isinstance(dim, IntRange):
        if isinstance(value, int) and dim.low <= value <= dim.high and (value - dim.low) % dim.step == 0:
            return None
        return f"{name}={value!r} is not allowed: must be an integer in {dim.low}..{dim.high} (step {dim.step})"
    if isinstance(dim, FloatRange) and isinstance(value, (int, float)) and dim.low <= value <= dim.high:
        return None
    return f"{name}={value!r} is not allowed: must be a number in {dim.low:g}..{dim.high:g}"


class SpaceControls(Form):
    """Controls for ``space`` over the fixed ``base``; ``hparams`` is a dict of every value, or None.

    Example::

        controls = SpaceControls(tw.Space(lr=tw.LogUniform(1e-4, 1e-1), hidden=[32, 64]), {"epochs": 10})
        controls.fields["hidden"].value = 64
        controls.hparams            # {'epochs': 10, 'lr': 0.00316..., 'hidden': 64}
    """

    hparams = AnyTrait(None, allow_none=True)
    VALUE_NAME = "hparams"

    def __init__(self, space: Space, base: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self.space, self.base = space, dict(base or {})
        self.locked: set[str] = set()
        self.lock_note = widgets.HTML("").add_class("tw-controls-lock")
        self.fields: dict[str, widgets.ValueWidget] = {}
        for name, dim in space.dims.items():
            w = control_for(dim)
            w.description, w.style, w.layout = name.replace("_", " "), STYLE, widgets.Layout(**LAYOUT)
            w.tooltip = f"{name}: {dim!r}"
            w.add_class(f"tw-field-{name}")
            self.fields[name] = w
        self.fixed = widgets.HTML("").add_class("tw-fixed-values")
        grid = widgets.GridBox(list(self.fields.values()), layout=widgets.Layout(**GRID))
        super().__init__([grid, self.fixed, self.lock_note], "tw-controls-message", **kwargs)
        self._loading = False
        for w in self.fields.values():
            w.observe(self._on_change, names="value")
        self.set_hparams({**{n: first_value(d) for n, d in space.dims.items()}, **self.base})

    def values(self) -> dict[str, Any]:
        """Every value: the fixed ones, then the controls'."""
        return {**self.base, **{name: w.value for name, w in self.fields.items()}}

    def _on_change(self, change: Any = None) -> None:
        if self._loading:
            return
        values = self.values()
        errors = [e for name, dim in self.space.dims.items() if (e := out_of_range(name, dim, values[name]))]
        self._show(values, errors)

    def set_hparams(self, values: dict[str, Any]) -> None:
        """Load values into the controls (a run's, a sweep's best, the first ones on Reset); names without
        a control become the fixed values, and a value outside its control's range widens it (it is then
        reported)."""
        self._loading = True
        try:
            self.base = {k: v for k, v in values.items() if k not in self.fields}
            self.fixed.value = ("fixed: " + ", ".join(f"{escape(k)}={escape(format_value(v))}"
                                                      for k, v in self.base.items())) if self.base else ""
            for name, w in self.fields.items():
                if name not in values:
                    continue
                value = values[name]
                if isinstance(w, widgets.FloatLogSlider) and isinstance(value, (int, float)) and value > 0:
                    exponent = math.log10(value)
                    w.min, w.max = min(w.min, exponent), max(w.max, exponent)
                elif isinstance(w, (widgets.FloatSlider, widgets.BoundedIntText)) and isinstance(value, (int, float)):
                    w.min, w.max = min(w.min, value), max(w.max, value)
                elif isinstance(w, widgets.Dropdown) and value not in [v for _, v in w.options]:
                    w.options = [*w.options, (format_value(value), value)]
                w.value = value
        finally:
            self._loading = False
        self._on_change()

    def lock(self, keep: tuple[str, ...], note: str) -> None:
        """While a run trains: every control but ``keep`` is read-only, and ``note`` says why."""
        self.locked = {name for name in self.fields if name not in keep}
        self.lock_note.value = escape(note)
        for name, w in self.fields.items():
            w.disabled = name in self.locked

    def unlock(self) -> None:
        self.lock((*self.fields,), "")
