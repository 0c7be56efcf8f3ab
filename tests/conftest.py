"""Shared fixtures: small real datasets, and a private HOME for anything that writes config."""

from __future__ import annotations

import pytest

import tunewidgets as tw


@pytest.fixture(scope="session")
def digits():
    return tw.load_dataset("digits")


@pytest.fixture(scope="session")
def digits_images():
    return tw.load_dataset("digits", images=True)


@pytest.fixture(scope="session")
def regression_data():
    return tw.load_dataset("diabetes")
