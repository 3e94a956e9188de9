"""The optimizers' element-wise update rules, written once and compiled for every backend.

The rules are PyTorch's (``torch.optim.Adam``, ``AdamW``, ``SGD``); :mod:`numbarnn.optim`
holds the hyperparameters and the state, the backends run these rules over the flat
parameter vector.
"""

import math

from ._compile import pointwise


@pointwise
def adam_element(p, g, m, v, lr, beta1, beta2, eps, weight_decay, decoupled, step_size,
                 root_bias2):
    """One parameter's Adam update: (p, m, v) after the step.

    ``step_size`` and ``root_bias2`` are the step's bias corrections, from
    :meth:`numbarnn.Adam.corrections` (computed once per step: a power per element made the
    update 14x slower).
    """
    if decoupled:
        p -= lr * weight_decay * p
    else:
        g += weight_decay * p
    m = beta1 * m + (1.0 - beta1) * g
    v = beta2 * v + (1.0 - beta2) * g * g
    p -= step_size * m / (math.sqrt(v) / root_bias2 + eps)
    return p, m, v


@pointwise
def sgd_element(p, g, buf, lr, momentum, nesterov, weight_decay):
    """One parameter's SGD update: (p, buf) after the step."""
    g = g + weight_decay * p
    if momentum != 0.0:
        buf = momentum * buf + g
        g = g + momentum * buf if nesterov else buf
    return p - lr * g, buf
