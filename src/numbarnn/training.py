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
from .network import Batch, StepWeights
from .optim import move_state


@contextmanager
def epochs(net, params, optimizer, data):
    """A function running one epoch, called as :func:`train_epoch` without its first five
    arguments.

    Until the block exits, ``data`` (X (n, T, d), y, lengths (n,), and the step weights
    (n, S, 1) of :func:`~numbarnn.validation.check_sample_weight` or None: host arrays), the
    parameters and the optimizer's state live on the network's backend, with a copy of
    both as they were before the last step (:class:`LastGood`), and the network reuses
    its arrays from step to step
    (:meth:`~numbarnn.network.RecurrentNetwork.reusing_memory`). ``params`` (host) is
    updated at the end of every epoch, and set back to the last good weights when
    training diverges; the optimizer's state comes back to the host when the block exits.
    """
    be = net.backend
    X, y, lengths, weights = data
    with net.reusing_memory(), be.scope():
        on_backend = (net.batch(X, lengths, params.dtype), net.time_major_targets(y, params.dtype),
                      None if weights is None else
                      (weights, net.time_major_weights(weights, params.dtype).values))
        move_state(optimizer, be.asarray)
        try:
            state = be.asarray(params)
            good = LastGood(be, state, optimizer)
            yield functools.partial(train_epoch, net, params, state, optimizer, good, on_backend)
        finally:
            move_state(optimizer, be.to_host)


class LastGood:
    """The last parameters whose batch loss was finite, and the optimizer's state then.

    Before each step the training loop keeps the parameters and the optimizer's state
    (:meth:`keep`); when a loss, gradient or update turns out NaN or infinite, both
    are set back (:meth:`restore`), so that training can go on from a consistent state.

    Parameters
    ----------
    backend : backend
        Where the arrays live.
    params : array
        The parameters on the backend.
    optimizer : Adam, AdamW or SGD
        Its state on the backend; created now if it has none yet.
    """

    def __init__(self, backend, params, optimizer):
        self.backend = backend
        optimizer.init_state(params, backend)
        self.params = backend.zeros(params.shape, params.dtype)
        self.state = {name: backend.zeros(params.shape, params.dtype)
                      for name in optimizer.state_names}
        self.keep(params, optimizer)

    def keep(self, params, optimizer):
        """Copy ``params`` and the optimizer's state."""
        self.backend.copy_into(self.params, params)
        for name, copy in self.state.items():
            self.backend.copy_into(copy, getattr(optimizer, name))
        self.t = optimizer.t

    def restore(self, params, optimizer):
        """Set ``params`` and the optimizer's state back to the kept copies."""
        self.backend.copy_into(params, self.params)
        for name, copy in self.state.items():
            self.backend.copy_into(getattr(optimizer, name), copy)
        optimizer.t = self.t


def train_epoch(net, host_params, params, optimizer, good, data, batch_size, rng, clip_norm,
                epoch, shuffle=True, progress=None):
    """Run one epoch, updating ``params`` in place; return the mean training loss.

    Parameters
    ----------
    net : RecurrentNetwork
    host_params : ndarray
        Flat parameters on the host: a copy of ``params`` at the end of the epoch.
    params : array
        The parameters on the network's backend, updated at every step.
    optimizer : Adam, AdamW or SGD
        Its state on the network's backend.
    good : LastGood
        Kept up to date before every step; on divergence, ``params``, ``host_params``
        and the optimizer are set back to it.
    data : tuple
        (Batch of every sequence, time-major targets, None or (host step weights (n, S, 1),
        the same time-major on the network's backend)).
    batch_size : int
    rng : numpy.random.Generator
        Draws the batch order and the dropout masks.
    clip_norm : float or None
        Global gradient-norm limit.
    epoch : int
        Epoch number, for messages.
    shuffle : bool, default=True
    progress : callable, optional
        Called as ``progress(batch, n_batches, mean_loss)`` at most every 10 seconds.

    Raises
    ------
    TrainingDivergedError
        On a NaN or infinite loss, gradient or updated parameter, after setting the
        parameters and the optimizer back to the last good ones.
    """
    be = net.backend
    every, targets, weights = data
    n = len(every.lengths)
    order = rng.permutation(n) if shuffle else np.arange(n)
    dropout_rng = rng if net.dropout > 0 else None
    n_batches = -(-n // batch_size)
    total = 0.0
    shown = time.perf_counter()
    for batch, start in enumerate(range(0, n, batch_size), start=1):
        idx = order[start : start + batch_size]
        lengths = every.lengths[idx]
        part = Batch(be.take(every.x, idx), lengths, be.asarray(lengths))
        part_weights = None if weights is None else StepWeights(
            be.take(weights[1], idx), float(weights[0][idx].sum()))
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is raised below
            loss, grad = net.batch_loss_and_grad(params, part, be.take(targets, idx),
                                                 dropout_rng, weights=part_weights)
            norm = be.clip_grad_norm(grad, clip_norm if clip_norm is not None else np.inf)
        if not (np.isfinite(loss) and np.isfinite(norm)):
            _diverged(be, good, params, host_params, optimizer, epoch, batch, loss)
        good.keep(params, optimizer)
        optimizer.step(params, grad, be)
        if not be.all_finite(params):
            _diverged(be, good, params, host_params, optimizer, epoch, batch, loss)
        total += loss * (len(idx) if weights is None else part_weights.total)
        if progress is not None and time.perf_counter() - shown > 10:
            progress(batch, n_batches, total / min(start + batch_size, n))
            shown = time.perf_counter()
    if params is not host_params:  # on the CPU the backend works on the host array itself
        host_params[...] = be.to_host(params)
    return total / (n if weights is None else float(weights[0].sum()))


def _diverged(be, good, params, host_params, optimizer, epoch, batch, loss):
    """Set the parameters and the optimizer back to the last good ones and raise."""
    good.restore(params, optimizer)
    if params is not host_params:
        host_params[...] = be.to_host(params)
    raise TrainingDivergedError(epoch, batch, loss)
