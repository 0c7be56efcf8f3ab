"""The ``[project]`` table of pyproject.toml, for the tests that check what the set-up promises."""

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI (a test extra there)
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]


def project_table() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
