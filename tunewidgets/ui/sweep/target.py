"""What a SweepPanel sweeps when it is given a training function of yours instead of a ``tw.Data``.

Its base values, its objective (any name it reports, with a direction), the settings that do not
apply to it (the batched executor, epochs per trial when it has no ``epochs`` value, the LR finder),
and how the settings become ``tw.sweep``'s arguments.
"""

from __future__ import annotations

from typing import Any, Callable

import ipywidgets as widgets

from ...engine.fit.trainer import check_fit
from ...engine.fit.params import plain_values
from ...objective import Objective
from ...space import Space
from ...sweeps.fit_trial import ONLY_BUILT_IN


class SweptFunction:
    """A training function's sweep settings: ``base`` values, ``metric`` and ``direction``."""

    def __init__(self, fit: Callable, space: Space | None, base: Any, metric: str | None, direction: str | None,
                 executor: str) -> None:
        self.fit, self.base = check_fit(fit), plain_values(base)
        objective = Objective.named(metric or "val_loss", direction)
        self.metric, self.direction = objective.metric, objective.direction
        if executor == "batched":
            raise ValueError(ONLY_BUILT_IN)
        if space is None or not len(space):
            raise ValueError(f"space={space!r} is not allowed: a sweep panel of a training function needs a "
                             f"tw.Space of the values to search, e.g. tw.Space(lr=tw.LogUniform(1e-4, 1e-1))")

    @property
    def epochs(self) -> int:
        """The epochs-per-trial box's first value."""
        return self.base.get("epochs", 10)

    def adapt(self, settings: dict[str, widgets.ValueWidget], lr_range: widgets.Button) -> None:
        """Leave out the settings a training function has no use for (a population is judged every
        interval epochs of ``p.epochs``: without an epochs value there is none)."""
        unused = [("executor", "batched")] + ([] if "epochs" in self.base else [("strategy", "pbt")])
        for key, built_in_only in unused:
            box = settings[key]
            chosen = box.value
            box.options = [o for o in box.options if (o[1] if isinstance(o, tuple) else o) != built_in_only]
            box.value = chosen  # changing the options moved it to the first
        if "epochs" not in self.base:  # the function counts its own epochs
            settings["epochs"].layout.display = "none"
        lr_range.tooltip = "the LR finder needs the built-in trainer: give lr a LogUniform range in the space"

    def arguments(self, s: dict[str, Any]) -> dict[str, Any]:
        """``tw.sweep``'s base and objectives from the settings ``s``: the metric keeps its direction;
        epochs per trial go into ``base`` only when the function has an ``epochs`` value."""
        base = {**self.base, "epochs": s["epochs"]} if "epochs" in self.base else self.base
        objectives = list(s["objectives"]) or None
        if objectives is None:
            return {"base": base, "metric": self.metric, "direction": self.direction}
        return {"base": base, "objectives": [(o, self.direction if o == self.metric else None) for o in objectives]}
