"""Search spaces: grids, validation against FIELDS, round trips."""

import math

import pytest

import tunewidgets as tw
from tunewidgets.space import Space


def test_grid_points_per_dimension():
    assert tw.Uniform(0, 0.5, n=3).grid() == [0.0, 0.25, 0.5]
    log = tw.LogUniform(1e-4, 1e-1, n=4).grid()
    assert log[0] == 1e-4 and log[-1] == 1e-1
    assert all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(log, [1e-4, 1e-3, 1e-2, 1e-1]))
    assert tw.IntRange(1, 4).grid() == [1, 2, 3, 4]
    assert tw.IntRange(16, 70, step=16).grid() == [16, 32, 48, 64]
    assert tw.Choice(["sgd", "adam"]).grid() == ["sgd", "adam"]


def test_space_grid_is_the_cartesian_product():
    space = tw.Space(lr=tw.LogUniform(1e-3, 1e-1, n=3), optimizer=tw.Choice(["sgd", "adam"]),
                     layers=tw.IntRange(1, 2))
    grid = space.grid()
    assert len(grid) == space.grid_size == 12
    assert grid[0] == {"lr": 1e-3, "optimizer": "sgd", "layers": 1}
    assert len({tuple(sorted(p.items())) for p in grid}) == 12
    for point in grid:  # every grid point is a valid HParams
        tw.HParams(**point)


def test_issue_example_and_list_as_choice():
    space = tw.Space(lr=tw.LogUniform(1e-4, 1e-1), batch_size=tw.Choice([32, 64, 128]), dropout=tw.Uniform(0, 0.5),
                     layers=tw.IntRange(1, 4), optimizer=["sgd", "adam", "rmsprop"])
    assert space.names == ["lr", "batch_size", "dropout", "layers", "optimizer"]
    assert space.dims["optimizer"] == tw.Choice(["sgd", "adam", "rmsprop"])
    assert space.grid_size == 5 * 3 * 5 * 4 * 3


@pytest.mark.parametrize("dims, words", [
    ({"learning_rate": tw.LogUniform(1e-3, 1e-1)}, ["unknown hyperparameter 'learning_rate'", "lr"]),
    ({"lr": tw.LogUniform(1e-1, 1e-3)}, ["lr", "low=0.1 must be < high=0.001"]),
    ({"dropout": tw.Uniform(0.3, 0.3)}, ["dropout", "must be < high"]),
    ({"optimizer": tw.Choice([])}, ["optimizer", "empty"]),
    ({"lr": tw.LogUniform(0, 1e-1)}, ["lr", "log range needs low > 0"]),
    ({"weight_decay": tw.LogUniform(-1e-3, 1e-2)}, ["weight_decay", "low > 0"]),
    ({"dropout": tw.Uniform(0, 1.5)}, ["dropout", "outside the allowed values", "< 1"]),
    ({"lr": tw.LogUniform(1e-3, 500)}, ["lr", "<= 100"]),
    ({"layers": tw.IntRange(0, 3)}, ["layers", ">= 1"]),
    ({"optimizer": tw.Choice(["sgd", "lbfgs"])}, ["optimizer", "'lbfgs'", "one of"]),
    ({"layers": tw.Uniform(1, 4)}, ["layers", "IntRange"]),
    ({"lr": tw.IntRange(1, 3)}, ["lr", "Uniform or LogUniform"]),
    ({"lr": tw.LogUniform(1e-3, 1e-1, n=1)}, ["lr", "n=1", ">= 2"]),
    ({"layers": tw.IntRange(1, 4, step=0)}, ["layers", "step=0"]),
    ({"optimizer": tw.Choice(["sgd", "sgd"])}, ["optimizer", "twice"]),
    ({"lr": 0.01}, ["lr=0.01 is not a dimension"]),
])
def test_invalid_spaces_name_the_field_and_the_rule(dims, words):
    with pytest.raises(ValueError) as info:
        tw.Space(**dims).check_fields()
    for word in words:
        assert word in str(info.value), str(info.value)


def test_choice_needs_a_list():
    with pytest.raises(ValueError, match="pass a list"):
        tw.Choice("adam")


def test_round_trip_through_json():
    space = tw.Space(lr=tw.LogUniform(1e-4, 1e-1, n=3), dropout=tw.Uniform(0, 0.5), layers=tw.IntRange(1, 4, 2),
                     optimizer=tw.Choice(["sgd", "adam"]))
    again = Space.from_json(space.to_json())
    assert again == space and again.grid() == space.grid()


def test_free_space_skips_fields_but_checks_dimensions():
    space = Space.free(C=tw.LogUniform(1e-2, 10, n=3), penalty=["l1", "l2", None])
    assert space.grid_size == 9 and space == tw.Space(C=tw.LogUniform(1e-2, 10, n=3), penalty=["l1", "l2", None])
    with pytest.raises(ValueError, match="C: LogUniform low=0"):
        Space.free(C=tw.LogUniform(0, 10))
    with pytest.raises(ValueError, match="penalty: Choice value"):
        Space.free(penalty=[{"a": 1}])
