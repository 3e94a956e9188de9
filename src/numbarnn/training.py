"""The training loop, one for every device: epochs of shuffled mini-batches, stopping cleanly
when the loss diverges.

For the length of a fit, the data, the parameters and the optimizer's state live on the
network's backend (on a GPU they stay in its memory); the host draws the batch order and
the dropout masks, and reads back a batch's loss and gradient norm, and the parameters
once per epoch.
"""

import functools
import time
from contextlib import contextmanager

import numpy as np

from .exceptions import TrainingDivergedError
from .network import Batch
from .optim import move_state


@contextmanager
def epochs(net, params, optimizer, data):
    """A function running one epoch, called as :func:`train_epoch` without its first four
    arguments.

    Until the block exits, ``data`` (X (n, T, d), y, lengths (n,), host arrays), the
    parameters and the optimizer's state live on the network's backend, and the network
    reuses its arrays from step to step
    (:meth:`~numbarnn.network.RecurrentNetwork.reusing_memory`). ``params`` (host) is
    updated at the end of every epoch; the optimizer's state comes back to the host when
    the block exits.
    """
    be = net.backend
    X, y, lengths = data
    with net.reusing_memory(), be.scope():
        on_backend = (net.batch(X, lengths, params.dtype), net.time_major_targets(y, params.dtype))
        move_state(optimizer, be.asarray)
        try:
            yield functools.partial(train_epoch, net, params, optimizer, on_backend)
        finally:
            move_state(optimizer, be.to_host)


def train_epoch(net, params, optimizer, data, batch_size, rng, clip_norm, epoch, last_good,
                shuffle=True, progress=None):
    """Run one epoch, updating ``params`` in place; return the mean training loss.

    Parameters
    ----------
    net : RecurrentNetwork
    params : ndarray
        Flat parameters on the host, updated in place at the end of the epoch.
    optimizer : Adam, AdamW or SGD
        Its state on the network's backend.
    data : tuple
        (Batch of every sequence, time-major targets), on the network's backend.
    batch_size : int
    rng : numpy.random.Generator
        Draws the batch order and the dropout masks.
    clip_norm : float or None
        Global gradient-norm limit.
    epoch : int
        Epoch number, for messages.
    last_good : ndarray
        Same shape as ``params``: the last weights whose batch loss was finite.
        Kept up to date; on divergence ``params`` is set back to it.
    shuffle : bool, default=True
    progress : callable, optional
        Called as ``progress(batch, n_batches, mean_loss)`` at most every 10 seconds.

    Raises
    ------
    TrainingDivergedError
        On a NaN or infinite loss, gradient or updated parameter.
    """
    be = net.backend
    every, targets = data
    n = len(every.lengths)
    order = rng.permutation(n) if shuffle else np.arange(n)
    dropout_rng = rng if net.dropout > 0 else None
    n_batches = -(-n // batch_size)
    on_backend = be.asarray(params)
    good = be.asarray(last_good)
    total = 0.0
    shown = time.perf_counter()
    for batch, start in enumerate(range(0, n, batch_size), start=1):
        idx = order[start : start + batch_size]
        lengths = every.lengths[idx]
        part = Batch(be.take(every.x, idx), lengths, be.asarray(lengths))
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is raised below
            loss, grad = net.batch_loss_and_grad(on_backend, part, be.take(targets, idx),
                                                 dropout_rng)
            norm = be.clip_grad_norm(grad, clip_norm if clip_norm is not None else np.inf)
        if not (np.isfinite(loss) and np.isfinite(norm)):
            _diverged(be, good, params, last_good, epoch, batch, loss)
        be.copy_into(good, on_backend)
        optimizer.step(on_backend, grad, be)
        if not be.all_finite(on_backend):
            _diverged(be, good, params, last_good, epoch, batch, loss)
        total += loss * len(idx)
        if progress is not None and time.perf_counter() - shown > 10:
            progress(batch, n_batches, total / min(start + batch_size, n))
            shown = time.perf_counter()
    params[...] = be.to_host(on_backend)
    last_good[...] = be.to_host(good)
    return total / n


def _diverged(be, good, params, last_good, epoch, batch, loss):
    """Set the parameters back to the last good ones and raise."""
    last_good[...] = be.to_host(good)
    params[...] = last_good
    raise TrainingDivergedError(epoch, batch, loss)
