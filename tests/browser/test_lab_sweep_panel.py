"""End to end: a SweepPanel linked to a TrainPanel in JupyterLab, driven by clicks in headless Chromium.

Launch in the page runs a small grid sweep in the kernel; the ranked table fills in in the DOM, the
live plot gets every epoch on both sides (not doubled by the page's echo), and Apply best moves the
TrainPanel's controls.
"""

import shutil
import time

import pytest
from helpers.browser import BOKEH_ROWS_WITH_SOURCE_JS, jupyter_lab
from helpers.waiting import wait_for

pytestmark = pytest.mark.slow

SCREENSHOT = "/tmp/tunewidgets_sweep_panel.png"

SETUP = """\
import torch
torch.set_num_threads(1)  # the CI machine is shared with other test processes: no oversubscription
import tunewidgets as tw
data = tw.load_dataset("digits")
train = tw.TrainPanel(data, tw.HParams(lr=5e-3, units=64, layers=1, epochs=3, seed=0))
space = tw.Space(lr=tw.LogUniform(1e-3, 1e-1, n=2), units=tw.Choice([16, 48]))
base = tw.HParams(units=32, layers=1, batch_size=128, epochs=4, seed=0, device="cpu")
sweeper = tw.SweepPanel(data, space, base=base, train_panel=train, strategy="grid", n_trials=4)
sweeper"""

ROWS_JS = BOKEH_ROWS_WITH_SOURCE_JS


def test_sweep_panel_in_jupyterlab(tmp_path):
    started = time.monotonic()
    with jupyter_lab(tmp_path) as lab:
        page = lab.page
        lab.write_notebook("sweep.ipynb", [SETUP, "train"])
        lab.open_notebook("sweep.ipynb")
        lab.run_all()
        page.wait_for_selector(".tw-sweep-panel .tw-launch", state="attached", timeout=30_000)
        page.wait_for_selector(".tw-train-panel .tw-field-units input", state="attached", timeout=30_000)
        page.wait_for_selector(".bk-Figure", state="attached", timeout=30_000)

        def rows(name="tw-sweep-points", column="trial"):
            return page.evaluate(ROWS_JS, [name, column])

        assert rows() and all(n == 0 for n in rows())
        assert page.input_value(".tw-train-panel .tw-field-units input") == "64"

        # Launch in the page: the sweep runs in the kernel, the table fills in with ranked rows
        page.click(".tw-launch")
        page.wait_for_function("() => document.querySelector('.tw-sweep-status').textContent.includes('completed')",
                               timeout=60_000, polling=100)
        page.wait_for_function("() => document.querySelectorAll('.tw-sweep-table .tw-history-row').length === 4",
                               timeout=10_000, polling=100)
        assert sorted(page.locator(".tw-sweep-table .tw-history-row").all_inner_texts()) == [
            f"trial {i}" for i in range(4)]
        table_text = page.inner_text(".tw-sweep-table")
        assert table_text.count("complete") == 4
        assert "4/4 trials" in page.inner_text(".tw-sweep-status")

        # The plot: every epoch of every trial once on the Python side, and the same in the page. The
        # status can read "completed" a pump tick before the last epoch's point is drained into the plot.
        epochs, best_units, best_lr, first_row = lab.kernel_json(
            "[int(sweeper.sweep.table()['epochs_trained'].sum()), sweeper.sweep.best.units,"
            " sweeper.sweep.best.lr, sweeper.table.cells(0)]")
        assert epochs == 16
        wait_for(lambda: lab.kernel_json("sweeper.curves.rows()") >= epochs, timeout=10)
        page.wait_for_function(f"(args) => ({ROWS_JS})(args).every(n => n === {epochs})",
                               arg=["tw-sweep-points", "trial"], timeout=10_000, polling=100)
        py_rows, echoes = lab.kernel_json("[sweeper.curves.rows(), sweeper.plots.echoes_ignored]")
        assert py_rows == epochs, "the Python-side plot data must not be doubled by the page's echo"
        assert echoes > 0, "the page echoed streamed rows (the bug the view guards against)"
        page.wait_for_function(f"(args) => ({ROWS_JS})(args).some(n => n === 4)",
                               arg=["tw-sweep-best", "epoch"], timeout=10_000, polling=100)
        assert first_row[1] == "1" and first_row[0] in table_text

        # The finished-sweep charts came up under the panel
        page.wait_for_function(f"(args) => ({ROWS_JS})(args).some(n => n === 4)",
                               arg=["tw-sweep-parallel-lines", "trial"], timeout=10_000, polling=100)
        page.select_option(".tw-sweep-top select", label="best 25%")  # the figure is replaced in the page
        page.wait_for_function(f"(args) => ({ROWS_JS})(args).some(n => n === 1)",
                               arg=["tw-sweep-parallel-lines", "trial"], timeout=10_000, polling=100)

        # Apply best moves the linked TrainPanel's controls
        page.click(".tw-apply-best")
        page.wait_for_function(
            f"() => document.querySelector('.tw-train-panel .tw-field-units input').value === '{best_units}'",
            timeout=10_000, polling=100)
        assert lab.kernel_json("[train.hparams.units, train.hparams.lr]") == [best_units, best_lr]
        assert "best trial" in page.inner_text(".tw-sweep-message")

        page.set_viewport_size({"width": 1400, "height": 2700})  # the sweep panel and the TrainPanel's controls
        page.locator(".tw-sweep-panel").first.scroll_into_view_if_needed()
        time.sleep(0.5)
        shot = tmp_path / "sweep_panel.png"
        page.locator(".tw-sweep-panel").first.screenshot(path=str(shot))  # the panel alone, as in the README
        assert shot.stat().st_size > 10_000
        shutil.copyfile(shot, SCREENSHOT)
        print(f"screenshot: {shot} and {SCREENSHOT} ({time.monotonic() - started:.1f} s)")

        # A longer sweep, paused and resumed from the page, then stopped
        lab.type_into(".tw-sweep-epochs input", "300", "sweeper.settings['epochs'].value", 300, enabled=".tw-launch")
        page.click(".tw-launch")
        page.wait_for_function(f"(args) => ({ROWS_JS})(args).every(n => n >= 3)", arg=["tw-sweep-points", "trial"],
                               timeout=30_000, polling=100)
        page.click(".tw-sweep-pause")
        page.wait_for_function("() => document.querySelector('.tw-sweep-status').textContent.includes('paused')",
                               timeout=10_000, polling=100)
        assert page.inner_text(".tw-sweep-pause").strip() == "Resume"
        time.sleep(0.5)  # the trial holds at its next batch
        held = lab.kernel_json("sweeper.curves.rows()")
        time.sleep(1.0)
        assert lab.kernel_json("[sweeper.curves.rows(), sweeper.sweep.status]") == [held, "paused"]
        page.click(".tw-sweep-pause")
        page.wait_for_function(f"(args) => ({ROWS_JS})(args).every(n => n > {held})", arg=["tw-sweep-points", "trial"],
                               timeout=30_000, polling=100)
        assert page.inner_text(".tw-sweep-pause").strip() == "Pause"
        page.click(".tw-sweep-stop")
        page.wait_for_function("() => document.querySelector('.tw-sweep-status').textContent.includes('stopped')",
                               timeout=30_000, polling=100)
