"""Optimizers and gradient clipping, compiled updates on the flat parameter vector.

The update rules are PyTorch's (``torch.optim.Adam``, ``AdamW``, ``SGD``), so a
model trained here and one trained there from the same weights and gradients
take the same steps.
"""

import math

import numpy as np

from ._compile import kernel, pointwise


@pointwise
def adam_element(p, g, m, v, lr, beta1, beta2, eps, weight_decay, decoupled, step_size,
                 root_bias2):
    """One parameter's Adam update: (p, m, v) after the step (CPU and CUDA).

    ``step_size`` and ``root_bias2`` are the step's bias corrections, from
    :meth:`Adam.corrections` (computed once per step: a power per element made the
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
    """One parameter's SGD update: (p, buf) after the step (CPU and CUDA)."""
    g = g + weight_decay * p
    if momentum != 0.0:
        buf = momentum * buf + g
        g = g + momentum * buf if nesterov else buf
    return p - lr * g, buf


@kernel
def _adam_update(params, grad, m, v, lr, beta1, beta2, eps, weight_decay, decoupled, step_size,
                 root_bias2):
    for i in range(params.size):
        params[i], m[i], v[i] = adam_element(params[i], grad[i], m[i], v[i], lr, beta1, beta2,
                                             eps, weight_decay, decoupled, step_size, root_bias2)


@kernel
def _sgd_update(params, grad, buf, lr, momentum, nesterov, weight_decay):
    for i in range(params.size):
        params[i], buf[i] = sgd_element(params[i], grad[i], buf[i], lr, momentum, nesterov,
                                        weight_decay)


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
                     self.eps, self.weight_decay, self.decoupled, *self.corrections())

    def corrections(self):
        """The bias corrections of step ``t``, as PyTorch applies them.

        Returns
        -------
        step_size : float
            lr / (1 - beta1^t).
        root_bias2 : float
            sqrt(1 - beta2^t), dividing sqrt(v).
        """
        beta1, beta2 = self.betas
        return self.lr / (1.0 - beta1**self.t), math.sqrt(1.0 - beta2**self.t)


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
