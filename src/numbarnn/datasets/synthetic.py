"""Seeded synthetic tasks whose answer depends on inputs many steps back."""

from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params


@validate_params(
    {"n_samples": [Interval(Integral, 1, None, closed="left")],
     "n_timesteps": [Interval(Integral, 2, None, closed="left")],
     "random_state": ["random_state"]},
    prefer_skip_nested_validation=True,
)
def make_adding_problem(n_samples, n_timesteps, random_state=None):
    """The adding problem (Hochreiter & Schmidhuber 1997).

    Each sequence has two channels: values drawn uniformly from [0, 1], and a
    marker channel that is 1 at exactly two steps, one in each half of the
    sequence, and 0 elsewhere. The target is the sum of the two marked values.
    Always predicting 1 gives a mean squared error of 1/6 (about 0.167), the
    variance of a sum of two uniform values; solving the task needs memory across
    about ``n_timesteps / 2`` steps.

    Parameters
    ----------
    n_samples : int
        Number of sequences.
    n_timesteps : int
        Steps per sequence, at least 2.
    random_state : int, RandomState instance or None
        Seed of the values and marker positions.

    Returns
    -------
    X : ndarray of shape (n_samples, n_timesteps, 2)
        Channel 0: the values; channel 1: the markers.
    y : ndarray of shape (n_samples,)
        Sum of the two marked values.
    """
    rng = check_random_state(random_state)
    values = rng.uniform(0.0, 1.0, (n_samples, n_timesteps))
    half = n_timesteps // 2
    first = rng.randint(0, half, n_samples)
    second = rng.randint(half, n_timesteps, n_samples)
    markers = np.zeros((n_samples, n_timesteps))
    rows = np.arange(n_samples)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    return np.stack([values, markers], axis=2), values[rows, first] + values[rows, second]


@validate_params(
    {"n_samples": [Interval(Integral, 1, None, closed="left")],
     "n_timesteps": [Interval(Integral, 1, None, closed="left")],
     "delay": [Interval(Integral, 0, None, closed="left")],
     "random_state": ["random_state"]},
    prefer_skip_nested_validation=True,
)
def make_delayed_recall(n_samples, n_timesteps, delay, random_state=None):
    """Delayed recall: at every step, output the input seen ``delay`` steps earlier.

    Inputs are standard normal; y[:, t] = X[:, t - delay, 0] for t >= delay and 0
    before. Fit it with ``return_sequences=True``. A model without memory of
    ``delay`` steps cannot beat the variance of the input (MSE 1 on the steps
    t >= delay).

    Parameters
    ----------
    n_samples : int
        Number of sequences.
    n_timesteps : int
        Steps per sequence.
    delay : int
        Steps between an input and its recall; less than ``n_timesteps``.
    random_state : int, RandomState instance or None
        Seed of the inputs.

    Returns
    -------
    X : ndarray of shape (n_samples, n_timesteps, 1)
        Standard normal inputs.
    y : ndarray of shape (n_samples, n_timesteps)
        The input ``delay`` steps earlier, 0 for the first ``delay`` steps.
    """
    if delay >= n_timesteps:
        raise ValueError(f"delay ({delay}) must be less than n_timesteps ({n_timesteps})")
    rng = check_random_state(random_state)
    x = rng.standard_normal((n_samples, n_timesteps))
    y = np.zeros_like(x)
    y[:, delay:] = x[:, : n_timesteps - delay]
    return x[:, :, None], y
