"""One training epoch over shuffled mini-batches, stopping cleanly when the loss diverges."""

import functools
import time
from contextlib import contextmanager

import numpy as np

from .exceptions import TrainingDivergedError
from .optim import clip_grad_norm
from .threads import serial_blas


def train_epoch(net, params, optimizer, data, batch_size, rng, clip_norm, epoch, last_good,
                shuffle=True, progress=None):
    """Run one epoch, updating ``params`` in place; return the mean training loss.

    Parameters
    ----------
    net : RecurrentNetwork
    params : ndarray
        Flat parameters, updated in place.
    optimizer : Adam, AdamW or SGD
    data : tuple of ndarray
        (X (n, T, d), y, lengths (n,)).
    batch_size : int
    rng : numpy.random.Generator
        Draws the batch order and the dropout masks.
    clip_norm : float or None
        Global gradient-norm limit.
    epoch : int
        Epoch number, for messages.
    last_good : ndarray
        Same shape as ``params``: the last weights whose batch loss was finite.
        Kept up to date here; on divergence ``params`` is set back to it.
    shuffle : bool, default=True
    progress : callable, optional
        Called as ``progress(batch, n_batches, mean_loss)`` at most every 10 seconds.

    Raises
    ------
    TrainingDivergedError
        On a NaN or infinite loss, gradient or updated parameter.
    """
    X, y, lengths = data
    n = len(X)
    order = rng.permutation(n) if shuffle else np.arange(n)
    dropout_rng = rng if net.dropout > 0 else None
    n_batches = -(-n // batch_size)
    total = 0.0
    shown = time.perf_counter()
    for batch, start in enumerate(range(0, n, batch_size), start=1):
        idx = order[start : start + batch_size]
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is raised below
            loss, grad = net.loss_and_grad(params, X[idx], y[idx], lengths[idx], dropout_rng)
        norm = clip_grad_norm(grad, clip_norm if clip_norm is not None else np.inf)
        if not (np.isfinite(loss) and np.isfinite(norm)):
            params[...] = last_good
            raise TrainingDivergedError(epoch, batch, loss)
        last_good[...] = params
        optimizer.step(params, grad)
        if not np.all(np.isfinite(params)):
            params[...] = last_good
            raise TrainingDivergedError(epoch, batch, loss)
        total += loss * len(idx)
        if progress is not None and time.perf_counter() - shown > 10:
            progress(batch, n_batches, total / min(start + batch_size, n))
            shown = time.perf_counter()
    return total / n


@contextmanager
def epochs(net, params, optimizer, data):
    """A function running one epoch, called as :func:`train_epoch` without its first four arguments.

    On the CPU, the network reuses its arrays from step to step until the block exits
    (:meth:`~numbarnn.network.RecurrentNetwork.reusing_memory`), and BLAS stays on one
    thread throughout (:func:`~numbarnn.threads.serial_blas`), as inside each pass. A network with a
    ``trainer`` (the GPU's) keeps ``data`` and the optimizer's state on its device until
    the block exits.
    """
    if not hasattr(net, "trainer"):
        with net.reusing_memory(), serial_blas():  # BLAS on one thread for every step at once
            yield functools.partial(train_epoch, net, params, optimizer, data)
        return
    trainer = net.trainer(params, optimizer, data)
    try:
        yield trainer
    finally:
        trainer.close()
