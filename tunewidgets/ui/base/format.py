"""Pure text formatting for the panels: status lines, ETAs, rates and table cells.

Kept free of widgets and runs so that every string a user reads is unit-tested on its own.
"""

from __future__ import annotations

import math
from typing import Any

from ...hparams import HParams
from ...statuses import Status

SEP = " · "


def format_eta(seconds: float | None) -> str:
    """``0:05``, ``12:30``, ``1:02:03``; ``-:--`` when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "-:--"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_rate(samples_per_sec: float | None) -> str:
    """``41,000 samples/s`` (three significant digits), ``-- samples/s`` when unknown."""
    if samples_per_sec is None or not math.isfinite(samples_per_sec) or samples_per_sec < 0:
        return "-- samples/s"
    if samples_per_sec >= 100:
        digits = int(math.floor(math.log10(samples_per_sec))) - 2
        return f"{int(round(samples_per_sec, -digits)):,} samples/s"
    return f"{samples_per_sec:.3g} samples/s"


def format_status(device: str, status: str, epoch: int, epochs: int | None, samples_per_sec: float | None,
                  eta_seconds: float | None) -> str:
    """The panel's status line, e.g. ``cpu (2 threads) · epoch 3/20 · 41,000 samples/s · ETA 0:05``.

    A status other than 'running' (paused, stopped, failed, ...) is shown instead of the ETA.
    """
    parts = [device or "device ?", f"epoch {epoch}/{epochs}" if epochs is not None else f"epoch {epoch}",
             format_rate(samples_per_sec)]
    parts.append(f"ETA {format_eta(eta_seconds)}" if status == Status.RUNNING else status)
    return SEP.join(parts)


def format_duration(seconds: float | None) -> str:
    """Elapsed time for a table cell: ``0.04 s``, ``0.4 s``, ``12 s``, ``3:05``."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return ""
    if seconds < 0.095:
        return f"{seconds:.2f} s"  # a tiny trial is not "0.0 s"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    return format_eta(seconds)


def format_value(value: Any) -> str:
    """A hyperparameter or metric in a table cell: short floats, names of callables, NaN as blank."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        return f"{value:.3g}" if value != 0 else "0"
    if callable(value):
        return getattr(value, "__name__", "custom")
    return str(value)


def format_lr_suggestion(suggestion: float, lr_min: float, stopped_early: bool) -> str:
    """The message after a learning-rate range test."""
    if not math.isfinite(suggestion):
        return "Find LR: no usable loss values (the loss was NaN from the start)"
    note = "; stopped when the loss exploded" if stopped_early else ""
    return f"Find LR: suggested lr {suggestion:.2e} (steepest descent; min loss at {lr_min:.2e}{note})"


# What the run table always names, then any other field that differs from its default.
SUMMARY_FIELDS = ("lr", "batch_size", "epochs", "model", "optimizer", "seed")
SUMMARY_NAMES = {"batch_size": "batch", "weight_decay": "L2", "l1": "L1", "early_stopping": "early stop"}
HPARAM_DEFAULTS = HParams().to_dict()


def hparams_summary(hparams: dict[str, Any]) -> str:
    """A run's hyperparameters in one short line: ``lr 0.003 · batch 64 · epochs 20 · mlp 2x128 · adam ·
    seed 0``, then the fields that differ from their defaults (``dropout 0.2``, ``schedule cosine``)."""
    if "model" not in hparams or not set(hparams) <= set(HPARAM_DEFAULTS):  # a training function's values
        return SEP.join(f"{name.replace('_', ' ')} {format_value(value)}" for name, value in hparams.items())
    parts = []
    for name in SUMMARY_FIELDS:
        value = hparams.get(name, HPARAM_DEFAULTS[name])
        if name == "model":
            layers, units = (hparams.get(k, HPARAM_DEFAULTS[k]) for k in ("layers", "units"))
            parts.append(f"{format_value(value)} {layers}x{units}")
        elif name == "optimizer":
            parts.append(format_value(value))
        else:
            parts.append(f"{SUMMARY_NAMES.get(name, name)} {format_value(value)}")
    for name, default in HPARAM_DEFAULTS.items():
        if name in SUMMARY_FIELDS or name in ("layers", "units") or name not in hparams:
            continue
        if hparams[name] != default:
            parts.append(f"{SUMMARY_NAMES.get(name, name.replace('_', ' '))} {format_value(hparams[name])}")
    return SEP.join(parts)


def history_header(metric: str) -> list[str]:
    """Column titles of the run-history table."""
    return ["run", "status", f"best {metric}", "time", "hyperparameters"]


def history_cells(name: str, status: str, best: float, seconds: float | None, hparams: dict[str, Any],
                  origin: str = "") -> list[str]:
    """One row of the run-history table, in the order of ``history_header``; ``origin`` (a fork's
    ``from run 1 @ 20``) leads the hyperparameters."""
    best_text = f"{best:.4f}" if isinstance(best, float) and math.isfinite(best) else ""
    summary = hparams_summary(hparams)
    return [name, status, best_text, format_duration(seconds), f"{origin}{SEP}{summary}" if origin else summary]


def format_changes(changes: dict[str, Any]) -> str:
    """Live knob changes in words: ``lr 0.01, dropout 0.3``."""
    return ", ".join(f"{SUMMARY_NAMES.get(k, k.replace('_', ' '))} {format_value(v)}" for k, v in changes.items())
