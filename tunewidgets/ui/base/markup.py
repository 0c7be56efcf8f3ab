"""The HTML the panels and forms show for messages: one look for errors, and every text escaped.

Messages quote user input (a field's value, an exception's text); ``html.escape`` keeps a ``<`` in
them from becoming markup in the page.
"""

from __future__ import annotations

from html import escape

ERROR_STYLE = "color:#c62828"


def error_html(text: str) -> str:
    """One error, inline: a warning sign and the escaped text in red."""
    return f"<span style='{ERROR_STYLE}'>&#9888; {escape(text)}</span>"


def error_lines(errors: list[str]) -> str:
    """Several errors, one line each; empty when there are none."""
    return "".join(f"<div style='{ERROR_STYLE}'>&#9888; {escape(e)}</div>" for e in errors)

