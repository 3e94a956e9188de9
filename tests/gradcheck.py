"""Finite differences of the loss, accurate enough to check gradients to 1e-6 relative."""

import numpy as np


def step_for(cell):
    """Finite-difference step: 1e-3 balances the stencil's O(eps**4) truncation against
    rounding O(1e-16 / eps); a relu network's loss is piecewise quadratic, so a smaller
    step loses nothing there and is less likely to straddle a kink."""
    return 1e-4 if getattr(cell, "nonlinearity", None) == "relu" else 1e-3


def numerical_gradient(loss, params, eps):
    """Fourth-order central differences of ``loss`` at ``params``."""
    grad = np.empty_like(params)
    for i in range(params.size):
        def at(step, i=i):
            q = params.copy()
            q[i] += step
            return loss(q)
        grad[i] = (8 * (at(eps) - at(-eps)) - (at(2 * eps) - at(-2 * eps))) / (12 * eps)
    return grad


def relative_errors(analytic, numerical, floor=1e-6):
    """|a_i - n_i| / max(|a_i|, |n_i|, floor), per component."""
    scale = np.maximum(np.maximum(np.abs(analytic), np.abs(numerical)), floor)
    return np.abs(analytic - numerical) / scale


def max_relative_error(analytic, numerical, floor=1e-6):
    """max_i |a_i - n_i| / max(|a_i|, |n_i|, floor)."""
    return float(np.max(relative_errors(analytic, numerical, floor)))
