"""Widgets to edit a search space: per hyperparameter an include box and a range or a list of choices.

Reading the editor gives a validated ``Space``; a bad row (low >= high, a log range from 0, a value
outside the field's allowed range, an unparsable choice) is reported in words naming the field and
what it allows, and ``space`` becomes ``None`` until it is fixed. Nothing here trains or raises into
the notebook.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
from traitlets import Instance

from ...hparams import FIELDS
from ...space import Choice, Dimension, IntRange, LogUniform, Space, Uniform
from ..base.form import Form
from .format import format_space_error

# The rows offered by default, and whether each is searched: (dimension, included).
DEFAULT_DIMS: dict[str, tuple[Dimension, bool]] = {
    "lr": (LogUniform(1e-4, 1e-1), True),
    "batch_size": (Choice([32, 64, 128]), False),
    "units": (Choice([32, 64, 128]), True),
    "layers": (IntRange(1, 3), True),
    "dropout": (Uniform(0.0, 0.5), True),
    "optimizer": (Choice(["sgd", "adam", "rmsprop"]), False),
    "activation": (Choice(["relu", "gelu", "tanh"]), False),
    "weight_decay": (LogUniform(1e-6, 1e-2), False),
}
KIND_LABELS = {LogUniform: "log range", Uniform: "range", IntRange: "integers", Choice: "choices"}


def parse_choices(name: str, text: str, kind: type | None = None, fields: bool = True) -> list:
    """``"32, 64, 128"`` -> ``[32, 64, 128]``, typed by ``kind`` (default: the field's, with ``fields``;
    else each item as the number, bool or word it reads as); ``ValueError`` naming the field."""
    kind = kind or (FIELDS[name].kind if fields and name in FIELDS else None)
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    if not items:
        raise ValueError(f"{name}: no choices given: list values separated by commas")
    if kind is None:
        return [read_item(item) for item in items]
    values = []
    for item in items:
        try:
            if kind is bool:
                if item.lower() not in ("true", "false"):
                    raise ValueError
                values.append(item.lower() == "true")
            elif kind is int:
                values.append(int(item))
            elif kind is float:
                values.append(float(item))
            else:
                values.append(item.strip("'\""))
        except ValueError:
            noun = {bool: "True or False", int: "an integer", float: "a number"}[kind]
            raise ValueError(f"{name}: choice {item!r} is not {noun}") from None
    return values


def read_item(item: str) -> Any:
    """A choice typed in a box, as the value it reads as: an int, a float, True/False/None, else the word."""
    for convert in (int, float):
        try:
            return convert(item)
        except ValueError:
            pass
    words = {"true": True, "false": False, "none": None}
    return words[item.lower()] if item.lower() in words else item.strip("'\"")


def format_choices(values: Any) -> str:
    return ", ".join(str(v) for v in values)


class DimensionRow(widgets.HBox):
    """One hyperparameter: include it or not, and its range (low, high, grid points) or its choices."""

    def __init__(self, name: str, dim: Dimension, included: bool, fields: bool = True) -> None:
        self.name, self.fields = name, fields  # fields: the built-in trainer's, checked against FIELDS
        self.kind = type(dim)
        self.include = widgets.Checkbox(value=included, description=name.replace("_", " "), indent=False,
                                        layout=widgets.Layout(width="120px"))
        rule = FIELDS.get(name) if fields else None
        self.include.tooltip = f"{name}: {rule.help} ({rule.describe()})" if rule else name
        label = widgets.Label(KIND_LABELS[self.kind], layout=widgets.Layout(width="70px"))
        self.inputs: dict[str, widgets.ValueWidget] = {}
        self.first_values = tuple(dim.values) if isinstance(dim, Choice) else ()
        if self.kind is Choice:
            self.inputs["values"] = widgets.Text(value=format_choices(dim.values), placeholder="a, b, c",
                                                 layout=widgets.Layout(width="290px"))
        else:
            number = widgets.IntText if self.kind is IntRange else (lambda **k: widgets.FloatText(step=None, **k))
            self.inputs["low"] = number(value=dim.low, description="low", layout=widgets.Layout(width="115px"),
                                        style={"description_width": "28px"})
            self.inputs["high"] = number(value=dim.high, description="high", layout=widgets.Layout(width="115px"),
                                         style={"description_width": "32px"})
            if self.kind is IntRange:
                self.step = dim.step
            else:
                self.inputs["n"] = widgets.IntText(value=dim.n, description="grid n",
                                                   style={"description_width": "45px"},
                                                   layout=widgets.Layout(width="115px"))
        super().__init__([self.include, label, *self.inputs.values()])
        self.add_class(f"tw-space-{name}")
        self.include.observe(lambda _c: self._enable(), names="value")
        self._enable()

    def _enable(self) -> None:
        for w in self.inputs.values():
            w.disabled = not self.include.value

    def widgets(self) -> list[widgets.ValueWidget]:
        return [self.include, *self.inputs.values()]

    def dimension(self) -> Dimension:
        """The row's dimension, checked against the field; ``ValueError`` naming the field otherwise."""
        v = {k: w.value for k, w in self.inputs.items()}
        if self.kind is Choice:
            dim: Dimension = Choice(parse_choices(self.name, v["values"], None if self.fields else _kind_of(self),
                                                  self.fields))
        elif self.kind is IntRange:
            dim = IntRange(v["low"], v["high"], self.step)
        else:
            dim = self.kind(v["low"], v["high"], v["n"])
        space = Space(**{self.name: dim})  # the same checks (and words) as tw.sweep(data, space)
        if self.fields:
            space.check_fields()
        return dim

    def set_dimension(self, dim: Dimension, included: bool = True) -> None:
        """Load ``dim`` (of this row's kind) into the inputs."""
        if type(dim) is not self.kind:
            raise ValueError(f"{self.name}: this row edits a {self.kind.__name__}, not a {type(dim).__name__}")
        if isinstance(dim, Choice):
            self.inputs["values"].value = format_choices(dim.values)
        else:
            self.inputs["low"].value, self.inputs["high"].value = dim.low, dim.high
            if "n" in self.inputs:
                self.inputs["n"].value = dim.n
        self.include.value = included


