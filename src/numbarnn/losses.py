"""The losses, written once per output row and compiled for every backend.

A network's output is (S, B, k): S = T steps with ``return_sequences``, else 1; B
sequences; k outputs. Each loss is a sum over rows (t, b) of a row loss, weighted by the
row's weight w (0 at padded steps, else 1 or the sample weight), and divided by the
loss's count: sum(w) * k for the element-wise losses, sum(w) for cross-entropy, whose row
is one distribution. Every backend runs :func:`row_loss` over the rows; the
count is the backend's ``loss`` method's.

- ``'mse'``: (output - target)**2, as ``torch.nn.MSELoss``;
- ``'cross_entropy'``: softmax cross-entropy of the k logits against the class index
  ``target[t, b, 0]``, as ``torch.nn.CrossEntropyLoss``;
- ``'binary_cross_entropy'``: log-loss of each logit against a target in [0, 1], as
  ``torch.nn.BCEWithLogitsLoss``.
"""

import math

from ._compile import pointwise

MSE, CROSS_ENTROPY, BINARY_CROSS_ENTROPY = 0, 1, 2
KINDS = {"mse": MSE, "cross_entropy": CROSS_ENTROPY,
         "binary_cross_entropy": BINARY_CROSS_ENTROPY}  #: name: the code the backends take


def divisor(kind, shape, lengths, per_step, total_weight=None):
    """What loss ``kind`` (a code of :data:`KINDS`) over outputs of ``shape`` (S, B, k)
    divides its weighted sum by: the rows' total weight (``total_weight`` if given, else
    the valid steps of ``lengths`` if ``per_step``, else B), times k unless cross-entropy."""
    S, B, k = shape
    rows = (total_weight if total_weight is not None
            else int(lengths.sum()) if per_step else B)
    return rows * (1 if kind == CROSS_ENTROPY else k)


@pointwise
def row_loss(kind, output, target, t, b, w, scale, doutput):
    """Loss of row (t, b) of ``output`` (S, B, k) times its weight ``w``; writes its
    gradient times ``scale`` into ``doutput[t, b]``.

    Written with branches rather than ``max``, ``min`` and ``abs`` of floats, which the
    CUDA target lacks. Returns a float64.

    Examples
    --------
    Called from Python, as the CUDA simulator runs it; ``kind`` is a code of
    :data:`KINDS`:

    >>> import numpy as np
    >>> from numbarnn.losses import KINDS, row_loss
    >>> output = np.array([[[0.5, 2.0]]])  # (S, B, k) = (1, 1, 2)
    >>> doutput = np.zeros_like(output)
    >>> float(row_loss(KINDS["mse"], output, np.array([[[1.0, 2.0]]]), 0, 0, 1.0, 1.0,
    ...                doutput))
    0.25
    >>> doutput  # d/doutput of (0.5 - 1)**2 + (2 - 2)**2
    array([[[-1.,  0.]]])

    Cross-entropy of four equal logits against class 2 is log(4):

    >>> logits, doutput = np.zeros((1, 1, 4)), np.zeros((1, 1, 4))
    >>> loss = row_loss(KINDS["cross_entropy"], logits, np.array([[[2.0]]]), 0, 0, 1.0, 1.0,
    ...                 doutput)
    >>> bool(np.isclose(loss, np.log(4))), doutput  # softmax minus the one-hot target
    (True, array([[[ 0.25,  0.25, -0.75,  0.25]]]))
    """
    K = output.shape[2]
    factor = w * scale
    if kind == CROSS_ENTROPY:
        top = output[t, b, 0]
        for j in range(1, K):
            if output[t, b, j] > top:
                top = output[t, b, j]
        total = 0.0
        for j in range(K):
            total += math.exp(output[t, b, j] - top)
        log_sum = top + math.log(total)  # log-sum-exp of the logits
        c = int(target[t, b, 0])
        for j in range(K):
            doutput[t, b, j] = factor * math.exp(output[t, b, j] - log_sum)
        doutput[t, b, c] -= factor
        return w * (log_sum - output[t, b, c])
    total = 0.0
    for j in range(K):
        x, y = output[t, b, j], target[t, b, j]
        if kind == BINARY_CROSS_ENTROPY:
            e = math.exp(-x if x > 0 else x)  # exp(-|x|): never overflows
            total += (x if x > 0 else 0.0) - x * y + math.log1p(e)
            p = 1.0 / (1.0 + e) if x >= 0 else e / (1.0 + e)  # sigmoid(x)
            doutput[t, b, j] = factor * (p - y)
        else:
            d = x - y
            total += d * d
            doutput[t, b, j] = factor * 2.0 * d
    return w * total
