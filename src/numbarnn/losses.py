"""Losses with their gradient with respect to the network output."""

import numpy as np


def mse(output, target, weight=None, total=None):
    """Mean squared error over every output value, and its gradient.

    Parameters
    ----------
    output, target : ndarray of shape (B, k) or (S, B, k)
        Network output and target.
    weight : ndarray of shape (B, 1) or (S, B, 1), optional
        Weight of each output vector (a bool mask of the valid steps, or sample
        weights that are zero at padded steps); zero-weighted values neither enter
        the mean nor receive a gradient.
    total : float, optional
        ``weight.sum()``, if known.

    Returns
    -------
    loss : float
        The weighted mean of (output - target)**2: sum(weight * (output - target)**2)
        / (sum(weight) * k), which without weights is ``torch.nn.MSELoss``'s.
    doutput : ndarray, same shape as ``output``
        Gradient of ``loss``.
    """
    diff = output - target
    if weight is None:
        weighted, count = diff, diff.size
    else:
        weighted = diff * weight
        count = (float(weight.sum()) if total is None else total) * diff.shape[-1]
    if count == 0:  # every weight of the batch is zero
        return 0.0, np.zeros_like(diff)
    loss = float(np.dot(weighted.ravel(), diff.ravel())) / count
    return loss, weighted * weighted.dtype.type(2.0 / count)
