"""The optimizers' updates and the gradient's norm over the flat parameter vector, on the CPU."""

from ..._compile import kernel
from ...updates import adam_element, sgd_element


@kernel
def adam_update(params, grad, m, v, lr, beta1, beta2, eps, weight_decay, decoupled, step_size,
                root_bias2):
    """Adam (or AdamW, ``decoupled``) on every element, in place."""
    for i in range(params.size):
        params[i], m[i], v[i] = adam_element(params[i], grad[i], m[i], v[i], lr, beta1, beta2,
                                             eps, weight_decay, decoupled, step_size, root_bias2)


@kernel
def sgd_update(params, grad, buf, lr, momentum, nesterov, weight_decay):
    """SGD with momentum on every element, in place."""
    for i in range(params.size):
        params[i], buf[i] = sgd_element(params[i], grad[i], buf[i], lr, momentum, nesterov,
                                        weight_decay)


@kernel
def sum_squares(x):
    """The sum of the squares of x's elements, in float64."""
    total = 0.0
    for i in range(x.size):
        total += float(x[i]) * float(x[i])
    return total
