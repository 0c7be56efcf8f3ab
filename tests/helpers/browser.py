"""A real JupyterLab in headless Chromium, for end-to-end tests of widgets in the page.

``jupyter_lab(tmp_path)`` starts JupyterLab on a free localhost port with its HOME and Jupyter
dirs inside ``tmp_path`` (nothing leaks into the user's home) and BokehJS served inline, opens
Chromium through Playwright's sync API, and always tears down: sessions deleted, server
SIGTERMed, browser closed, even when the test fails. Chromium runs headless as root with
``--no-sandbox`` and without background networking (the test machines have no internet).

Example::

    with jupyter_lab(tmp_path) as lab:
        lab.write_notebook("t.ipynb", ["import tunewidgets as tw", "tw.TrainPanel(data)"])
        lab.open_notebook("t.ipynb")
        lab.run_all()
        lab.page.click("button.jupyter-button:has-text('Start')")
        print(lab.kernel("print(1 + 1)"))   # '2\\n'
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from helpers.waiting import wait_for

CHROMIUM = os.environ.get("TW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
REPO = Path(__file__).resolve().parents[2]

# Runs a cell's worth of code in the notebook's kernel and returns its stdout (and any error).
KERNEL_JS = """async (code) => {
  const kernel = jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const future = kernel.requestExecute({code, silent: false, store_history: false});
  let out = "";
  future.onIOPub = (msg) => {
    const t = msg.header.msg_type;
    if (t === "stream") out += msg.content.text;
    if (t === "error") out += "ERROR " + msg.content.ename + ": " + msg.content.evalue;
  };
  await future.done;
  return out;
}"""


# Row counts of a named ColumnDataSource in every live Bokeh view in the page, -1 where a view has no
# such source (views replaced by a re-render keep an index entry without a document).
BOKEH_ROWS_JS = """([name, column]) => window.Bokeh.index.roots.filter(view => view.model.document).map(view => {
  const source = view.model.document.get_model_by_name(name);
  return source ? source.data[column].length : -1;
})"""
# The same, only for the views that hold the source (e.g. a SweepPanel beside a TrainPanel).
BOKEH_ROWS_WITH_SOURCE_JS = f"(args) => ({BOKEH_ROWS_JS})(args).filter(n => n >= 0)"

def require_chromium() -> str:
    """The Chromium path; skip the test when it is missing, but fail under CI=true."""
    missing = None
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        missing = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "playwright is not installed (pip install playwright; never 'playwright install')"
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(missing)
        pytest.skip(missing)
    return CHROMIUM


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A running Jupyter client (JupyterLab, Notebook 7 or Voila) and a Chromium page on it."""

    def __init__(self, root: Path, url: str, page, client: str = "lab") -> None:
        self.root, self.url, self.page, self.client = root, url, page, client

    def write_notebook(self, name: str, cells: list[str]) -> Path:
        import nbformat

        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        path = self.root / name
        nbformat.write(nb, path)
        return path

    def open_notebook(self, name: str, timeout: float = 60) -> None:
        """Open ``name`` (JupyterLab: in a fresh workspace) and wait until its kernel is ready; in Voila,
        opening the page runs the notebook."""
        path = CLIENTS[self.client][1].format(workspace=uuid.uuid4().hex[:8], name=name)
        self.page.goto(f"{self.url}{path}", timeout=timeout * 1000)
        if self.client == "voila":
            return
        self.page.wait_for_function("() => window.jupyterapp && jupyterapp.shell.currentWidget && "
                                    "jupyterapp.shell.currentWidget.sessionContext", timeout=timeout * 1000)
        self.page.evaluate("async () => { await jupyterapp.shell.currentWidget.sessionContext.ready; }")

    def run_all(self, timeout: float = 60) -> None:
        """Run every cell and wait until the kernel is idle again."""
        self.page.evaluate('async () => { await jupyterapp.commands.execute("notebook:run-all-cells"); }')
        self.wait_idle(timeout)

    def run_cell(self, index: int, timeout: float = 60) -> None:
        """Run one cell (0-based) and wait until the kernel is idle again."""
        self.page.evaluate("""async (i) => {
            const nb = jupyterapp.shell.currentWidget.content;
            nb.activeCellIndex = i;
            await jupyterapp.commands.execute("notebook:run-cell");
        }""", index)
        self.wait_idle(timeout)

    def type_into(self, selector: str, text: str, kernel_expression: str, expected, enabled: str) -> None:
        """Type ``text`` into the box at ``selector`` and press Enter; wait until the button ``enabled``
        is enabled and the kernel's ``kernel_expression`` reads ``expected``."""
        box = self.page.locator(selector).first
        box.fill(text)
        box.press("Enter")
        self.page.wait_for_function(f"() => !document.querySelector('{enabled}').disabled", timeout=10_000)
        wait_for(lambda: self.kernel_json(kernel_expression) == expected, 10, interval=0.1)

    def wait_idle(self, timeout: float = 60) -> None:
        self.page.wait_for_function(
            "() => jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'",
            timeout=timeout * 1000, polling=100)

    def kernel(self, code: str) -> str:
        """Execute ``code`` in the notebook's kernel; return what it printed."""
        out = self.page.evaluate(KERNEL_JS, code)
        if "ERROR " in out:
            raise AssertionError(f"kernel code failed: {out}")
        return out

    def kernel_json(self, expression: str):
        """Evaluate a Python expression in the kernel and return it through JSON."""
        return json.loads(self.kernel(f"import json as _j; print(_j.dumps({expression}))"))

    def _api(self, method: str, path: str):
        xsrf = next((c["value"] for c in self.page.context.cookies() if c["name"] == "_xsrf"), "")
        return self.page.request.fetch(f"{self.url}{path}", method=method, headers={"X-XSRFToken": xsrf})

    def delete_sessions(self) -> None:
        response = self._api("GET", "/api/sessions")
        for session in response.json() if response.ok else []:
            self._api("DELETE", f"/api/sessions/{session['id']}")


