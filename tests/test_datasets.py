"""Bundled series and synthetic tasks."""

import numpy as np
import pytest

from numbarnn import datasets


@pytest.mark.parametrize("name,length,first,last,low,high", [
    ("sunspots", 309, "1700", "2008", 0, 200),
    ("co2", 526, "1958-03", "2001-12", 310, 380),
    ("elnino", 732, "1950-01", "2010-12", 18, 30),
    ("nile", 100, "1871", "1970", 400, 1400),
])
def test_loaders(name, length, first, last, low, high):
    load = getattr(datasets, f"load_{name}")
    values = load()
    time, same = load(return_time=True)
    assert values.shape == (length,) and values.dtype == np.float64
    np.testing.assert_array_equal(values, same)
    assert (time[0], time[-1]) == (first, last)
    assert np.all(np.isfinite(values)) and low <= values.min() and values.max() <= high
    assert all(word in load.__doc__ for word in ("Source:", "Citation:", "Licence: public domain"))


def test_known_values():
    assert datasets.load_sunspots()[:3].tolist() == [5, 11, 16]
    assert datasets.load_nile()[:3].tolist() == [1120, 1160, 963]
    co2 = datasets.load_co2()
    assert co2[-1] > co2[0] + 50  # the Keeling curve rises


def test_adding_problem():
    X, y = datasets.make_adding_problem(2000, 50, random_state=0)
    assert X.shape == (2000, 50, 2) and y.shape == (2000,)
    markers = X[:, :, 1]
    assert np.all(markers.sum(axis=1) == 2)
    assert np.all(markers[:, :25].sum(axis=1) == 1)
    np.testing.assert_allclose((X[:, :, 0] * markers).sum(axis=1), y)
    assert np.mean((y - 1) ** 2) == pytest.approx(1 / 6, abs=0.015)
    X2, y2 = datasets.make_adding_problem(2000, 50, random_state=0)
    np.testing.assert_array_equal(X, X2)


def test_delayed_recall():
    X, y = datasets.make_delayed_recall(5, 10, delay=3, random_state=1)
    assert X.shape == (5, 10, 1) and y.shape == (5, 10)
    np.testing.assert_array_equal(y[:, 3:], X[:, :7, 0])
    np.testing.assert_array_equal(y[:, :3], 0)
    with pytest.raises(ValueError, match="delay"):
        datasets.make_delayed_recall(5, 10, delay=10)
