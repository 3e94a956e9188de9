"""Checks of the sequences, targets and lengths users pass, with errors that name the problem."""

import numpy as np
from sklearn.utils.validation import check_array


def is_ragged_list(X):
    return (isinstance(X, (list, tuple)) and len(X) > 0
            and all(hasattr(x, "shape") or isinstance(x, (list, tuple)) for x in X)
            and len({np.shape(x)[0] if np.ndim(x) else -1 for x in X}) > 1)


def pad(sequences, name):
    """Stack a list of (T_i,) or (T_i, d) arrays into one zero-padded array and their lengths."""
    arrays = [check_array(np.asarray(s), ensure_2d=False, allow_nd=True, dtype="numeric",
                          input_name=f"{name}[{i}]") for i, s in enumerate(sequences)]
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
    X = check_array(X, allow_nd=True, dtype="numeric", input_name="X",
                    ensure_min_samples=1, ensure_min_features=1)
    if X.ndim == 2:
        X = X[:, :, None]
    if X.shape[2] == 0:
        raise ValueError(f"X has 0 features per time step (shape {X.shape})")
    X = X.astype(dtype, copy=False)
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


def check_targets(y, X, return_sequences, dtype):
    """Validate y against X and return it as (n, k) or (n, T, k), with its original ndim.

    Per sequence y is (n,) or (n, k); with ``return_sequences`` it is (n, T) or
    (n, T, k), or a list of per-sequence arrays matching a ragged X.
    """
    n, T = X.shape[:2]
    if y is None:
        raise ValueError("requires y to be passed, but the target y is None")
    if return_sequences and is_ragged_list(y):
        y, _ = pad(y, "y")
    y = check_array(np.asarray(y) if not hasattr(y, "shape") else y, ensure_2d=False,
                    allow_nd=True, dtype="numeric", input_name="y")
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
    return y.astype(dtype, copy=False), ndim
