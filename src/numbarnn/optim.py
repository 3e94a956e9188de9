"""Optimizers and gradient clipping on the flat parameter vector.

The update rules are PyTorch's (``torch.optim.Adam``, ``AdamW``, ``SGD``), so a
model trained here and one trained there from the same weights and gradients
take the same steps. An optimizer holds the hyperparameters and the state; the
element-wise rules (:mod:`numbarnn.updates`) run on the backend the arrays live on.
"""

import copy
import math

import numpy as np

from . import backends


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

    Examples
    --------
    >>> import numpy as np
    >>> from numbarnn import clip_grad_norm
    >>> grad = np.array([3.0, 4.0], dtype=np.float32)
    >>> clip_grad_norm(grad, 1.0)
    5.0
    >>> grad.round(4)  # scaled to norm 1
    array([0.6, 0.8], dtype=float32)
    """
    return backends.get("cpu").clip_grad_norm(grad, max_norm)


def _init_state(optimizer, params, backend):
    """Zeros for every state array the optimizer does not have yet (as before a first step).

    Parameters
    ----------
    optimizer : Adam, AdamW or SGD
    params : array
        The parameters the state belongs to, on ``backend``.
    backend : backend
    """
    for name in optimizer.state_names:
        if getattr(optimizer, name) is None:
            setattr(optimizer, name, backend.zeros(params.shape, params.dtype))


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

    Examples
    --------
    Minimise (p - 1)², whose gradient is 2 (p - 1), from p = 0:

    >>> import numpy as np
    >>> from numbarnn import Adam
    >>> params = np.zeros(3, dtype=np.float32)
    >>> optimizer = Adam(lr=0.1)
    >>> for _ in range(200):
    ...     optimizer.step(params, 2 * (params - 1))  # params updated in place
    >>> params.round(3), optimizer.t
    (array([1., 1., 1.], dtype=float32), 200)
    """

    decoupled = False

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.m = self.v = None
        self.t = 0

    state_names = ("m", "v")
    init_state = _init_state

    def step(self, params, grad, backend=None):
        """Update ``params`` in place from ``grad``.

        Parameters
        ----------
        params : array
            Flat parameter vector, updated in place.
        grad : array
            Its gradient, of the same shape.
        backend : backend, optional
            Where the arrays live (:func:`numbarnn.backends.get`); default the CPU.
        """
        backend = backend or backends.get("cpu")
        self.init_state(params, backend)
        self.t += 1
        backend.adam_update(params, grad, self.m, self.v, self.lr, self.betas[0],
                            self.betas[1], self.eps, self.weight_decay, self.decoupled,
                            *self.corrections())

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

    Examples
    --------
    With a zero gradient, a step is the decay alone: 1 - lr * weight_decay.

    >>> import numpy as np
    >>> from numbarnn import Adam, AdamW
    >>> params = np.ones(2, dtype=np.float32)
    >>> AdamW(lr=0.1, weight_decay=0.5).step(params, np.zeros(2, dtype=np.float32))
    >>> params.round(4)
    array([0.95, 0.95], dtype=float32)

    Adam's L2 penalty goes through the gradient's normalisation instead, so its
    first step is lr, whatever the decay:

    >>> params = np.ones(2, dtype=np.float32)
    >>> Adam(lr=0.1, weight_decay=0.5).step(params, np.zeros(2, dtype=np.float32))
    >>> params.round(4)
    array([0.9, 0.9], dtype=float32)
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

    Examples
    --------
    Minimise (p - 1)², whose gradient is 2 (p - 1), from p = 0:

    >>> import numpy as np
    >>> from numbarnn import SGD
    >>> params = np.zeros(3, dtype=np.float32)
    >>> optimizer = SGD(lr=0.1, momentum=0.9)
    >>> for _ in range(100):
    ...     optimizer.step(params, 2 * (params - 1))  # params updated in place
    >>> params.round(2), optimizer.buf.shape
    (array([1., 1., 1.], dtype=float32), (3,))
    >>> SGD(nesterov=True)
    Traceback (most recent call last):
        ...
    ValueError: Nesterov momentum needs momentum > 0
    """

    def __init__(self, lr=1e-2, momentum=0.0, nesterov=False, weight_decay=0.0):
        if nesterov and momentum <= 0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.lr, self.momentum = lr, momentum
        self.nesterov, self.weight_decay = nesterov, weight_decay
        self.buf = None
        self.t = 0

    state_names = ("buf",)
    init_state = _init_state

    def step(self, params, grad, backend=None):
        """Update ``params`` in place from ``grad``.

        Parameters
        ----------
        params : array
            Flat parameter vector, updated in place.
        grad : array
            Its gradient, of the same shape.
        backend : backend, optional
            Where the arrays live (:func:`numbarnn.backends.get`); default the CPU.
        """
        backend = backend or backends.get("cpu")
        self.init_state(params, backend)
        self.t += 1
        backend.sgd_update(params, grad, self.buf, self.lr, self.momentum, self.nesterov,
                           self.weight_decay)


def copied_optimizer(optimizer):
    """A copy of ``optimizer`` with copies of its state arrays (those on a device deep-copied).

    Parameters
    ----------
    optimizer : Adam, AdamW or SGD

    Returns
    -------
    Adam, AdamW or SGD
        A new optimizer of the same class, settings and state; stepping it leaves
        ``optimizer`` unchanged.
    """
    out = copy.copy(optimizer)
    move_state(out, lambda a: a.copy() if isinstance(a, np.ndarray) else copy.deepcopy(a))
    return out


def move_state(optimizer, convert):
    """Replace each state array of ``optimizer`` (Adam's ``m`` and ``v``, SGD's ``buf``) by
    ``convert(array)``: onto a device for a fit there, and back.

    Parameters
    ----------
    optimizer : Adam, AdamW or SGD
    convert : callable
        Array to array, e.g. a backend's ``asarray`` or ``to_host``.
    """
    for name in optimizer.state_names:
        value = getattr(optimizer, name)
        if value is not None:
            setattr(optimizer, name, convert(value))
