"""Scalar activations and constants shared by the cells, chosen by the argument's type.

float64 (gradient checks, ``dtype='float64'``) uses the exact ``math`` functions.
float32 uses a rational tanh, tanh(x) ~ x P(x^2) / Q(x^2) on [-9, 9] (deg P = 4,
deg Q = 3), and sigmoid(x) = tanh(x / 2) / 2 + 1/2: multiply-adds and one division,
which LLVM vectorizes, where ``math.tanh`` and ``math.exp`` are scalar library calls.
Its largest error is 9.0e-7 over all float32 inputs (tested). The coefficients were
fitted for numbarnn by an iterated, reweighted linear least-squares fit of the
relative error (Sanathanan-Koerner iteration with Lawson weights).

The constants are float32 scalars: exact for 0, 1/2 and 1, they keep float32 math in
float32 (a Python float would promote it to float64) and change nothing in float64.
"""

import math

import numpy as np

from .._compile import by_dtype, pointwise

ZERO, HALF, ONE = np.float32(0.0), np.float32(0.5), np.float32(1.0)

_CLAMP = np.float32(9.0)
_P = tuple(np.float32(c) for c in (9.999994425e-01, 1.262312537e-01, 2.606943649e-03,
                                   6.516400272e-06, -5.050051077e-09))
_Q = tuple(np.float32(c) for c in (1.0, 4.595604577e-01, 2.246561089e-02, 1.854394793e-04))
_P0, _P1, _P2, _P3, _P4 = _P
_Q0, _Q1, _Q2, _Q3 = _Q


@pointwise(inline=False)
def _clamp(x, bound):
    """x limited to [-bound, bound]; NaN stays NaN (written with comparisons: the CUDA
    target has no min and max of floats)."""
    if x > bound:
        return bound
    if x < -bound:
        return -bound
    return x


@pointwise(inline=False)
def _rational_tanh(x):
    x = _clamp(x, _CLAMP)
    s = x * x
    p = (((_P4 * s + _P3) * s + _P2) * s + _P1) * s + _P0
    q = ((_Q3 * s + _Q2) * s + _Q1) * s + _Q0
    return _clamp(x * p / q, ONE)


@pointwise(inline=False)
def _exact_sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


tanh = by_dtype(_rational_tanh, math.tanh)
tanh.__doc__ = "Hyperbolic tangent (exact in float64, rational approximation in float32)."


@pointwise(inline=False)
def _rational_sigmoid(x):
    return HALF * _rational_tanh(HALF * x) + HALF


sigmoid = by_dtype(_rational_sigmoid, _exact_sigmoid)
sigmoid.__doc__ = "Logistic function (exact in float64, via the rational tanh in float32)."