class SpaceEditor(Form):
    """Edit a ``Space``; ``space`` is the validated value or ``None`` (then ``error`` says why).

    Example::

        editor = SpaceEditor(tw.Space(lr=tw.LogUniform(1e-3, 1e-1)))
        editor.rows["dropout"].include.value = True
        editor.space      # Space(lr=LogUniform(...), dropout=Uniform(0.0, 0.5, n=5))
    """

    space = Instance(Space, allow_none=True)
    VALUE_NAME = "space"

    def __init__(self, space: Space | None = None, fields: bool = True, **kwargs: Any) -> None:
        """``fields``: rows of the built-in trainer's fields (defaults offered, each checked against its
        field); False: a training function's, one row per dimension of ``space``, any names."""
        self.fields = fields
        dims = {name: (dim, space is None and included) for name, (dim, included) in DEFAULT_DIMS.items()} \
            if fields else {}
        for name, dim in (space.dims.items() if space is not None else ()):
            dims[name] = (dim, True)  # the given space replaces a default row, or adds one
        self.rows = {name: DimensionRow(name, dim, included, fields) for name, (dim, included) in dims.items()}
        self.summary = widgets.HTML("").add_class("tw-space-summary")
        super().__init__([*self.rows.values(), self.summary], "tw-space-message", **kwargs)
        self.add_class("tw-space-editor")
        for row in self.rows.values():
            for w in row.widgets():
                w.observe(self._on_change, names="value")
        self._on_change()

    def _on_change(self, change: Any = None) -> None:
        dims, errors = {}, []
        for name, row in self.rows.items():
            if not row.include.value:
                continue
            try:
                dims[name] = row.dimension()
            except ValueError as e:
                errors.append(_with_allowed(name, str(e)) if self.fields else format_space_error(name, str(e)))
        if not dims and not errors:
            errors.append("no hyperparameter is included: tick at least one to search over")
        space = Space(**dims) if not errors else None
        self._show(space, errors)
        self.summary.value = (f"{len(space)} hyperparameter(s) searched &middot; grid of {space.grid_size:,} points"
                              if space is not None else "")


def _with_allowed(name: str, message: str) -> str:
    """Name the field and, when the message does not already, the values it allows."""
    text = format_space_error(name, message)
    rule = FIELDS.get(name)
    if rule is not None and rule.describe() not in text:
        text += f" ({name} allows {rule.describe()})"
    return text


def _kind_of(row: DimensionRow) -> type | None:
    """The one type of a training function's choices as first given (``hidden=[32, 64]``: int), so
    edited choices keep it; None when they mix types."""
    kinds = {type(v) for v in row.first_values}
    return kinds.pop() if len(kinds) == 1 and kinds <= {int, float, bool, str} else None
