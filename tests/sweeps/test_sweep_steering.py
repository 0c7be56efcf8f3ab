"""Steering a sweep: pause and resume on every executor; a paused sweep that is stopped keeps what finished."""

import time

import pytest

import tunewidgets as tw
from helpers.waiting import wait_until


def rows(sw):
    return {r.number: (r.status, len(r.rows)) for r in sw.records()}


def pause_hold_resume(sw):
    """Pause once an epoch arrived; nothing moves while paused; resume finishes the plan."""
    wait_until(lambda: any(r.rows for r in sw.records()), 60, "an epoch")
    sw.pause()
    assert sw.status == "paused" and sw.progress["running"] >= 1
    time.sleep(0.6)  # let the pause reach the trials (workers: at their epoch's end)
    held = rows(sw)
    time.sleep(0.8)
    assert rows(sw) == held, "a paused sweep trained on or started a trial"
    sw.resume()
    assert sw.status == "running"
    assert sw.wait(timeout=120) == "completed"


@pytest.mark.parametrize("executor", ["thread", "batched"])
def test_pause_holds_and_resume_finishes_in_the_kernel(base, digits, executor):
    sw = tw.sweep(digits, tw.Space(lr=tw.LogUniform(1e-3, 1e-1)), strategy="random", n_trials=4, seed=0,
                  base=base.replace(epochs=60), executor=executor, background=True)
    pause_hold_resume(sw)
    assert list(sw.table()["status"]) == ["complete"] * 4 and (sw.table()["epochs_trained"] == 60).all()


@pytest.mark.slow
def test_pause_holds_and_resume_finishes_in_worker_processes(base, digits):
    sw = tw.sweep(digits, tw.Space(lr=tw.LogUniform(1e-3, 1e-1)), strategy="random", n_trials=3, seed=0,
                  base=base.replace(epochs=150), executor=tw.sweeps.ProcessExecutor(n_workers=2), background=True)
    pause_hold_resume(sw)
    assert list(sw.table()["status"]) == ["complete"] * 3


def test_a_paused_sweep_that_is_stopped_keeps_what_finished(base, digits):
    sw = tw.sweep(digits, tw.Space(lr=[0.01, 0.02, 0.03]), strategy="grid", base=base.replace(epochs=2),
                  background=True, start=False)
    finished = []
    sw.events.subscribe(lambda e: finished.append(e.values["trial"]) if e.kind == "status"
                        and e.values["status"] == "complete" else None)
    sw.start(background=True)
    wait_until(lambda: finished, 60, "a finished trial")
    sw.pause()
    sw.stop()
    assert sw.wait(timeout=60) == "stopped"
    table = sw.table().set_index("trial")
    assert all(table.loc[t, "status"] == "complete" for t in finished)
    assert set(table["status"]) <= {"complete", "stopped"} and len(table) <= 3
