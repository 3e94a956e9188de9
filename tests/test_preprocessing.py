"""SequenceScaler and make_windows."""

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from numbarnn.preprocessing import SequenceScaler, make_windows


def test_scaler_standardises_each_feature_over_valid_steps():
    rng = np.random.default_rng(0)
    X = rng.normal([1.0, -5.0, 10.0], [2.0, 0.5, 3.0], size=(40, 6, 3))
    Z = SequenceScaler().fit_transform(X)
    np.testing.assert_allclose(Z.mean(axis=(0, 1)), 0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=(0, 1)), 1, atol=1e-12)
    np.testing.assert_allclose(SequenceScaler().fit(X).inverse_transform(Z), X)
    np.testing.assert_allclose(SequenceScaler().fit(X).transform(X), Z)
    lengths = np.full(40, 3)
    X2 = X.copy()
    X2[:, 3:] = 1e6  # padding does not enter the statistics
    scaler = SequenceScaler().fit(X2, lengths=lengths)
    np.testing.assert_allclose(scaler.mean_, X[:, :3].mean(axis=(0, 1)))


def test_scaler_shapes_dtypes_and_options():
    rng = np.random.default_rng(1)
    X2d = rng.standard_normal((5, 7)).astype(np.float32)
    scaler = SequenceScaler().fit(X2d)
    out = scaler.transform(X2d)
    assert out.shape == (5, 7) and out.dtype == np.float32 and scaler.n_features_in_ == 1
    ragged = [rng.standard_normal((n, 2)) for n in (3, 5)]
    out = SequenceScaler().fit(ragged).transform(ragged)
    assert [a.shape for a in out] == [(3, 2), (5, 2)]
    const = np.ones((4, 3, 1))
    np.testing.assert_array_equal(SequenceScaler().fit_transform(const), 0.0)
    np.testing.assert_array_equal(SequenceScaler(with_mean=False, with_std=False)
                                  .fit_transform(X2d), X2d)
    with pytest.raises(ValueError, match="2 features per time step"):
        SequenceScaler().fit(X2d).transform(rng.standard_normal((2, 7, 2)))


def test_make_windows():
    X, y = make_windows(np.arange(10.0), lookback=4, horizon=2, stride=3)
    np.testing.assert_array_equal(X[:, :, 0], [[0, 1, 2, 3], [3, 4, 5, 6]])
    np.testing.assert_array_equal(y, [[4, 5], [7, 8]])
    series = np.arange(12.0).reshape(6, 2)
    X, y = make_windows(series, lookback=2)
    assert X.shape == (4, 2, 2) and y.shape == (4, 2)
    np.testing.assert_array_equal(y[0], series[2])
    X, y = make_windows(series, lookback=2, horizon=2)
    np.testing.assert_array_equal(y[0], np.r_[series[2], series[3]])
    with pytest.raises(ValueError, match="too short"):
        make_windows(np.arange(3.0), lookback=3)
    with pytest.raises(InvalidParameterError):
        make_windows(np.arange(10.0), lookback=0)
    with pytest.raises(ValueError, match="1D"):
        make_windows(np.zeros((3, 3, 3)), lookback=1)


def test_make_windows_of_differences_give_levels_back():
    rng = np.random.default_rng(3)
    series = np.cumsum(rng.normal(1.0, 0.5, size=(30, 2)), axis=0)  # a rising 2-feature series
    lookback, horizon, stride = 4, 3, 2
    X, y = make_windows(series, lookback, horizon, stride, difference=True)
    n = len(X)
    assert n == len(range(0, len(series) - 1 - lookback - horizon + 1, stride))
    starts = np.arange(n) * stride
    last = series[starts + lookback]  # window i's last level
    for i, start in enumerate(starts):
        np.testing.assert_allclose(X[i], series[start + 1:start + lookback + 1]
                                   - series[start:start + lookback])
    future = series[starts[:, None] + lookback + 1 + np.arange(horizon)]
    np.testing.assert_allclose(last[:, None] + np.cumsum(y.reshape(n, horizon, 2), axis=1),
                               future)
    X, y = make_windows(np.array([5, 3, 4, 1], np.uint8), lookback=1, difference=True)
    np.testing.assert_array_equal(X[:, 0, 0], [-2, 1])
    np.testing.assert_array_equal(y, [1, -3])
    X, y = make_windows(np.array([True, False, False]), lookback=1, difference=True)
    np.testing.assert_array_equal(X[:, 0, 0], [-1])
    np.testing.assert_array_equal(y, [0])
    with pytest.raises(ValueError, match="too short.*difference=True"):
        make_windows(np.arange(4.0), lookback=3, difference=True)
    make_windows(np.arange(4.0), lookback=3)  # enough values without differencing
