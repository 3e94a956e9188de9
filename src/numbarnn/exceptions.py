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
    """
