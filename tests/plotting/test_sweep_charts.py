"""Finished-sweep charts hold the table's data; the live sweep plot streams, restyles and rolls over
within its one source. Real Bokeh models; one tiny real sweep."""

import ast
import math
from pathlib import Path

import pandas as pd
import pytest
from bokeh.models import CategoricalScale, FactorRange, LogScale

import tunewidgets as tw
from tunewidgets.plotting.sweep_charts import metric_figures, parallel_coordinates_figure, sweep_charts
from tunewidgets.plotting.sweep_curves import FADED, FAILED, SweepCurves
from helpers.settings import SMALL

SPACE = tw.Space(lr=tw.LogUniform(1e-3, 1e-1, n=2), optimizer=tw.Choice(["sgd", "adam"]),
                 dropout=tw.Uniform(0.0, 0.2, n=2))




@pytest.fixture(scope="module")
def finished(digits):
    base = SMALL.replace(units=16, batch_size=256, epochs=1)
    return tw.sweep(digits, SPACE, strategy="grid", n_trials=5, base=base, seed=0)


def source_of(fig):
    return fig.renderers[0].data_source


def test_one_scatter_per_dimension_holds_the_table(finished):
    table = finished.table()
    figures = sweep_charts(finished)
    assert len(figures) == 5  # lr, optimizer, dropout, the parallel coordinates, the importances
    by_name = {f.name: f for f in figures}
    lr, opt, drop = by_name["tw-sweep-vs-lr"], by_name["tw-sweep-vs-optimizer"], by_name["tw-sweep-vs-dropout"]
    assert isinstance(lr.x_scale, LogScale)  # log dimension, log axis
    assert isinstance(opt.x_scale, CategoricalScale) and isinstance(opt.x_range, FactorRange)
    assert list(opt.x_range.factors) == ["sgd", "adam"]  # the choices, in their order
    assert not isinstance(drop.x_scale, (LogScale, CategoricalScale))
    for fig, column in ((lr, "lr"), (opt, "optimizer"), (drop, "dropout")):
        data = source_of(fig).data
        expected = table.set_index("trial")
        assert sorted(data["trial"]) == sorted(expected.index)
        for trial, x, y in zip(data["trial"], data["x"], data["y"]):
            want = expected.loc[trial, column]
            assert (x == want) if column != "optimizer" else (x == str(want))
            assert y == pytest.approx(expected.loc[trial, "val_accuracy"])


def test_parallel_coordinates_one_normalized_line_per_trial(finished):
    table = finished.table()
    fig = {f.name: f for f in sweep_charts(finished)}["tw-sweep-parallel"]
    data = source_of(fig).data
    assert len(data["ys"]) == len(table) == 5
    assert all(0.0 <= y <= 1.0 for line in data["ys"] for y in line)
    assert all(xs == [0, 1, 2, 3] for xs in data["xs"])
    assert fig.xaxis[0].major_label_overrides == {0: "lr (log)", 1: "optimizer", 2: "dropout", 3: "val_accuracy"}
    rows = table.set_index("trial")
    for trial, ys, value in zip(data["trial"], data["ys"], data["value"]):
        row = rows.loc[trial]
        assert value == pytest.approx(row["val_accuracy"])
        assert ys[0] == (0.0 if row["lr"] == 1e-3 else 1.0)  # log-normalized between the two grid points
        assert ys[1] == (0.0 if row["optimizer"] == "sgd" else 1.0)
        assert ys[2] == (0.0 if row["dropout"] == 0.0 else 1.0)
    metrics = list(table["val_accuracy"])
    mapper = fig.renderers[0].glyph.line_color.transform
    assert (mapper.low, mapper.high) == (min(metrics), max(metrics))
    assert data["value"] == sorted(data["value"])  # the best drawn last, on top
    ends = fig.renderers[1].data_source.data["text"]
    assert ends[:4] == ["0.001", "sgd", "0", f"{min(metrics):.3g}"]


def test_failed_trials_are_left_out_and_strings_are_categorical_without_hints():
    table = pd.DataFrame({"rank": [1, 2, 3], "trial": [0, 1, 2], "status": ["complete", "pruned", "failed"],
                          "val_loss": [0.2, 0.5, math.nan], "act": ["relu", "tanh", "relu"],
                          "wd": [1e-5, 1e-3, 1e-4]})
    scatters = metric_figures(table, "val_loss", ["act", "wd"], log=["wd"])
    act, wd = scatters
    assert list(act.x_range.factors) == ["relu", "tanh"] and isinstance(wd.x_scale, LogScale)
    assert source_of(act).data["trial"] == [0, 1]
    assert source_of(act).data["color"][1] != source_of(act).data["color"][0]  # pruned shown apart
    par = parallel_coordinates_figure(table, "val_loss", ["act", "wd"], log=["wd"], direction="minimize")
    data = source_of(par).data
    assert data["trial"] == [1, 0]  # minimize: the lowest loss drawn last
    assert data["ys"][1] == [0.0, 0.0, 0.0] and data["ys"][0] == [1.0, 1.0, 1.0]


