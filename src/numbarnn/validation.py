"""Checks of the sequences, targets and lengths users pass, with errors that name the problem."""

import warnings

import numpy as np
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array


def is_ragged_list(X):
    return (isinstance(X, (list, tuple)) and len(X) > 0
            and all(hasattr(x, "shape") or isinstance(x, (list, tuple)) for x in X)
            and len({np.shape(x)[0] if np.ndim(x) else -1 for x in X}) > 1)


def pad(sequences, name):
    """Stack a list of (T_i,) or (T_i, d) arrays into one zero-padded array and their lengths."""
    arrays = [_numeric(s, f"{name}[{i}]", ensure_2d=False) for i, s in enumerate(sequences)]
    trailing = {a.shape[1:] for a in arrays}
    if len(trailing) > 1 or any(a.ndim not in (1, 2) for a in arrays):
        raise ValueError(f"the sequences in {name} must all be 1D or all 2D with the same number "
                         f"of features; got shapes {sorted({a.shape for a in arrays})}")
    lengths = np.array([len(a) for a in arrays], np.int64)
    if lengths.min() == 0:
        raise ValueError(f"{name}[{int(np.argmin(lengths))}] is an empty sequence (0 time steps)")
    out = np.zeros((len(arrays), lengths.max()) + arrays[0].shape[1:],
                   np.result_type(*arrays, np.float32))
    for i, a in enumerate(arrays):
        out[i, : len(a)] = a
    return out, lengths


def _numeric(a, name, **kwargs):
    """``a`` as a numeric array (scikit-learn's ``check_array``), finite or not.

    Dates and durations (``TypeError``) and complex numbers (``ValueError``) are refused
    here: ``check_array`` would let datetime64 through as numbers, and a cast to float
    drops imaginary parts.
    """
    if _plain(a, **kwargs):
        return a  # what check_array returns for it, in a few microseconds instead of 150
    if not hasattr(a, "dtype"):
        a = np.asarray(a)
    kind = getattr(a.dtype, "kind", None)
    if kind in ("M", "m"):
        raise TypeError(f"{name} holds dates or durations ({a.dtype}), not numbers; convert "
                        "them to numbers first (for example seconds since a start)")
    if kind == "c":  # ValueError and these words, as scikit-learn's own check says it
        raise ValueError(f"Complex data not supported: {name} is {a.dtype}; recurrent "
                         "networks here take real numbers")
    return check_array(a, allow_nd=True, dtype="numeric", input_name=name,
                       ensure_all_finite=False, **kwargs)


def _plain(a, ensure_2d=True, ensure_min_samples=1, ensure_min_features=1):
    """Whether ``a`` is a NumPy array of real numbers, not empty, that ``check_array``
    would return unchanged under these options (it spends most of its time asking
    whether the input is a dataframe)."""
    return (type(a) is np.ndarray and a.dtype.kind in "fiu" and a.size > 0
            and a.ndim >= (2 if ensure_2d else 1) and a.shape[0] >= ensure_min_samples
            and (a.ndim != 2 or a.shape[1] >= ensure_min_features))


def real_array(a, dtype, name):
    """Any real array-like (weights, for instance) as a finite array of ``dtype``.

    Raises
    ------
    TypeError
        For dates or durations.
    ValueError
        For complex numbers, values that are not numbers, NaN, infinite or beyond
        ``dtype``'s range.
    """
    return as_finite(_numeric(a, name, ensure_2d=False, ensure_min_samples=0), dtype, name)


