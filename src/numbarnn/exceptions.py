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
    """

    def __init__(self, epoch, batch, loss):
        self.epoch, self.batch, self.loss = epoch, batch, loss
        super().__init__(
            f"training diverged at epoch {epoch}, batch {batch} (loss {loss}); the last "
            "weights with a finite loss were restored. Lower learning_rate_init or set "
            "clip_norm."
        )
