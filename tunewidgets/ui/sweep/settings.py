"""SweepSettings: how a sweep runs (strategy, trials, pruner, executor, epochs per trial, what it
optimizes) as one form.

Its ``value`` is the keyword arguments the SweepPanel passes to ``tw.sweep`` (epochs go into the
base hyperparameters), checked as the user types; a bad number disables Launch with a message.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from ...hparams import check_field
from ...guards import count_problem
from ...sweeps.executors import EXECUTORS
from ...sweeps.launch import pruner_conflict
from ...sweeps.strategies import PRUNERS as PRUNER_NAMES, STRATEGY_LABELS
from ..base.form import Form

STRATEGIES = tuple((label, name) for name, label in STRATEGY_LABELS.items()) + (("pbt (population)", "pbt"),)
PRUNERS = tuple(name or "none" for name in PRUNER_NAMES)  # "none": a Dropdown reads None as no selection
def setting() -> dict[str, Any]:
    """A box's style and a layout of its own (a shared Layout would hide every box that one hides)."""
    return {"style": {"description_width": "90px"}, "layout": widgets.Layout(width="230px")}


def settings_errors(n_trials: Any, epochs: Any, objectives: tuple = (), pruner: Any = None,
                    interval: Any = None) -> list[str]:
    """What is wrong with the settings, in the words of the boxes (``interval`` only for strategy pbt)."""
    errors = []
    conflict = pruner_conflict(list(objectives), pruner)
    if conflict:
        errors.append(f"{conflict}: choose pruner none")
    problem = count_problem("trials" if interval is None else "population", n_trials, low=1 if interval is None else 2)
    if problem:
        errors.append(problem)
    try:
        check_field("epochs", epochs)
    except ValueError as e:
        errors.append(str(e))
    if interval is not None:
        if len(objectives) > 1:
            errors.append("strategy pbt ranks the members by one metric: optimize the metric alone")
        problem = count_problem("interval", interval, hint="epochs between exploits")
        if problem:
            errors.append(problem)
        elif isinstance(epochs, int) and interval >= epochs:
            errors.append(f"interval={interval} must be less than epochs/trial={epochs}, or no member ever takes "
                          f"another's weights")
    return errors


class SweepSettings(Form):
    """The settings row; ``value`` is ``{strategy, n_trials, pruner, executor, epochs, objectives}`` or None
    (``objectives``: empty for the metric alone, else the names optimized together).

    ``fields`` holds the widgets by key (``pruner`` reads "none" in its box and None in ``value``).
    """

    def __init__(self, strategy: str = "random", n_trials: int = 20, pruner: str | None = None,
                 executor: str = "thread", epochs: int = 10, metric: str = "val_accuracy",
                 objectives: tuple[str, ...] = (), **kwargs: Any) -> None:
        self.metric = metric
        # one objective (the metric), or the metric against the model's size or the training time
        choices = [(metric, ())] + [(f"{metric} vs {other}", (metric, other)) for other in ("params", "seconds")]
        if objectives and tuple(objectives) not in [v for _, v in choices]:
            choices.append((" vs ".join(objectives), tuple(objectives)))
        self.fields: dict[str, widgets.ValueWidget] = {
            "strategy": widgets.Dropdown(options=STRATEGIES, value=strategy, description="strategy", **setting()),
            "n_trials": widgets.IntText(value=n_trials, description="trials", **setting()),
            "pruner": widgets.Dropdown(options=PRUNERS, value=pruner or "none", description="pruner", **setting()),
            "executor": widgets.Dropdown(options=EXECUTORS, value=executor, description="executor", **setting()),
            "epochs": widgets.IntText(value=epochs, description="epochs/trial", **setting()),
            # strategy pbt: trials are the population, trained as one batched group with no pruner
            "interval": widgets.IntText(value=4, description="interval", tooltip="epochs between exploits",
                                        **setting()),
            "objectives": widgets.Dropdown(options=choices, value=tuple(objectives), description="optimize",
                                           **setting()),
        }
        for key, w in self.fields.items():
            w.add_class(f"tw-sweep-{key.replace('_', '-')}")
        row = widgets.HBox(list(self.fields.values()), layout=widgets.Layout(flex_flow="row wrap"))
        super().__init__([row], "tw-sweep-settings-message", **kwargs)
        for w in self.fields.values():
            w.observe(self._on_change, names="value")
        self._on_change()

    def _on_change(self, change: Any = None) -> None:
        population = self._show_population_boxes()
        values = {key: w.value for key, w in self.fields.items()}
        values["pruner"] = None if values["pruner"] == "none" else values["pruner"]
        if not population:
            del values["interval"]
        self._show(values, settings_errors(values["n_trials"], values["epochs"],
                                           values["objectives"] or (self.metric,), values["pruner"],
                                           values.get("interval")))

    def _show_population_boxes(self) -> bool:
        """Strategy pbt: trials read population, an interval box shows, and the population trains as one
        batched group (a training function's: as runs that take turns) with no pruner (those boxes are set
        so and locked). Whether pbt is chosen."""
        f = self.fields
        population = f["strategy"].value == "pbt"
        f["interval"].layout.display = None if population else "none"
        f["n_trials"].description = "population" if population else "trials"
        saved = getattr(self, "_before_population", None)  # what the user had chosen, given back on leaving pbt
        if population and saved is None:
            self._before_population = {key: f[key].value for key in ("executor", "pruner")}
        elif not population and saved is not None:
            self._before_population = None
            for key, value in saved.items():
                f[key].value = value
        in_kernel = "batched" if "batched" in f["executor"].options else "thread"  # a fit's members take turns
        for key, locked in (("executor", in_kernel), ("pruner", "none")):
            if population and locked in f[key].options:
                f[key].value = locked
            f[key].disabled = population
        return population
