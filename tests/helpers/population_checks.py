"""What every population sweep must do, whatever trains its members: pause, resume and stop as a sweep does."""

import time

from helpers.waiting import wait_for


def assert_pauses_resumes_and_stops(sw, members, epochs):
    """``sw`` (started in the background, ``members`` trials of ``epochs`` each) holds every member while
    paused, trains on when resumed, and ends every member stopped early."""
    assert wait_for(lambda: any(r.rows for r in sw.records()), timeout=60), "no epoch arrived"
    sw.pause()
    time.sleep(0.5)
    held = {r.number: len(r.rows) for r in sw.records()}
    time.sleep(1.0)
    assert {r.number: len(r.rows) for r in sw.records()} == held and sw.status == "paused"
    sw.resume()
    assert wait_for(lambda: sum(len(r.rows) for r in sw.records()) > sum(held.values()), timeout=30)
    sw.stop()
    assert sw.wait(timeout=60) == "stopped"
    table = sw.table()
    assert len(table) == members and set(table["status"]) == {"stopped"} and (table["epochs_trained"] < epochs).all()
