"""End to end in Notebook 7 and Voila: the quick start's panel, a run the notebook trained, Start in
the page, and the same rows in Python and in the browser.

Voila runs the whole notebook before its page connects, so the run trained by the notebook has
streamed all its epochs before any view exists: the page must still show them. A small label in the
notebook shows the Python-side row counts, since Voila offers no way to ask the kernel.
"""

import json

import pytest
from helpers.browser import BOKEH_ROWS_JS, jupyter_client

pytestmark = pytest.mark.slow

EPOCHS = 6
CELLS = [
    "import torch\ntorch.set_num_threads(1)  # the CI machine is small: no oversubscription\n"
    "import tunewidgets as tw\ndata = tw.load_dataset('digits')",
    f"panel = tw.TrainPanel(data, tw.HParams(lr=3e-3, units=64, epochs={EPOCHS}, seed=0))\npanel",
    "run = panel.start()\npanel.wait()\nprint(run.status)",
    # Python's side, shown in the page: the row counts of each run's epoch source, refreshed by a thread.
    "import json, threading, time\nimport ipywidgets as widgets\n"
    "probe = widgets.Label('[]')\nprobe.add_class('tw-probe')\n"
    "def follow():\n"
    "    while True:\n"
    "        probe.value = json.dumps([panel.curves.rows(r.id) for r in panel.runs])\n"
    "        time.sleep(0.2)\n"
    "threading.Thread(target=follow, daemon=True).start()\nprobe",
]


def python_rows(page) -> list[int]:
    return json.loads(page.inner_text(".tw-probe").strip() or "[]")


@pytest.mark.parametrize("client", ["notebook", "voila"])
def test_the_quick_start_panel_in_notebook7_and_voila(tmp_path, client):
    with jupyter_client(tmp_path, client) as app:
        page = app.page
        app.write_notebook("quick.ipynb", CELLS)
        app.open_notebook("quick.ipynb", timeout=120)
        if client == "notebook":
            page.evaluate('async () => { await jupyterapp.commands.execute("notebook:run-all-cells"); }')
        page.wait_for_selector(".tw-train-panel .tw-start", state="attached", timeout=120_000)
        page.wait_for_selector(".tw-probe", state="attached", timeout=120_000)

        def wait_rows(predicate, name, timeout=60):
            page.wait_for_function(f"(args) => {{ const n = ({BOKEH_ROWS_JS})(args); "
                                   f"return n.length > 0 && n.every(n => {predicate}); }}",
                                   arg=[name, "epoch"], timeout=timeout * 1000, polling=100)

        # The run the notebook trained before (Voila) or while (Notebook 7) the page connected is drawn
        wait_rows(f"n === {EPOCHS}", "tw-epochs-0")
        page.wait_for_function(f"() => document.querySelector('.tw-probe').textContent === '[{EPOCHS}]'",
                               timeout=30_000)

        # Start in the page trains a second run; its curve grows to the end
        page.click(".tw-start")
        wait_rows("n >= 1", "tw-epochs-1")
        page.wait_for_function("() => document.querySelector('.tw-status').textContent.includes('completed') && "
                               f"document.querySelector('.tw-status').textContent.includes('epoch {EPOCHS}/{EPOCHS}')"
                               " && document.querySelectorAll('.tw-history-row').length === 2",
                               timeout=60_000, polling=100)
        wait_rows(f"n === {EPOCHS}", "tw-epochs-1")
        page.wait_for_function(f"() => document.querySelector('.tw-probe').textContent === '[{EPOCHS}, {EPOCHS}]'",
                               timeout=30_000)
        assert python_rows(page) == [EPOCHS, EPOCHS]  # Python holds exactly what the page holds (no echo)
        page.screenshot(path=str(tmp_path / f"{client}.png"), full_page=True)