def as_finite(a, dtype, name):
    """``a`` cast to ``dtype``, checked finite after the cast.

    The check runs after the cast because a value finite in float64 (1e39) becomes
    infinite in float32.

    Parameters
    ----------
    a : ndarray
        A real array.
    dtype : dtype
        The compute dtype.
    name : str
        What ``a`` is, for the error message.

    Returns
    -------
    ndarray of ``dtype``

    Raises
    ------
    ValueError
        Naming the first position that is NaN, infinite, or out of ``dtype``'s range.
    """
    dtype = np.dtype(dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.asarray(a).astype(dtype, copy=False)
        if np.isfinite(out.sum()):  # scikit-learn's fast path: no array of flags
            return out
    finite = np.isfinite(out)
    if not finite.all():
        where = tuple(int(i) for i in np.argwhere(~finite)[0])
        value = np.asarray(a)[where]
        if np.isfinite(value):
            raise ValueError(f"{name} holds {value!r} at index {where}, beyond the range of "
                             f"{dtype} (largest {np.finfo(dtype).max:.3g}); scale it, or use "
                             "dtype='float64'")
        raise ValueError(f"{name} contains NaN or infinity (first at index {where})")
    return out


def valid_steps(lengths, T):
    """(n, T) bool: whether step t of sequence i is valid, t < lengths[i] (the rest is
    padding)."""
    return np.arange(T)[None, :] < np.asarray(lengths)[:, None]


def check_sequences(X, lengths=None, dtype=np.float32, n_features=None):
    """Validate X and return it as an (n, T, d) array of ``dtype`` and lengths (n,) int64.

    Parameters
    ----------
    X : array-like of shape (n, T, d) or (n, T), or list of (T_i, d) or (T_i,) arrays
        A 2D X is n univariate sequences; a list of sequences of different lengths
        is zero-padded and its lengths are taken from it.
    lengths : array-like of int, shape (n,), optional
        Valid steps per sequence (default: all T, or the lengths of a list).
    dtype : dtype
        Compute dtype.
    n_features : int, optional
        Features per step seen in fit; a different number is an error.
    """
    if is_ragged_list(X):
        X, list_lengths = pad(X, "X")
        if lengths is not None and not np.array_equal(np.asarray(lengths), list_lengths):
            raise ValueError("lengths does not match the lengths of the sequences in X")
        lengths = list_lengths
    if not hasattr(X, "shape"):
        X = np.asarray(X)
    if getattr(X, "ndim", None) not in (2, 3):
        raise ValueError(f"X must be 3D (n_samples, n_timesteps, n_features) or 2D (n_samples, "
                         f"n_timesteps) for univariate sequences; got shape {np.shape(X)}. "
                         "Reshape your data.")
    if X.shape[0] == 0:
        raise ValueError(f"X is empty: 0 sequences (shape {X.shape})")
    if X.shape[1] == 0:
        raise ValueError(f"X has sequences with 0 time steps: 0 feature(s) (shape={X.shape}) "
                         "while a minimum of 1 is required.")
    X = _numeric(X, "X", ensure_min_samples=1, ensure_min_features=1)
    if X.ndim == 2:
        X = X[:, :, None]
    if X.shape[2] == 0:
        raise ValueError(f"X has 0 features per time step (shape {X.shape})")
    X = as_finite(X, dtype, "X")
    if n_features is not None and X.shape[2] != n_features:
        raise ValueError(f"X has {X.shape[2]} features per time step, but the estimator was "
                         f"fitted with {n_features}")
    return X, check_lengths(lengths, X.shape[0], X.shape[1])


def check_lengths(lengths, n, T):
    """Validate lengths (default all T) against n sequences of T steps."""
    if lengths is None:
        return np.full(n, T, np.int64)
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or lengths.shape[0] != n:
        raise ValueError(f"lengths must have one entry per sequence: expected shape ({n},), "
                         f"got {lengths.shape}")
    if lengths.dtype.kind not in "iu" and not (
            lengths.dtype.kind == "f" and np.all(np.mod(lengths, 1) == 0)):
        raise TypeError(f"lengths must be integers, got dtype {lengths.dtype}")
    lengths = lengths.astype(np.int64)
    if lengths.min() < 1 or lengths.max() > T:
        raise ValueError(f"lengths must lie in [1, {T}] (the number of time steps in X); got "
                         f"values from {lengths.min()} to {lengths.max()}")
    return lengths


def check_targets(y, X, return_sequences, dtype, lengths=None):
    """Validate y against X and return it as (n, k) or (n, T, k), with its original ndim.

    Per sequence y is (n,) or (n, k); with ``return_sequences`` it is (n, T) or
    (n, T, k), or a list of per-sequence arrays whose lengths are X's ``lengths``.
    """
    n, T = X.shape[:2]
    if y is None:
        raise ValueError("requires y to be passed, but the target y is None")
    if return_sequences and is_ragged_list(y):
        y, y_lengths = pad(y, "y")
        if lengths is not None and len(y_lengths) == len(lengths) and not np.array_equal(
                y_lengths, lengths):
            i = int(np.argmax(y_lengths != lengths))
            raise ValueError(f"the sequences in y must have the lengths of those in X: y[{i}] "
                             f"has {y_lengths[i]} steps, X[{i}] {lengths[i]}")
        if len(y) == n and y.shape[1] < T:  # X is padded further than y's longest sequence
            y = np.concatenate([y, np.zeros((n, T - y.shape[1]) + y.shape[2:], y.dtype)], 1)
    y = _numeric(y, "y", ensure_2d=False)
    if y.shape[0] != n:
        raise ValueError(f"X and y have different numbers of sequences: {n} and {y.shape[0]}")
    if return_sequences:
        if y.ndim not in (2, 3) or y.shape[1] != T:
            raise ValueError(f"with return_sequences=True, y must be (n, T) or (n, T, k) with "
                             f"T = {T} as in X; got shape {y.shape}")
        ndim = y.ndim
        y = y if y.ndim == 3 else y[:, :, None]
    else:
        if y.ndim not in (1, 2):
            raise ValueError(f"y must be (n,) or (n, k) for one target per sequence (or use "
                             f"return_sequences=True); got shape {y.shape}")
        ndim = y.ndim
        y = y if y.ndim == 2 else y[:, None]
    if y.shape[-1] == 0:
        raise ValueError("y has 0 targets")
    return as_finite(y, dtype, "y"), ndim


def check_sample_weight(sample_weight, lengths, T, per_step):
    """Validate ``sample_weight`` and return it as step weights (n, S, 1) of float64, zero
    at padded steps (S = T per step, 1 per sequence), or None when every weight is one.

    Parameters
    ----------
    sample_weight : None, float, array-like of shape (n,), or (n, T) if ``per_step``
        A weight per sequence (spread over its steps if ``per_step``) or, per step, one
        per step (a list of per-sequence arrays for a ragged X); non-negative, finite,
        not all zero.
    lengths : ndarray of int, shape (n,)
        Valid steps per sequence.
    T : int
        Steps in X.
    per_step : bool
        Whether the loss is over steps (``return_sequences=True``).

    Raises
    ------
    ValueError
        For a wrong shape, a negative, NaN or infinite weight, or weights whose sum over
        the valid steps is zero.
    """
    if sample_weight is None:
        return None
    n = len(lengths)
    if per_step and is_ragged_list(sample_weight):
        sample_weight, w_lengths = pad(sample_weight, "sample_weight")
        if len(w_lengths) == n and not np.array_equal(w_lengths, lengths):
            raise ValueError("the sequences in sample_weight must have the lengths of those "
                             "in X")
        sample_weight = np.pad(sample_weight, ((0, 0), (0, T - sample_weight.shape[1])))
    w = real_array(sample_weight, np.float64, "sample_weight")
    if w.ndim == 0:
        w = np.full(n, float(w))
    if w.ndim == 1 and w.shape == (n,):
        w = w[:, None]
    elif not (per_step and w.shape == (n, T)):
        expected = f"({n},) or ({n}, {T})" if per_step else f"({n},)"
        raise ValueError(f"sample_weight must be of shape {expected}: one weight per sequence"
                         f"{' or per step' if per_step else ''}; got shape {w.shape}")
    if (w < 0).any():
        raise ValueError("Negative values in data passed to sample_weight: weights must be "
                         "non-negative")
    valid = valid_steps(lengths, T if per_step else 1)
    w = np.broadcast_to(w, valid.shape) * valid
    if np.array_equal(w, valid):
        return None
    if not w.sum() > 0:
        raise ValueError("sample_weight sums to zero over the valid steps: at least one "
                         "weight must be positive")
    return w[..., None]


def check_labels(y, n, T, per_step, lengths):
    """Validate class labels for n sequences of T steps.

    Parameters
    ----------
    y : array-like of shape (n,), or (n, T) or a list of per-sequence arrays if ``per_step``
        Labels of any type (numbers, strings, booleans); a column (n, 1) or (n, T, 1) is
        taken with a ``DataConversionWarning``, as scikit-learn does.
    n, T : int
        Sequences and steps in X.
    per_step : bool
        One label per step (``return_sequences=True``) rather than per sequence.
    lengths : ndarray of int, shape (n,)
        Valid steps per sequence.

    Returns
    -------
    labels : ndarray of shape (n,) or (n, T)
        Padded steps hold a valid label of their sequence (never read).
    valid : ndarray of shape (m,)
        The labels of the valid steps (or of the sequences), flat.

    Raises
    ------
    ValueError
        For a wrong shape, NaN, or labels that are not classes (continuous values,
        several labels per row).
    """
    if y is None:
        raise ValueError("requires y to be passed, but the target y is None")
    if per_step and is_ragged_list(y):
        arrays = [np.asarray(s) for s in y]
        if any(a.ndim != 1 or a.size == 0 for a in arrays):
            raise ValueError("the label sequences in y must be 1D and not empty")
        y_lengths = np.array([len(a) for a in arrays])
        if len(arrays) == n and not np.array_equal(y_lengths, lengths):
            i = int(np.argmax(y_lengths != lengths))
            raise ValueError(f"the sequences in y must have the lengths of those in X: y[{i}] "
                             f"has {y_lengths[i]} labels, X[{i}] {lengths[i]} steps")
        flat = np.concatenate(arrays)
        y = np.empty((len(arrays), T), flat.dtype)
        for i, a in enumerate(arrays):
            y[i, : len(a)] = a  # the padding is filled below
    y = np.asarray(y)
    rows = 2 if per_step else 1
    if y.ndim == rows + 1 and y.shape[-1] == 1:
        warnings.warn(f"A column-vector y was passed when a {rows}d array was expected. Please "
                      "change the shape of y to (n_samples, n_timesteps)" if per_step else
                      "A column-vector y was passed when a 1d array was expected. Please change "
                      "the shape of y to (n_samples, ), for example using ravel().",
                      DataConversionWarning, stacklevel=4)
        y = y[..., 0]
    if y.ndim != rows:
        raise ValueError(
            (f"with return_sequences=True, y must hold one label per step, shape (n, T); got "
             f"shape {y.shape}") if per_step else
            (f"y must hold one label per sequence, shape (n,); got shape {y.shape} (multilabel "
             "and multi-output classification are not supported)"))
    if y.shape[0] != n:
        raise ValueError(f"X and y have different numbers of sequences: {n} and {y.shape[0]}")
    if per_step and y.shape[1] != T:
        raise ValueError(f"with return_sequences=True, y must be (n, T) with T = {T} as in X; "
                         f"got shape {y.shape}")
    if per_step:  # padded steps take the sequence's first label: never read, always a class
        mask = valid_steps(lengths, T)
        y = np.where(mask, y, y[:, :1])
        valid = y[mask]
    else:
        valid = y
    check_classification_targets(valid)
    return y, valid


def check_tokens(X, lengths, vocab_size):
    """Validate token sequences and return them as (n, T) int64 ids and lengths (n,).

    Parameters
    ----------
    X : array-like of shape (n, T), or list of 1D arrays of ids
        Token ids; a list of sequences of different lengths is padded with 0 and its
        lengths are taken from it.
    lengths : array-like of int, shape (n,), optional
        Valid steps per sequence (default: all T, or the lengths of a list).
    vocab_size : int
        Ids must lie in [0, vocab_size) at valid steps; padded steps may hold anything.

    Raises
    ------
    TypeError
        For ids that are not integers (floats with a fractional part, strings).
    ValueError
        For a wrong shape, an empty X, or an id out of range (naming where).
    """
    if is_ragged_list(X):
        arrays = [np.asarray(x) for x in X]
        if any(a.ndim != 1 or a.size == 0 for a in arrays):
            raise ValueError("token sequences must be 1D arrays of ids, none empty")
        list_lengths = np.array([len(a) for a in arrays], np.int64)
        if lengths is not None and not np.array_equal(np.asarray(lengths), list_lengths):
            raise ValueError("lengths does not match the lengths of the sequences in X")
        lengths = list_lengths
        X = np.zeros((len(arrays), list_lengths.max()), np.result_type(*arrays))
        for i, a in enumerate(arrays):
            X[i, : len(a)] = a
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"with vocab_size, X must be token ids of shape (n_samples, "
                         f"n_timesteps), neither empty, or a list of id sequences; got shape "
                         f"{X.shape}")
    lengths = check_lengths(lengths, *X.shape)
    valid = valid_steps(lengths, X.shape[1])
    if X.dtype.kind not in "iub":
        if X.dtype.kind != "f" or not np.all(np.isfinite(X[valid]) & (X[valid] % 1 == 0)):
            raise TypeError(f"with vocab_size, X must hold integer token ids, got dtype "
                            f"{X.dtype}" + (" with fractional or non-finite values"
                                            if X.dtype.kind == "f" else ""))
        X = np.where(valid, X, 0)
    ids = X.astype(np.int64)
    check_token_ids(ids, lengths, vocab_size)
    return ids, lengths


def check_token_ids(ids, lengths, vocab_size):
    """ValueError unless every id (B, T) at a valid step is an integer in [0, vocab_size)."""
    ids = np.asarray(ids)
    if ids.ndim != 2:
        raise ValueError(f"token ids must be (B, T), got shape {ids.shape}")
    valid = valid_steps(lengths, ids.shape[1])
    bad = valid & ((ids < 0) | (ids >= vocab_size) | (ids % 1 != 0))
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"token id {ids[where]!r} at (sequence, step) {where} is outside the "
                         f"vocabulary [0, {vocab_size})")
