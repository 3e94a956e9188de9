"""Optimizers and gradient clipping, compiled updates on the flat parameter vector.

The update rules are PyTorch's (``torch.optim.Adam``, ``AdamW``, ``SGD``), so a
model trained here and one trained there from the same weights and gradients
take the same steps.
"""

import math

import numpy as np

from ._compile import kernel


@kernel
def _adam_update(params, grad, m, v, lr, beta1, beta2, eps, weight_decay, decoupled, step):
    c1 = 1.0 - beta1**step
    c2 = math.sqrt(1.0 - beta2**step)
    for i in range(params.size):
        g = grad[i]
        if decoupled:
            params[i] -= lr * weight_decay * params[i]
        else:
            g += weight_decay * params[i]
        m[i] = beta1 * m[i] + (1.0 - beta1) * g
        v[i] = beta2 * v[i] + (1.0 - beta2) * g * g
        params[i] -= (lr / c1) * m[i] / (math.sqrt(v[i]) / c2 + eps)


@kernel
def _sgd_update(params, grad, buf, lr, momentum, nesterov, weight_decay):
    for i in range(params.size):
        g = grad[i] + weight_decay * params[i]
        if momentum != 0.0:
            buf[i] = momentum * buf[i] + g
            g = g + momentum * buf[i] if nesterov else buf[i]
        params[i] -= lr * g


@kernel
def _sum_squares(x):
    total = 0.0
    for i in range(x.size):
        total += float(x[i]) * float(x[i])
    return total


def clip_grad_norm(grad, max_norm):
    """Scale ``grad`` in place so that its global L2 norm is at most ``max_norm``.

    As ``torch.nn.utils.clip_grad_norm_``: the scale is max_norm / (norm + 1e-6),
    applied only when it is below one.

    Parameters
    ----------
    grad : ndarray
        Gradient (any shape), scaled in place.
    max_norm : float
        Largest allowed L2 norm; ``numpy.inf`` only measures.

    Returns
    -------
    float
        The norm before clipping.
    """
    norm = math.sqrt(_sum_squares(grad))
    scale = max_norm / (norm + 1e-6)
    if scale < 1.0:
        grad *= grad.dtype.type(scale)
    return norm


class Adam:
    """Adam (Kingma & Ba 2015) with L2 weight decay added to the gradient.

    Parameters
    ----------
    lr : float, default=1e-3
        Step size.
    betas : tuple of float, default=(0.9, 0.999)
        Decay rates of the running means of the gradient and of its square.
    eps : float, default=1e-8
        Added to the denominator for numerical stability.
    weight_decay : float, default=0.0
        L2 penalty: ``weight_decay * params`` is added to the gradient.

    Attributes
    ----------
    m, v : ndarray or None
        Running first and second moments, created at the first step.
    t : int
        Steps taken.
    """

    decoupled = False

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.m = self.v = None
        self.t = 0

    def step(self, params, grad):
        """Update ``params`` in place from ``grad``.

        Parameters
        ----------
        params : ndarray
            Flat parameter vector, updated in place.
        grad : ndarray
            Its gradient, of the same shape.
        """
        if self.m is None:
            self.m, self.v = np.zeros_like(params), np.zeros_like(params)
        self.t += 1
        _adam_update(params, grad, self.m, self.v, self.lr, self.betas[0], self.betas[1],
                     self.eps, self.weight_decay, self.decoupled, self.t)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019).

    Parameters
    ----------
    lr : float, default=1e-3
        Step size.
    betas : tuple of float, default=(0.9, 0.999)
        Decay rates of the running means of the gradient and of its square.
    eps : float, default=1e-8
        Added to the denominator for numerical stability.
    weight_decay : float, default=1e-2
        Each step first shrinks the parameters by ``lr * weight_decay``.
    """

    decoupled = True

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(lr, betas, eps, weight_decay)


class SGD:
    """Stochastic gradient descent with (Nesterov) momentum and L2 weight decay.

    Parameters
    ----------
    lr : float, default=1e-2
        Step size.
    momentum : float, default=0.0
        Momentum factor (0: plain gradient descent).
    nesterov : bool, default=False
        Nesterov momentum; needs ``momentum > 0``.
    weight_decay : float, default=0.0
        L2 penalty: ``weight_decay * params`` is added to the gradient.

    Attributes
    ----------
    buf : ndarray or None
        Momentum buffer, created at the first step.
    t : int
        Steps taken.
    """

    def __init__(self, lr=1e-2, momentum=0.0, nesterov=False, weight_decay=0.0):
        if nesterov and momentum <= 0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.lr, self.momentum, self.nesterov, self.weight_decay = lr, momentum, nesterov, weight_decay
        self.buf = None
        self.t = 0

    def step(self, params, grad):
        """Update ``params`` in place from ``grad``.

        Parameters
        ----------
        params : ndarray
            Flat parameter vector, updated in place.
        grad : ndarray
            Its gradient, of the same shape.
        """
        if self.buf is None:
            self.buf = np.zeros_like(params)
        self.t += 1
        _sgd_update(params, grad, self.buf, self.lr, self.momentum, self.nesterov,
                    self.weight_decay)