def test_show_puts_the_charts_in_one_view(finished):
    view = tw.show(*sweep_charts(finished), ncols=2)
    names = {m.name for m in view._model.references() if getattr(m, "name", None)}
    assert {"tw-sweep-vs-lr", "tw-sweep-parallel"} <= names


def test_live_curves_stream_one_source_and_fade_only_the_finished_trial():
    curves = SweepCurves("val_accuracy", rollover=100)
    renderers = len(curves.figure.renderers)
    assert curves.stream({0: [(1, 0.5), (2, 0.7)], 1: [(1, 0.4)]}) == 1
    assert curves.stream({1: [(2, float("nan")), (3, 0.6)]}) == 1  # a gap joins to the last finite point
    assert curves.stream({}) == 0
    d = curves.source.data
    assert d["trial"] == [0, 0, 1, 1]
    assert (d["x0"], d["y0"], d["x1"], d["y1"]) == ([1, 1, 1, 1], [0.5, 0.5, 0.4, 0.4], [1, 2, 1, 3],
                                                    [0.5, 0.7, 0.4, 0.6])
    assert curves.finish(1, "pruned") == 1
    assert d["color"][2:] == [FADED[0]] * 2 and d["alpha"][2:] == [FADED[1]] * 2
    assert FADED[0] not in d["color"][:2]
    curves.stream({1: [(4, 0.65)]})  # a late point of a faded trial stays faded
    assert d["color"][-1] == FADED[0]
    assert curves.finish(0, "complete") == 0 and curves.finish(3, "failed") == 0
    curves.show_best(0, [1, 2], [0.5, 0.7])
    assert curves.best_source.data == {"epoch": [1, 2], "value": [0.5, 0.7]} and "trial 0" in curves.figure.title.text
    assert len(curves.figure.renderers) == renderers  # nothing added per update
    curves.clear()
    assert curves.rows() == 0 and curves.best_source.data["epoch"] == [] and curves.best_trial is None


def test_live_curves_roll_over_and_patch_the_right_rows_after():
    curves = SweepCurves("val_loss", rollover=5)
    curves.stream({0: [(1, 1.0), (2, 0.9), (3, 0.8)]})
    curves.stream({1: [(1, 1.1), (2, 1.0), (3, 0.95)], 2: [(1, 2.0)]})
    d = curves.source.data
    assert curves.rows() == 5 and d["trial"] == [0, 1, 1, 1, 2]  # the two oldest rows rolled out
    assert curves.finish(1, "failed") == 1
    assert d["color"] == [d["color"][0], FAILED[0], FAILED[0], FAILED[0], d["color"][4]]
    assert curves.finish(0, "stopped") == 1
    assert d["color"][0] == FADED[0] and curves.rows(0) == 1


@pytest.mark.parametrize("module", ["sweep_charts.py", "sweep_curves.py"])
def test_plotting_modules_import_bokeh_only(module):
    path = Path(tw.__file__).parent / "plotting" / module
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            roots.add(node.module.split(".")[0])
    assert roots <= {"bokeh", "__future__", "math", "threading", "typing"}, roots


def test_the_parallel_coordinates_can_show_only_the_best_share(finished):
    table = finished.table()
    best = {f.name: f for f in sweep_charts(finished, top=0.4)}["tw-sweep-parallel"]
    trials = source_of(best).data["trial"]
    assert sorted(trials) == sorted(table["trial"].iloc[:2]) and "best 40%" in best.title.text
    with pytest.raises(ValueError, match="top=2"):
        sweep_charts(finished, top=2)


def test_importances_name_each_dimension_and_share_the_variation(finished):
    importances = finished.importances()
    assert set(importances) == set(SPACE.names) and sum(importances.values()) == pytest.approx(1.0)
    fig = {f.name: f for f in sweep_charts(finished)}["tw-sweep-importance"]
    data = source_of(fig).data
    assert set(data["name"]) == set(SPACE.names) and data["importance"][-1] == max(importances.values())


def test_every_chart_works_for_a_loaded_sweep(digits, base, tmp_path):
    url = f"sqlite:///{tmp_path}/charts.db"
    tw.sweep(digits, SPACE, strategy="grid", n_trials=4, base=base, seed=0, storage=url, name="c")
    loaded = tw.load_sweep(url, "c")
    names = {f.name for f in sweep_charts(loaded, top=0.5)}
    assert {"tw-sweep-parallel", "tw-sweep-importance", "tw-sweep-vs-lr"} <= names
