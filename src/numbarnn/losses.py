"""Losses with their gradient with respect to the network output."""

import numpy as np


def mse(output, target, mask=None):
    """Mean squared error over every output value, and its gradient.

    Parameters
    ----------
    output, target : ndarray of shape (B, k) or (B, T, k)
        Network output and target.
    mask : ndarray of bool, shape (B, T), optional
        Valid steps of per-step outputs; padded steps neither enter the mean
        nor receive a gradient.

    Returns
    -------
    loss : float
        mean((output - target)**2) over the valid values (as ``torch.nn.MSELoss``).
    doutput : ndarray, same shape as ``output``
        Gradient of ``loss``.
    """
    diff = output - target
    if mask is None:
        count = diff.size
    else:
        diff = diff * mask[..., None]
        count = int(mask.sum()) * diff.shape[-1]
    flat = diff.ravel()
    loss = float(np.dot(flat, flat)) / count
    return loss, diff * diff.dtype.type(2.0 / count)
