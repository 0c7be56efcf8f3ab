"""Storage URLs in messages: a password never shown, a database driver's noise taken out.

Every error about a storage (a sweep's Optuna database, a panel's runs file) names the URL the
user gave so they can find it; ``mask_url`` makes that safe for ``postgresql://alice:secret@host``.
"""

from __future__ import annotations

import re
from typing import Any

_PASSWORD = re.compile(r"(://[^:/@\s]*:)([^@\s]*)(@)")
_QUERY_PASSWORD = re.compile(r"([?&]password=)([^&\s]*)()", re.I)  # postgresql://u@h/db?password=...
_NOISE = (re.compile(r"\s*\[SQL:.*", re.S), re.compile(r"\s*\(Background on this error at:[^)]*\)"),
          re.compile(r"\s*\[parameters:.*", re.S))


def mask_url(url: Any) -> str:
    """The URL with its password replaced by ``***`` (other values: their ``repr``-free text)."""
    if not isinstance(url, str):
        return f"<{type(url).__name__}>"
    return _QUERY_PASSWORD.sub(r"\1***", _PASSWORD.sub(r"\1***\3", url))


def password_of(url: Any) -> str | None:
    if not isinstance(url, str):
        return None
    match = _PASSWORD.search(url) or _QUERY_PASSWORD.search(url)
    return match.group(2) if match and match.group(2) else None


def scrub(text: str, url: Any = None) -> str:
    """An error text without SQLAlchemy's noise and without any password (the URL's, or one in a URL)."""
    for pattern in _NOISE:
        text = pattern.sub("", text)
    password = password_of(url)
    if password:
        text = text.replace(password, "***")
    return mask_url(text).strip()
