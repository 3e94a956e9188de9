"""numbarnn's own exceptions."""


class TrainingDivergedError(RuntimeError):
    """Training met a NaN or infinite loss or gradient and stopped.

    The estimator keeps the last weights at which the loss was finite (those
    before the step that broke them), so it is still usable; lower
    ``learning_rate_init`` or set ``clip_norm`` and fit again.

    Attributes
    ----------
    epoch : int
        Epoch (1-based, counted over the estimator's life) in which it happened.
    batch : int
        Batch within that epoch (1-based).
    loss : float
        That batch's loss (NaN or infinite, or finite when only the gradient or
        the updated weights were not).

    Examples
    --------
    Targets of 1e20, unscaled, overflow float32's loss in the first batch:

    >>> import numpy as np
    >>> from numbarnn import LSTMRegressor, TrainingDivergedError
    >>> X = np.random.default_rng(0).standard_normal((16, 8, 1))
    >>> model = LSTMRegressor(hidden_size=4, max_iter=2, standardize=False, random_state=0)
    >>> try:
    ...     model.fit(X, 1e20 * X[:, -1, 0])
    ... except TrainingDivergedError as error:
    ...     print(f"epoch {error.epoch}, batch {error.batch}")
    epoch 1, batch 1

    The model keeps the last weights with a finite loss, and still predicts:

    >>> model.predict(X).shape
    (16,)
    """

    def __init__(self, epoch, batch, loss):
        self.epoch, self.batch, self.loss = epoch, batch, loss
        super().__init__(
            f"training diverged at epoch {epoch}, batch {batch} (loss {loss}); the last "
            "weights with a finite loss were restored. Lower learning_rate_init or set "
            "clip_norm."
        )

    def __reduce__(self):  # pickles, so a fit on a Dask worker can report it
        return type(self), (self.epoch, self.batch, self.loss)


class FitManyError(RuntimeError):
    """Some fits of :func:`numbarnn.parallel.fit_many` failed; the others succeeded.

    Raised once every fit has finished; nothing is dropped.

    Attributes
    ----------
    errors : dict of int to Exception
        The exception of each failed fit, by the index of its dataset.
    estimators : list
        The fitted estimators in the order of the datasets, None where the fit failed.

    Examples
    --------
    What ``fit_many(estimator, datasets)`` raises when the second of three fits
    failed (here made by hand: a fit needs a Dask cluster):

    >>> from numbarnn.exceptions import FitManyError
    >>> error = FitManyError({1: ValueError("Input X contains NaN.")},
    ...                      ["<fitted 0>", None, "<fitted 2>"])
    >>> print(error)
    1 of 3 fits failed: dataset 1: ValueError: Input X contains NaN.
    >>> sorted(error.errors), error.estimators[0]
    ([1], '<fitted 0>')

    Catch it to keep the fits that succeeded::

        try:
            models = fit_many(estimator, datasets)
        except FitManyError as error:
            models = error.estimators  # None for each failed dataset
    """

    def __init__(self, errors, estimators):
        self.errors, self.estimators = errors, estimators
        shown = [f"dataset {i}: {type(e).__name__}: {e}" for i, e in list(errors.items())[:3]]
        more = f"; and {len(errors) - 3} more (see .errors)" if len(errors) > 3 else ""
        super().__init__(f"{len(errors)} of {len(estimators)} fits failed: "
                         + "; ".join(shown) + more)

    def __reduce__(self):
        return type(self), (self.errors, self.estimators)


class DeviceUnavailableError(RuntimeError):
    """``device='cuda'`` was asked for, but numba-cuda or a usable NVIDIA GPU is missing.

    The message says which; ``pip install "numbarnn[cuda]"`` installs numba-cuda.
    """


class LayoutWarning(UserWarning):
    """X looks transposed: far more features per step than steps.

    numbarnn reads a 3D X as (n_samples, n_timesteps, n_features); aeon and sktime
    store panels as (n_samples, n_channels, n_timesteps). Pass such a panel as
    ``X.transpose(0, 2, 1)``, or silence the warning with :mod:`warnings` if the
    layout is meant.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from numbarnn import LSTMRegressor
    >>> from numbarnn.exceptions import LayoutWarning
    >>> panel = np.random.default_rng(0).standard_normal((16, 2, 10))  # (n, d, T)
    >>> model = LSTMRegressor(hidden_size=4, max_iter=2, random_state=0)
    >>> def layout_warnings(X):
    ...     with warnings.catch_warnings(record=True) as caught:
    ...         warnings.simplefilter("always")
    ...         model.fit(X, X.sum(axis=(1, 2)))
    ...     return [str(w.message) for w in caught if w.category is LayoutWarning]
    >>> print(*layout_warnings(panel))
    X of shape (16, 2, 10) is read as 16 sequences of 2 time step(s) with 10 features each.
    If it is an (n_samples, n_channels, n_timesteps) panel, as aeon and sktime store them
    (2 channel(s) over 10 steps), pass X.transpose(0, 2, 1).
    >>> layout_warnings(panel.transpose(0, 2, 1))  # (n, T, d): 10 steps of 2 features
    []
    """