# How each client starts, and the page a notebook opens in (``{name}``: the notebook's file name).
CLIENTS = {
    "lab": (["-m", "jupyterlab", "--LabApp.expose_app_in_browser=True"], "/lab/workspaces/{workspace}/tree/{name}?reset"),
    "notebook": (["-m", "notebook", "--JupyterNotebookApp.expose_app_in_browser=True"], "/notebooks/{name}"),
    "voila": (["-m", "voila", "--Voila.ip=127.0.0.1", "--show_tracebacks=True"], "/voila/render/{name}"),
}


@contextlib.contextmanager
def jupyter_lab(tmp_path: Path, startup_timeout: float = 60) -> Iterator[Lab]:
    """Start JupyterLab and Chromium in ``tmp_path``; tear everything down on exit."""
    with jupyter_client(tmp_path, "lab", startup_timeout) as lab:
        yield lab


@contextlib.contextmanager
def jupyter_client(tmp_path: Path, client: str, startup_timeout: float = 60) -> Iterator[Lab]:
    """Start a Jupyter client's server ("lab", "notebook" or "voila") over ``tmp_path/notebooks`` and
    Chromium; tear everything down on exit. Voila serves the folder and runs a notebook when its page
    is opened (``lab.open_page(name)``)."""
    chromium = require_chromium()
    from playwright.sync_api import sync_playwright

    dirs = {k: tmp_path / k for k in ("home", "config", "data", "runtime", "ipython", "settings", "workspaces",
                                      "notebooks")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    notify = dirs["settings"] / "@jupyterlab" / "apputils-extension"
    notify.mkdir(parents=True)
    (notify / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = {**os.environ, "HOME": str(dirs["home"]), "JUPYTER_CONFIG_DIR": str(dirs["config"]),
           "JUPYTER_DATA_DIR": str(dirs["data"]), "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
           "IPYTHONDIR": str(dirs["ipython"]), "BOKEH_RESOURCES": "inline",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args, _ = CLIENTS[client]
    common = ["--no-browser", "--port", str(port), "--ServerApp.token=", "--ServerApp.password=",
              f"--ServerApp.root_dir={dirs['notebooks']}"]
    if client == "voila":
        common = ["--no-browser", f"--port={port}", "--ServerApp.token=", str(dirs["notebooks"])]
    else:
        common += ["--allow-root", "--ip", "127.0.0.1", f"--LabApp.user_settings_dir={dirs['settings']}",
                   f"--LabApp.workspaces_dir={dirs['workspaces']}"]
    log_path = tmp_path / f"{client}.log"
    log = open(log_path, "w")
    server = subprocess.Popen([sys.executable, *args, *common], env=env, cwd=dirs["notebooks"], stdout=log,
                              stderr=subprocess.STDOUT)
    playwright = browser = lab = None
    try:
        _wait_for_server(url, server, startup_timeout, log_path, "/" if client == "voila" else "/api/status")
        playwright = sync_playwright().start()
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        lab = Lab(dirs["notebooks"], url, page, client)
        yield lab
    finally:
        if lab is not None and client != "voila":
            with contextlib.suppress(Exception):
                lab.delete_sessions()
        if browser is not None:
            with contextlib.suppress(Exception):
                browser.close()
        if playwright is not None:
            with contextlib.suppress(Exception):
                playwright.stop()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
        log.close()


def _wait_for_server(url: str, server: subprocess.Popen, timeout: float, log: Path, probe: str) -> None:
    def answers() -> bool:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}{probe}", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    if not wait_for(answers, timeout, interval=0.2):
        raise RuntimeError(f"the server did not answer within {timeout} s:\n{log.read_text()[-3000:]}")
