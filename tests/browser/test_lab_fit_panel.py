"""End to end: a TrainPanel over a training function written in a notebook cell, in JupyterLab, driven by
clicks in headless Chromium: its controls come from the space, Start trains it, a slider moved in the
page reaches the function's optimizer, Stop ends its loop, and Find LR says why it is off.
"""

import time

import pytest
from helpers.browser import BOKEH_ROWS_JS, jupyter_lab
from helpers.waiting import wait_for

pytestmark = pytest.mark.slow

SETUP = """\
import torch
from torch import nn
torch.set_num_threads(1)  # the CI machine is shared with other test processes: no oversubscription
import tunewidgets as tw
from sklearn.datasets import load_digits

X, y = (torch.tensor(a) for a in load_digits(return_X_y=True))
X = X.float() / 16

def fit(p, report):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, p.hidden), nn.ReLU(), nn.Dropout(p.dropout), nn.Linear(p.hidden, 10))
    opt = torch.optim.SGD(model.parameters(), lr=p.lr, momentum=0.9)
    report.watch(opt, model)
    for epoch in range(p.epochs):
        for xb, yb in zip(X[:1400].split(64), y[:1400].split(64)):
            loss = nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad(); loss.backward(); opt.step()
            report.batch(loss=loss)
        model.eval(); out = model(X[1400:]).detach(); model.train()
        report.epoch(loss=loss, val_loss=nn.functional.cross_entropy(out, y[1400:]),
                     val_accuracy=(out.argmax(1) == y[1400:]).float().mean(), optimizer_lr=opt.param_groups[0]["lr"])

space = tw.Space(lr=tw.LogUniform(1e-3, 0.3), hidden=[32, 64, 128], dropout=tw.Uniform(0.0, 0.5))
panel = tw.TrainPanel(fit, space, base={"lr": 0.01, "epochs": 5000}, metric="val_accuracy")
panel"""


def test_a_training_function_panel_in_jupyterlab(tmp_path):
    started = time.monotonic()
    with jupyter_lab(tmp_path) as lab:
        page = lab.page
        lab.write_notebook("fit_panel.ipynb", [SETUP])
        lab.open_notebook("fit_panel.ipynb")
        lab.run_cell(0)
        page.wait_for_selector(".tw-train-panel .tw-start", state="attached", timeout=30_000)
        page.wait_for_selector(".bk-Figure", state="attached", timeout=30_000)
        for name in ("lr", "hidden", "dropout"):  # a control per dimension of the space
            page.wait_for_selector(f".tw-field-{name}", state="attached", timeout=10_000)
        assert "fixed: epochs=5000" in page.inner_text(".tw-fixed-values")
        assert page.is_disabled(".tw-find-lr") and page.is_disabled(".tw-continue")
        assert "need the built-in trainer" in page.inner_text(".tw-built-in-only")

        def wait_rows(predicate, name="tw-epochs-0", column="epoch", timeout=30):
            page.wait_for_function(f"(args) => ({BOKEH_ROWS_JS})(args).every(n => {predicate})",
                                   arg=[name, column], timeout=timeout * 1000, polling=100)

        page.click(".tw-start")
        wait_rows("n >= 3")

        # The lr slider moved in the page: the function's optimizer takes the new rate, the plots mark it
        handle = page.locator(".tw-field-lr .noUi-handle").first
        handle.focus()
        for _ in range(4):
            handle.press("ArrowRight")
        wait_rows("n >= 1", name="tw-knobs", column="x", timeout=20)
        assert wait_for(lambda: lab.kernel_json("bool(panel.run.history['optimizer_lr'].iloc[-1] > 0.0101)"), 30,
                        interval=0.3), "the moved slider never reached the function's optimizer"
        lr, marks = lab.kernel_json("[panel.run.hparams['lr'], panel.curves.knobs.data['label']]")
        assert lr > 0.01 and marks and marks[-1].startswith("lr ")

        # Stop in the page ends the function's loop in the kernel
        page.click(".tw-stop")
        page.wait_for_function("() => document.querySelector('.tw-status').textContent.includes('stopped')",
                               timeout=20_000, polling=100)
        status, epochs, rows, best = lab.kernel_json(
            "[panel.run.status, panel.run.epochs_done, panel.curves.rows(panel.run.id), panel.run.best_metric]")
        assert status == "stopped" and 3 <= epochs < 5000 and rows == epochs
        assert best > 0.9, f"validation accuracy {best} on digits"
        wait_rows(f"n === {epochs}", timeout=10)  # the page holds exactly what Python holds
        print(f"fit panel in JupyterLab: {epochs} epochs, best {best:.3f} ({time.monotonic() - started:.1f} s)")
