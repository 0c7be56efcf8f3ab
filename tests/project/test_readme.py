"""What the README shows must run: its Python example, its links and its commands."""

import re
from pathlib import Path

import pytest

from helpers.project_table import project_table

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_the_readme_example_runs_and_finds_a_good_model():
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert blocks, "the README shows no Python example"
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    sweep, panel = namespace["sweep"], namespace["panel"]
    table = sweep.table()
    assert len(table) == 20 and table["rank"].iloc[0] == 1
    assert sweep.best_value > 0.9
    assert panel.hparams.lr == sweep.best.lr and panel.hparams.units == sweep.best.units
    run = namespace["run"]  # a training function of the user's
    assert run.status == "completed" and run.best_metric > 0.9, run.traceback
    assert run.history["lr"].iloc[-1] == 2e-3 and run.epochs_done == 30
    fit_sweep = namespace["fit_sweep"]  # the same function swept
    assert len(fit_sweep.table()) == 6 and fit_sweep.best_value > 0.9
    assert set(fit_sweep.best) == {"lr", "hidden", "dropout", "batch_size", "epochs"}
    fit_panel = namespace["fit_panel"]  # its controls come from the space
    assert list(fit_panel.controls.fields) == ["lr", "hidden", "dropout"]
    assert fit_panel.buttons["find_lr"].disabled and namespace["fit_sweep_panel"].train_panel is fit_panel
    lightning_run, hf_run = namespace["lightning_run"], namespace["hf_run"]  # the libraries' trainers
    assert lightning_run.status == "completed" and len(lightning_run.history) == 8, lightning_run.traceback
    assert lightning_run.history["val_loss"].iloc[-1] < 0.5 * lightning_run.history["val_loss"].iloc[0]
    assert "train_loss" in lightning_run.history
    assert hf_run.status == "completed" and len(hf_run.history) == 8, hf_run.traceback
    assert hf_run.history["val_loss"].iloc[-1] < 0.6 * hf_run.history["val_loss"].iloc[0]
    pbt = namespace["pbt"]  # population-based training
    table = pbt.table()
    assert len(table) == 8 and table["exploits"].sum() == 4 and pbt.best_value < 0.3
    assert {"lr", "weight_decay"} <= set(pbt.runs[0])
    fit_pbt = namespace["fit_pbt"]  # a training function's population
    assert len(fit_pbt.table()) == 8 and fit_pbt.table()["exploits"].sum() == 4 and fit_pbt.best_value > 0.9
    assert namespace["fit_replay"].status == "completed" and len(namespace["fit_replay"].history) == 9
    replay = namespace["replay"]
    assert replay.status == "completed" and replay.history["val_loss"].min() == pytest.approx(pbt.best_value, rel=0.01)


def test_every_local_link_and_image_exists():
    for target in re.findall(r"\]\(((?!https?://)[^)#]+)\)", README):
        assert (ROOT / target).exists(), f"README links to a missing file: {target}"


def test_the_set_up_commands_name_real_extras_and_notebooks():
    extras = project_table()["optional-dependencies"]
    assert 'pip install -e ".[test]" && pytest' in README
    for extra in re.findall(r'pip install -e "\.\[(\w+)\]"', README):
        assert extra in extras
    for notebook in re.findall(r"jupyter lab (\S+\.ipynb)", README):
        assert (ROOT / notebook).exists()
