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

    Examples
    --------
    >>> import numpy as np
    >>> from numbarnn.datasets import make_adding_problem
    >>> X, y = make_adding_problem(4, 10, random_state=0)
    >>> X.shape, y.shape
    ((4, 10, 2), (4,))
    >>> X[:, :, 1].sum(axis=1)  # two marked steps per sequence
    array([2., 2., 2., 2.])
    >>> bool(np.allclose(y, (X[:, :, 0] * X[:, :, 1]).sum(axis=1)))
    True
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

    Examples
    --------
    >>> import numpy as np
    >>> from numbarnn.datasets import make_delayed_recall
    >>> X, y = make_delayed_recall(4, 6, delay=2, random_state=0)
    >>> X.shape, y.shape
    ((4, 6, 1), (4, 6))
    >>> bool(np.array_equal(y[:, 2:], X[:, :-2, 0])), bool((y[:, :2] == 0).all())
    (True, True)
    """
    if delay >= n_timesteps:
        raise ValueError(f"delay ({delay}) must be less than n_timesteps ({n_timesteps})")
    rng = check_random_state(random_state)
    x = rng.standard_normal((n_samples, n_timesteps))
    y = np.zeros_like(x)
    y[:, delay:] = x[:, : n_timesteps - delay]
    return x[:, :, None], y


REBER_SYMBOLS = "BTPSXVE"  #: the embedded Reber grammar's symbols; token id = position here

# The Reber grammar (Reber 1967) as a graph: each node's two edges, (symbol, next node),
# taken with probability 1/2; node 5 ends the string with E.
_REBER = (((1, "T"), (2, "P")), ((1, "S"), (3, "X")), ((2, "T"), (4, "V")),
          ((2, "X"), (5, "S")), ((3, "P"), (5, "V")))


def _reber_string(rng):
    symbols, node = ["B"], 0
    while node != 5:
        node, symbol = _REBER[node][rng.randint(2)]
        symbols.append(symbol)
    return symbols + ["E"]


@validate_params(
    {"n_samples": [Interval(Integral, 1, None, closed="left")],
     "random_state": ["random_state"]},
    prefer_skip_nested_validation=True,
)
def make_embedded_reber(n_samples, random_state=None):
    """Next-symbol prediction on the embedded Reber grammar (Hochreiter & Schmidhuber 1997).

    A string is B, then T or P, then a string of the Reber grammar (B, a random walk
    through its graph, E), then the same T or P again, then E. Every step but the
    second-to-last can be predicted from the few symbols before it (up to the
    grammar's coin flips); the T or P before the final E repeats the second symbol,
    which lies a whole inner string back (6 or more steps): a model that forgets
    it gets that step right half the time.

    Parameters
    ----------
    n_samples : int
        Number of strings.
    random_state : int, RandomState instance or None
        Seed of the choices.

    Returns
    -------
    X : list of ndarray of int
        Each string but its last symbol, as token ids into :data:`REBER_SYMBOLS`
        (``vocab_size=7``); lengths differ.
    y : list of ndarray of int
        The next symbol at each step (each string but its first symbol): per-step
        labels for ``return_sequences=True``.

    Notes
    -----
    A perfect model's per-symbol perplexity is not 1: at each of the grammar's
    branch points two symbols are equally likely. The long-range step is the
    second-to-last of each string (``y[i][-2]``, which equals ``X[i][1]``).

    Examples
    --------
    >>> from numbarnn.datasets import REBER_SYMBOLS, make_embedded_reber
    >>> X, y = make_embedded_reber(3, random_state=0)
    >>> for ids in X:
    ...     print("".join(REBER_SYMBOLS[i] for i in ids))
    BTBPVPSET
    BPBPVVEP
    BPBPTTVPXTTTVPSEP
    >>> X[0], y[0]  # y is X one step ahead
    (array([0, 1, 0, 2, 5, 2, 3, 6, 1]), array([1, 0, 2, 5, 2, 3, 6, 1, 6]))
    >>> all(labels[-2] == ids[1] for ids, labels in zip(X, y))  # the long-range step
    True
    """
    rng = check_random_state(random_state)
    ids = {s: i for i, s in enumerate(REBER_SYMBOLS)}
    X, y = [], []
    for _ in range(n_samples):
        outer = "TP"[rng.randint(2)]
        string = np.array([ids[s] for s in ["B", outer, *_reber_string(rng), outer, "E"]])
        X.append(string[:-1])
        y.append(string[1:])
    return X, y
