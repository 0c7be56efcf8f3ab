"""End to end: a TrainPanel in JupyterLab, driven by clicks in headless Chromium.

Only a browser shows the jupyter_bokeh echo (the page sends every streamed batch back), so the
row counts are compared on both sides here.
"""

import json
import shutil
import time

import pytest
from helpers.browser import BOKEH_ROWS_JS, jupyter_lab
from helpers.waiting import wait_for

pytestmark = pytest.mark.slow

SCREENSHOT = "/tmp/tunewidgets_train_panel.png"

SETUP = """\
import torch
torch.set_num_threads(1)  # the CI machine is shared with other test processes: no oversubscription
import tunewidgets as tw
data = tw.load_dataset("digits")
panel = tw.TrainPanel(data, tw.HParams(lr=3e-3, units=64, epochs=5000, seed=0))
panel"""

ROWS_JS = BOKEH_ROWS_JS


def test_train_panel_in_jupyterlab(tmp_path):
    started = time.monotonic()
    with jupyter_lab(tmp_path) as lab:
        page = lab.page
        lab.write_notebook("panel.ipynb", [SETUP, "panel  # the same panel shown again, later"])
        lab.open_notebook("panel.ipynb")
        lab.run_cell(0)
        page.wait_for_selector(".tw-train-panel .tw-start", state="attached", timeout=30_000)
        page.wait_for_selector(".bk-Figure", state="attached", timeout=30_000)

        def rows(name="tw-epochs-0", column="epoch"):
            return page.evaluate(ROWS_JS, [name, column])

        def wait_rows(predicate, name="tw-epochs-0", column="epoch", timeout=30):
            page.wait_for_function(f"(args) => ({ROWS_JS})(args).every(n => {predicate})", arg=[name, column],
                                   timeout=timeout * 1000, polling=100)

        def wait_status(word, timeout=20):
            page.wait_for_function(f"() => document.querySelector('.tw-status').textContent.includes('{word}')",
                                   timeout=timeout * 1000, polling=100)

        assert rows() and all(n == 0 for n in rows())

        # Start: the curves grow in the page while the run trains
        page.click(".tw-start")
        wait_rows("n >= 3")
        first = min(rows())
        wait_rows(f"n >= {first + 3}")

        # The lr slider moved in the page while it trains: the run takes the new rate, the plots mark it
        handle = page.locator(".tw-field-lr .noUi-handle").first
        handle.focus()
        for _ in range(4):
            handle.press("ArrowRight")
        wait_rows("n >= 1", name="tw-knobs", column="x", timeout=20)
        lr, initial, marks = lab.kernel_json("[panel.run.hparams.lr, panel.run.initial_hparams.lr, "
                                             "panel.curves.knobs.data['label']]")
        assert lr > initial and marks and marks[-1].startswith("lr ")

        # Pause holds the curves; Resume continues them
        page.click(".tw-pause")
        wait_status("paused")
        held = rows()
        time.sleep(0.6)
        assert rows() == held
        assert page.inner_text(".tw-pause").strip() == "Resume"
        page.click(".tw-pause")
        wait_rows(f"n > {max(held)}")

        # Stop in the page stops the run in the kernel
        page.click(".tw-stop")
        wait_status("stopped")
        status, epochs, py_rows, best, echoes = lab.kernel_json(
            "[panel.run.status, panel.run.epochs_done, panel.curves.rows(panel.run.id), panel.run.best_metric,"
            " panel.plots.echoes_ignored]")
        assert status == "stopped"
        assert py_rows == epochs, "the Python-side data must not be doubled by the page's echo"
        assert echoes > 0, "the page echoed streamed rows (the bug the view guards against)"
        wait_rows(f"n === {epochs}", timeout=10)  # the page holds exactly what Python holds
        assert best >= 0.95

        # A second view, displayed after streaming began, starts from the current data
        lab.run_cell(1)
        page.wait_for_function("() => window.Bokeh.index.roots.filter(v => v.model.document).length >= 2",
                               timeout=20_000)
        wait_rows(f"n === {epochs}", timeout=10)

        # Find LR plots the range test and moves the lr slider to the suggestion
        page.click(".tw-find-lr")
        page.wait_for_function("() => document.querySelector('.tw-message').textContent.includes('suggested lr')",
                               timeout=30_000, polling=100)
        wait_rows("n >= 10", name="tw-lr-finder", column="lr")
        slider, suggestion = lab.kernel_json("[panel.controls.fields['lr'].value, panel.lr_chart.marker.location]")
        assert abs(slider - suggestion) <= 1e-9 * suggestion

        # Type the epochs in the page, train to the end with the suggested lr
        lab.type_into(".tw-field-epochs input", "12", "panel.hparams.epochs", 12, enabled=".tw-start")
        page.click(".tw-start")
        wait_status("completed", timeout=60)
        status, epochs, py_rows, best, lr = lab.kernel_json(
            "[panel.run.status, panel.run.epochs_done, panel.curves.rows(panel.run.id), panel.run.best_metric,"
            " panel.run.hparams.lr]")
        assert (status, epochs, py_rows) == ("completed", 12, 12)
        assert lr == suggestion
        assert best >= 0.95, f"validation accuracy {best} on digits"
        wait_rows("n === 12", name="tw-epochs-1", timeout=10)

        # Saved from the page, the notebook stays small: BokehJS reaches the page in widget state, not outputs
        notebook = lab.root / "panel.ipynb"
        page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
        wait_for(lambda: '"outputs": []' not in notebook.read_text().split('"source"')[0], 20, interval=0.2)
        saved = json.loads(notebook.read_text())
        assert any(cell.get("outputs") for cell in saved["cells"]), "the page saved the notebook with its outputs"
        assert notebook.stat().st_size < 1_000_000, f"saved notebook is {notebook.stat().st_size:,} bytes"
        print(f"saved notebook: {notebook.stat().st_size:,} bytes")

        panel = page.locator(".tw-train-panel").first
        panel.scroll_into_view_if_needed()
        shot = tmp_path / "train_panel.png"
        panel.screenshot(path=str(shot))  # the panel alone, as in the README
        assert shot.stat().st_size > 10_000
        shutil.copyfile(shot, SCREENSHOT)
        print(f"screenshot: {shot} and {SCREENSHOT} ({time.monotonic() - started:.1f} s)")
