"""Form: a box of inputs that reads as one validated value, or None and the reasons why.

The hyperparameter controls, the space editor and the sweep settings all work this way: any
change re-validates everything, a bad input is reported in words under the inputs (never raised
into the notebook), and whoever holds the form watches ``valid`` to enable its buttons.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
from traitlets import Any as AnyTrait
from traitlets import Bool, Unicode, link

from .markup import error_lines


class Form(widgets.VBox):
    """``value`` is the validated object or None; ``error`` says why (one line per problem).

    A subclass names its value (``VALUE_NAME = "hparams"`` with an ``hparams`` trait): that trait
    stays linked to ``value``. It validates in its own way and reports with ``_show(value, errors)``.
    """

    value = AnyTrait(None, allow_none=True)
    error = Unicode("")
    valid = Bool(True)
    VALUE_NAME: str | None = None

    def __init__(self, inputs: list[widgets.Widget], message_class: str, **kwargs: Any) -> None:
        self.message = widgets.HTML("", layout=widgets.Layout(min_height="1.2em")).add_class(message_class)
        super().__init__(children=[*inputs, self.message], **kwargs)
        if self.VALUE_NAME is not None:
            link((self, "value"), (self, self.VALUE_NAME))

    def _show(self, value: Any, errors: list[str]) -> None:
        """Publish a validation: ``error`` and ``value`` first, then ``valid`` (its watchers read both)."""
        self.error = "\n".join(errors)
        self.value = None if errors else value
        self.valid = not errors
        self.message.value = error_lines(errors)

    def set_value(self, name: str, value: Any) -> None:
        """Set one input by name, as a person would (a subclass keeps its inputs in ``fields``);
        ``KeyError`` names the inputs."""
        fields = getattr(self, "fields", {})
        if name not in fields:
            raise KeyError(f"{name!r} has no control: controls are {sorted(fields)}")
        fields[name].value = value

    def checked(self) -> Any:
        """The validated value; ``ValueError`` with the form's error otherwise."""
        if self.value is None:
            raise ValueError(self.error)
        return self.value
