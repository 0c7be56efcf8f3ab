"""The engine and sweep layers stay free of widget and plotting libraries."""

import subprocess
import sys


def test_engine_and_sweep_do_not_import_widgets_or_bokeh():
    code = ("import sys, tunewidgets.engine, tunewidgets.sweep, tunewidgets.space\n"
            "bad = sorted(m for m in ('ipywidgets', 'bokeh', 'jupyter_bokeh', 'dask', 'distributed') if m in sys.modules)\n"
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"imported: {out.stdout.strip()}"
