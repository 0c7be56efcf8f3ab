"""A stored sweep is a plain Optuna study: optuna-dashboard opens the SQLite file and sees its curves."""

import json
from wsgiref.util import setup_testing_defaults

import pytest

import tunewidgets as tw


def get_json(app, path):
    environ, answer = {}, {}
    setup_testing_defaults(environ)
    environ["PATH_INFO"] = path
    body = b"".join(app(environ, lambda status, headers, exc_info=None: answer.setdefault("status", status)))
    assert answer["status"] == "200 OK", body[:300]
    return json.loads(body)


def test_optuna_dashboard_reads_a_stored_sweep(tmp_path, digits):
    dashboard = pytest.importorskip("optuna_dashboard")
    url = f"sqlite:///{tmp_path}/sweeps.db"
    sweep = tw.sweep(digits, tw.Space(lr=tw.LogUniform(1e-3, 1e-1, n=3)), strategy="grid",
                     base=tw.HParams(epochs=3, units=16), storage=url, name="demo")
    app = dashboard.wsgi(url)
    studies = get_json(app, "/api/studies")["study_summaries"]
    assert [s["study_name"] for s in studies] == ["demo"]
    trials = get_json(app, f"/api/studies/{studies[0]['study_id']}")["trials"]
    assert [t["state"] for t in trials] == ["Complete"] * 3
    assert [len(t["intermediate_values"]) for t in trials] == [3, 3, 3]  # the per-epoch curves
    best = max(t["values"][0] for t in trials)
    assert best == pytest.approx(sweep.best_value)
