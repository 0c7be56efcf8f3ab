"""Binder installs everything the package needs at run time, with a CPU build of torch."""

import re
from pathlib import Path

from helpers.project_table import project_table

ROOT = Path(__file__).resolve().parents[2]


def requirement_name(line: str) -> str:
    return re.split(r"[<>=!~\[; ]", line.strip(), maxsplit=1)[0].lower().replace("_", "-")


def binder_requirements() -> list[str]:
    lines = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    return [line for line in lines if line.strip() and not line.startswith(("#", "-"))]


def test_binder_covers_every_runtime_dependency():
    project = project_table()
    needed = {requirement_name(d) for d in project["dependencies"]}
    needed |= {requirement_name(d) for d in project["optional-dependencies"]["lab"]}
    have = {requirement_name(r) for r in binder_requirements()}
    assert needed <= have, f"binder/requirements.txt misses {sorted(needed - have)}"


def test_binder_takes_torch_from_the_cpu_index_and_installs_the_package():
    text = (ROOT / "binder" / "requirements.txt").read_text()
    assert re.search(r"^--extra-index-url \S+/whl/cpu$", text, re.M)
    post_build = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install --no-deps -e ." in post_build
    assert (ROOT / "binder" / "postBuild").stat().st_mode & 0o111


def test_the_quick_start_notebook_binder_opens_exists():
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"urlpath=lab/tree/(notebooks/[\w.-]+\.ipynb)", readme)
    assert all((ROOT / t).exists() for t in targets)
