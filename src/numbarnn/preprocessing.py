"""Scaling sequences and cutting a series into forecasting windows."""

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import check_array, check_is_fitted

from .validation import check_sequences, is_ragged_list, valid_steps


def feature_statistics(X, lengths, weights=None):
    """Each feature's mean and standard deviation over the valid steps of sequences.

    Parameters
    ----------
    X : ndarray of shape (n, T, d)
        Sequences (or per-sequence values as (n, 1, d) with lengths of one).
    lengths : ndarray of int, shape (n,)
        Valid steps per sequence.
    weights : ndarray of shape (n, 1, 1) or (n, T, 1), optional
        Weight of each sequence or step (sample weights): the statistics of data
        weighted by k are those of the data with k copies.

    Returns
    -------
    mean, scale : ndarray of shape (d,), float64
        The scale is the standard deviation, or 1 where that is zero.

    Examples
    --------
    >>> import numpy as np
    >>> from numbarnn.preprocessing import feature_statistics
    >>> X = np.array([[[1.0], [3.0], [0.0]], [[5.0], [7.0], [0.0]]])  # last step: padding
    >>> mean, scale = feature_statistics(X, np.array([2, 2]))
    >>> mean, scale.round(4)
    (array([4.]), array([2.2361]))

    A weight of 3 counts the first sequence three times:

    >>> feature_statistics(X, np.array([2, 2]), np.array([3.0, 1.0]).reshape(2, 1, 1))[0]
    array([3.])
    """
    mask = valid_steps(lengths, X.shape[1])
    valid = X[mask].astype(np.float64)  # (steps, d)
    w = None if weights is None else np.broadcast_to(weights[..., 0], mask.shape)[mask]
    mean = np.average(valid, axis=0, weights=w)
    std = np.sqrt(np.average((valid - mean) ** 2, axis=0, weights=w))
    return mean, np.where(std > 0, std, 1.0)


def standardized(a, mean, scale):
    """(a - mean) / scale in ``a``'s dtype over its last axis; ``a`` itself if ``mean`` is None
    (an estimator fitted with ``standardize=False``).

    Parameters
    ----------
    a : ndarray of shape (..., d)
        Values, features on the last axis.
    mean, scale : ndarray of shape (d,) or None
        From :func:`feature_statistics`, or None for no scaling.

    Returns
    -------
    ndarray
        Of ``a``'s shape and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from numbarnn.preprocessing import standardized
    >>> a = np.array([[1.0, 10.0], [3.0, 30.0]], dtype=np.float32)
    >>> standardized(a, np.array([2.0, 20.0]), np.array([1.0, 10.0]))
    array([[-1., -1.],
           [ 1.,  1.]], dtype=float32)
    >>> standardized(a, None, None) is a
    True
    """
    if mean is None:
        return a
    return (a - mean.astype(a.dtype)) / scale.astype(a.dtype)


class SequenceScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Standardise each feature of sequences over all sequences and valid time steps.

    Works on the inputs the estimators take: (n, T, d), (n, T) univariate, or a list
    of (T_i, d) / (T_i,) arrays (transformed into a list of the same lengths, so
    that lengths survive a ``Pipeline``).

    Parameters
    ----------
    with_mean : bool, default=True
        Subtract each feature's mean.
    with_std : bool, default=True
        Divide by each feature's standard deviation (1 where it is zero).

    Attributes
    ----------
    mean_ : ndarray of shape (d,)
        Mean of each feature (zeros with ``with_mean=False``).
    scale_ : ndarray of shape (d,)
        Standard deviation of each feature, 1 where it is zero (ones with
        ``with_std=False``).
    n_features_in_ : int
        Features per time step.

    Examples
    --------
    >>> import numpy as np
    >>> from numbarnn.preprocessing import SequenceScaler
    >>> sequences = [np.array([2.0, 4.0]), np.array([4.0, 2.0, 2.0, 4.0])]  # 2 and 4 steps
    >>> scaler = SequenceScaler().fit(sequences)
    >>> scaler.mean_, scaler.scale_
    (array([3.]), array([1.]))
    >>> scaler.transform(sequences)
    [array([-1.,  1.]), array([ 1., -1., -1.,  1.])]

    Padded steps, left out with ``lengths``, do not enter the statistics:

    >>> X = np.array([[[2.0], [4.0], [0.0]], [[4.0], [2.0], [99.0]]])
    >>> SequenceScaler().fit(X, lengths=[2, 2]).mean_
    array([3.])

    In a pipeline before an estimator (which then need not standardise):

    >>> from sklearn.pipeline import make_pipeline
    >>> from numbarnn import GRURegressor
    >>> X = np.random.default_rng(0).standard_normal((16, 8, 2)) * [1.0, 100.0]
    >>> model = make_pipeline(SequenceScaler(), GRURegressor(
    ...     hidden_size=4, max_iter=2, standardize=False, random_state=0))
    >>> model.fit(X, X[:, -1, 0]).predict(X).shape
    (16,)
    """

    _parameter_constraints = {"with_mean": ["boolean"], "with_std": ["boolean"]}

    def __init__(self, *, with_mean=True, with_std=True):
        self.with_mean = with_mean
        self.with_std = with_std

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    def fit(self, X, y=None, lengths=None):
        """Learn each feature's mean and standard deviation over the valid steps.

        Parameters
        ----------
        X : array-like of shape (n, T, d) or (n, T), or list of arrays
            Training sequences.
        y : None
            Ignored; present for the ``Pipeline`` API.
        lengths : array-like of int, shape (n,), optional
            Valid steps per sequence; padded steps do not enter the statistics.

        Returns
        -------
        self : object
            The fitted scaler.
        """
        self._validate_params()
        X3, lengths = check_sequences(X, lengths, np.float64)
        mean, scale = feature_statistics(X3, lengths)
        self.mean_ = mean if self.with_mean else np.zeros_like(mean)
        self.scale_ = scale if self.with_std else np.ones_like(scale)
        self.n_features_in_ = X3.shape[2]
        return self

    def _apply(self, X, function):
        check_is_fitted(self)
        if is_ragged_list(X):
            return [self._apply(np.asarray(x)[None], function)[0] for x in X]
        X = X if hasattr(X, "shape") else np.asarray(X)
        dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
        X3, _ = check_sequences(X, None, dtype, self.n_features_in_)
        out = function(X3, self.mean_.astype(dtype), self.scale_.astype(dtype))
        return out[:, :, 0] if X.ndim == 2 else out

    def transform(self, X):
        """Standardise ``X``: subtract ``mean_`` and divide by ``scale_``, per feature.

        Parameters
        ----------
        X : array-like of shape (n, T, d) or (n, T), or list of arrays
            Sequences with the number of features seen in fit.

        Returns
        -------
        ndarray or list of ndarray
            The same shape as ``X`` (a list of the same lengths for a list).
        """
        return self._apply(X, lambda x, mean, scale: (x - mean) / scale)

    def inverse_transform(self, X):
        """Undo :meth:`transform`: multiply by ``scale_`` and add ``mean_``.

        Parameters
        ----------
        X : array-like of shape (n, T, d) or (n, T), or list of arrays
            Standardised sequences.

        Returns
        -------
        ndarray or list of ndarray
            The same shape as ``X`` (a list of the same lengths for a list).
        """
        return self._apply(X, lambda x, mean, scale: x * scale + mean)


@validate_params(
    {"series": ["array-like"], "lookback": [Interval(Integral, 1, None, closed="left")],
     "horizon": [Interval(Integral, 1, None, closed="left")],
     "stride": [Interval(Integral, 1, None, closed="left")], "difference": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def make_windows(series, lookback, horizon=1, stride=1, difference=False):
    """Cut a time series into input windows and the values that follow them.

    Window i starts at step ``i * stride``: X[i] is the ``lookback`` steps from
    there and y[i] the ``horizon`` steps after them.

    Parameters
    ----------
    series : array-like of shape (N,) or (N, d)
        The series, oldest first.
    lookback : int
        Steps per input window.
    horizon : int, default=1
        Steps to predict after each window.
    stride : int, default=1
        Steps between the starts of consecutive windows.
    difference : bool, default=False
        Cut the windows from the series' changes, ``np.diff(series, axis=0)``,
        instead of its values. A network of saturating cells cannot predict
        values beyond those it was trained on; a trending series (a level
        that keeps rising, as CO2's) is forecast well from its changes. Window
        i's last value is then ``series[i * stride + lookback]``; the forecast
        level is that value plus the predicted change (for ``horizon`` > 1, plus
        the cumulative sum of the predicted changes).

    Returns
    -------
    X : ndarray of shape (n, lookback, d)
        Windows (d = 1 for a 1D series).
    y : ndarray of shape (n,) or (n, horizon * d)
        What follows each window: (n,) for one value, otherwise columns ordered
        by step, then feature.

    Examples
    --------
    >>> import numpy as np
    >>> from numbarnn.preprocessing import make_windows
    >>> X, y = make_windows(np.arange(6.0), lookback=3)
    >>> X[:, :, 0]
    array([[0., 1., 2.],
           [1., 2., 3.],
           [2., 3., 4.]])
    >>> y
    array([3., 4., 5.])
    >>> X, y = make_windows(np.array([1.0, 2.0, 4.0, 7.0, 11.0]), lookback=2,
    ...                     difference=True)
    >>> X[:, :, 0], y
    (array([[1., 2.],
           [2., 3.]]), array([3., 4.]))
    """
    series = check_array(series, ensure_2d=False, allow_nd=True, dtype="numeric",
                         ensure_all_finite="allow-nan",
                         input_name="series")
    if series.ndim not in (1, 2):
        raise ValueError(f"series must be 1D (N,) or 2D (N, d); got shape {series.shape}")
    values = series.reshape(len(series), -1)
    if difference:  # in floating point: integer differences wrap around, booleans XOR
        values = np.diff(values.astype(np.result_type(values.dtype, np.float64), copy=False),
                         axis=0)
    N = len(values)
    if N < lookback + horizon:
        raise ValueError(f"series of length {len(series)} is too short for lookback={lookback}"
                         f", horizon={horizon}" + (" and difference=True" if difference else ""))
    starts = np.arange(0, N - lookback - horizon + 1, stride)
    X = values[starts[:, None] + np.arange(lookback)]
    y = values[starts[:, None] + lookback + np.arange(horizon)].reshape(len(starts), -1)
    return X, (y[:, 0] if y.shape[1] == 1 else y)
