"""Estimator sweeps with cross-validation, checked against scikit-learn's GridSearchCV."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

import tunewidgets as tw


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(autouse=True)
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # 'penalty' is deprecated in scikit-learn 1.8+
        yield


def test_logistic_regression_grid_matches_gridsearchcv(cancer):
    X, y = cancer
    grid = {"C": [0.01, 0.1, 1.0, 10.0], "penalty": ["l1", "l2"]}
    estimator = LogisticRegression(max_iter=2000)  # lbfgs: penalty l1 is an invalid combination
    sw = tw.sweep_estimator(estimator, grid, X, y, cv=5)
    table = sw.table()
    assert len(table) == 8
    assert list(table["status"]) == ["complete"] * 4 + ["failed"] * 4
    failed = table[table["status"] == "failed"]
    assert set(failed["penalty"]) == {"l1"}
    assert failed["error"].str.contains("Solver lbfgs supports only 'l2'").all()
    assert (failed["rank"] == 5).all()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = GridSearchCV(estimator, grid, cv=5).fit(X, y)
    assert sw.best == reference.best_params_
    assert sw.best_value == pytest.approx(reference.best_score_, abs=1e-12)
    ours = table.set_index(["C", "penalty"])
    for params, mean, std in zip(reference.cv_results_["params"], reference.cv_results_["mean_test_score"],
                                 reference.cv_results_["std_test_score"]):
        row = ours.loc[(params["C"], params["penalty"])]
        if np.isnan(mean):
            assert row["status"] == "failed"
        else:
            assert row["mean_test_score"] == pytest.approx(mean, abs=1e-12)
            assert row["std_test_score"] == pytest.approx(std, abs=1e-12)
    assert set(sw.curves()["epoch"]) == {1, 2, 3, 4, 5}  # one point per fold


def test_random_search_over_a_free_space(cancer):
    X, y = cancer
    space = tw.Space.free(C=tw.LogUniform(1e-3, 10.0))
    sw = tw.sweep_estimator(LogisticRegression(max_iter=2000), space, X, y, cv=3, strategy="random", n_trials=3,
                            seed=0, scoring="balanced_accuracy")
    table = sw.table()
    assert len(table) == 3 and set(table["status"]) == {"complete"}
    assert table["C"].between(1e-3, 10.0).all() and table["mean_test_score"].iloc[0] > 0.9


def test_unknown_parameter_is_named(cancer):
    X, y = cancer
    with pytest.raises(ValueError, match="'alpha' is not a parameter of LogisticRegression"):
        tw.sweep_estimator(LogisticRegression(), {"alpha": [1, 2]}, X, y)
