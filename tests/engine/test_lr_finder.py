"""The learning-rate range test on real training."""

import math

import numpy as np
import pytest

import tunewidgets as tw
from tunewidgets.engine.builtin.lr_finder import suggest_lr




def test_lr_find_sweeps_the_rate_exponentially_and_suggests_one(digits):
    result = tw.lr_find(digits, tw.HParams(units=32, batch_size=64), start_lr=1e-5, end_lr=1.0, steps=60)
    lrs = np.asarray(result.lrs)
    assert lrs[0] == pytest.approx(1e-5)
    ratios = lrs[1:] / lrs[:-1]
    assert np.allclose(ratios, ratios[0]) and ratios[0] > 1
    assert len(result.losses) == len(result.smoothed) == len(lrs) >= 20
    assert all(math.isfinite(x) for x in result.smoothed)
    # The smoothed loss falls from chance level (ln 10 = 2.30) well below it before the end.
    assert result.smoothed[0] == pytest.approx(math.log(10), abs=0.3)
    assert min(result.smoothed) < 1.5
    # Adam on standardized digits trains well between 1e-4 and 1e-1.
    assert 1e-4 <= result.suggestion <= 1e-1
    assert result.suggestion <= result.lr_min
    assert result.lr_min_over_10 == pytest.approx(result.lr_min / 10)
    frame = result.to_frame()
    assert list(frame.columns) == ["lr", "loss", "smoothed_loss"] and len(frame) == len(lrs)


def test_lr_find_stops_when_the_loss_explodes(digits):
    result = tw.lr_find(digits, tw.HParams(units=32, optimizer="sgd"), start_lr=1e-3, end_lr=100.0, steps=80)
    assert result.stopped_early
    assert len(result.lrs) < 80
    assert result.lrs[-1] < 100.0


def test_suggestion_is_the_steepest_descent_of_a_known_curve():
    lrs = list(np.logspace(-6, 0, 61))
    x = np.log10(lrs)
    # a sigmoid falling fastest at lr = 1e-3, then a rise after 1e-1
    loss = 2 - 1.5 / (1 + np.exp(-(x + 3) * 3)) + np.where(x > -1, (x + 1) * 5, 0)
    assert suggest_lr(lrs, list(loss)) == pytest.approx(1e-3, rel=0.3)
    assert math.isnan(suggest_lr([], []))


@pytest.mark.parametrize("kwargs, words", [({"start_lr": -1.0}, ["start_lr=-1.0", "> 0"]),
                                           ({"end_lr": 1e-7}, ["end_lr=1e-07", "start_lr"]),
                                           ({"steps": 2}, ["steps=2", ">= 5"])])
def test_bad_arguments_name_the_argument_and_the_allowed_range(digits, kwargs, words):
    with pytest.raises(ValueError) as info:
        tw.lr_find(digits, tw.HParams(), **kwargs)
    for word in words:
        assert word in str(info.value)


def test_the_data_combination_is_checked(digits):
    with pytest.raises(ValueError, match="batch_size=4096"):
        tw.lr_find(digits, tw.HParams(batch_size=4096))
