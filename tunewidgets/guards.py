"""The argument guard every layer shares: a count given as a whole number within a range.

One rule and one wording, so every box and argument answers a bad count the same way: the field's name,
the value given, and the range allowed. ``True`` is refused although Python counts it as an ``int``.
"""

from __future__ import annotations

from typing import Any


def count_problem(name: str, value: Any, low: int = 1, high: int | None = None, hint: str = "") -> str | None:
    """Why ``value`` is not an allowed ``name`` (an integer from ``low`` to ``high``), or None when it is.
    ``hint`` follows the range in brackets, e.g. what the count means."""
    if not isinstance(value, bool) and isinstance(value, int) and value >= low and (high is None or value <= high):
        return None
    allowed = f"an integer >= {low}" + (f" and <= {high}" if high is not None else "")
    return f"{name}={value!r} is not allowed: must be {allowed}" + (f" ({hint})" if hint else "")


def require_count(name: str, value: Any, low: int = 1, high: int | None = None, hint: str = "") -> int:
    """``value`` when it is an allowed ``name``; else a ``ValueError`` that names the field and the range."""
    problem = count_problem(name, value, low, high, hint)
    if problem:
        raise ValueError(problem)
    return value
