"""Scalar activations shared by the cells."""

import math

from .._compile import pointwise


@pointwise
def sigmoid(x):
    """Logistic function, split by sign so that ``exp`` never overflows."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@pointwise
def tanh(x):
    """Hyperbolic tangent."""
    return math.tanh(x)
