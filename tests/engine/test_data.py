"""Data: built-in sets, arrays and torch Datasets, and clear errors for bad data."""

import numpy as np
import pytest
import torch

import tunewidgets as tw


@pytest.mark.parametrize("name, task", [("digits", "classification"), ("iris", "classification"),
                                        ("wine", "classification"), ("breast_cancer", "classification"),
                                        ("moons", "classification"), ("diabetes", "regression"),
                                        ("friedman1", "regression")])
def test_builtin_datasets_are_split_and_standardized(name, task):
    data = tw.load_dataset(name)
    assert data.task == task
    assert data.n_train > data.n_val > 0
    mean = data.x_train.mean(dim=0)
    assert torch.allclose(mean, torch.zeros_like(mean), atol=1e-4)
    again = tw.load_dataset(name)
    assert torch.equal(data.x_val, again.x_val)  # fixed split


def test_digits_as_images():
    data = tw.load_dataset("digits", images=True)
    assert data.input_shape == (1, 8, 8) and data.is_image and data.n_classes == 10


def test_from_arrays_encodes_string_labels_and_stratifies():
    X = np.random.default_rng(0).normal(size=(100, 3))
    y = np.array(["cat", "dog"] * 50)
    data = tw.Data.from_arrays(X, y, task="classification", val_fraction=0.2, seed=0)
    assert data.class_names == ["cat", "dog"] and data.n_classes == 2
    assert data.n_val == 20 and int(data.y_val.sum()) == 10  # stratified


def test_from_datasets_keeps_small_data_in_memory_and_big_data_in_a_loader():
    x = torch.randn(64, 5)
    y = (x[:, 0] > 0).long()
    train, val = torch.utils.data.TensorDataset(x[:48], y[:48]), torch.utils.data.TensorDataset(x[48:], y[48:])
    small = tw.Data.from_datasets(train, val, task="classification")
    assert small.in_memory and small.n_classes == 2
    big = tw.Data.from_datasets(train, val, task="classification", n_outputs=2, in_memory=False)
    assert not big.in_memory
    run = tw.train(big, epochs=2, batch_size=16)
    assert run.status == "completed" and len(run.history) == 2


def test_regression_datasets_with_one_scalar_target_per_sample_learn_through_a_loader():
    """(n,) targets against (n, 1) outputs must not broadcast to (n, n): the loss is the real MSE."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(400, 5, generator=generator)
    y = x @ torch.randn(5, generator=generator)
    train, val = torch.utils.data.TensorDataset(x[:300], y[:300]), torch.utils.data.TensorDataset(x[300:], y[300:])
    data = tw.Data.from_datasets(train, val, task="regression", n_outputs=1, in_memory=False)
    run = tw.train(data, epochs=30, lr=1e-2)
    last = run.history.iloc[-1]
    assert last["val_loss"] == pytest.approx(last["val_mse"], rel=1e-5) and last["val_r2"] > 0.95


@pytest.mark.parametrize("X, y, task, words", [
    (np.zeros((0, 3)), np.zeros(0), "classification", "at least one sample"),
    (np.array([[1.0, np.nan], [0.0, 1.0]]), np.array([0, 1]), "classification", "NaN"),
    (np.ones((4, 2)), np.array([0.5, 1.2, 3.3, 0.1]), "classification", "task='classification' needs class labels"),
    (np.ones((4, 2)), np.array(["a", "b", "a", "b"]), "regression", "task='regression' needs numeric targets"),
    (np.ones((4, 2)), np.array([0, 1, 0]), "classification", "3 labels but X has 4 samples"),
    (np.ones((4, 2)), np.array([0, 1, 0, 1]), "ranking", "task='ranking' is not allowed"),
])
def test_bad_data_is_rejected_with_a_clear_message(X, y, task, words):
    with pytest.raises(ValueError, match=words):
        tw.Data.from_arrays(X, y, task=task)


def test_unknown_dataset_lists_the_builtins():
    with pytest.raises(ValueError, match="digits, iris"):
        tw.load_dataset("mnist")
