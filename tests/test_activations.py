"""The float32 activations against exact ones; float64 stays exact."""

import math
import warnings

import numba
import numpy as np

from numbarnn.cells.activations import sigmoid, tanh


@numba.njit
def _apply(x, which):
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = tanh(x[i]) if which == 0 else sigmoid(x[i])
    return out


def _float32_grid():
    dense = np.linspace(-12, 12, 2_000_001, dtype=np.float32)
    tiny = np.float32(10.0) ** np.arange(-30, 0, dtype=np.float32)
    extremes = np.array([0, np.finfo(np.float32).max, 1e30, 88.7, 100], np.float32)
    x = np.concatenate([dense, tiny, extremes])
    return np.concatenate([x, -x])


def test_float32_tanh_and_sigmoid_errors():
    x = _float32_grid()
    exact = np.tanh(x.astype(np.float64))
    t = _apply(x, 0)
    assert t.dtype == np.float32
    assert np.max(np.abs(t - exact)) < 9.1e-7
    assert np.all(np.abs(t) <= 1) and np.all(np.sign(t) == np.sign(exact))
    s = _apply(x, 1)
    exact_s = 0.5 * np.tanh(x.astype(np.float64) / 2) + 0.5
    assert np.max(np.abs(s - exact_s)) < 6e-7
    assert np.all((0 <= s) & (s <= 1))


def test_float64_is_exact():
    x = np.linspace(-30, 30, 10001)
    np.testing.assert_allclose(_apply(x, 0), np.tanh(x), rtol=5e-16, atol=0)  # libm vs numpy: 2 ulp
    np.testing.assert_allclose(_apply(x, 1), [1 / (1 + math.exp(-v)) for v in x], rtol=1e-15)


def test_inlined_into_a_parallel_loop_without_numba_warnings():
    """Inlined into a prange loop, the clamp once left a variable out of scope in
    Numba's IR, and a first fit printed dozens of NumbaIRAssumptionWarnings."""

    def loop(x, out):
        for i in numba.prange(x.size):
            out[i] = tanh(x[i]) * sigmoid(x[i])

    x = np.linspace(-20, 20, 41, dtype=np.float32)
    out = np.empty_like(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error", numba.NumbaIRAssumptionWarning)
        numba.njit(parallel=True)(loop)(x, out)
    np.testing.assert_allclose(out, np.tanh(x) / (1 + np.exp(-x)), atol=2e-6)
