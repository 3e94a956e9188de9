"""The accumulating BLAS product that the compiled loops call."""

import numpy as np
import pytest

from numbarnn._compile import kernel
from numbarnn.backends.cpu.blas import accumulate_nt


@kernel
def _accumulate_twice(a, b, c):
    accumulate_nt(a, b, c)
    accumulate_nt(a[1:], b, c[1:])  # row views of C-contiguous arrays


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_accumulate_nt_adds_a_times_b_transposed(dtype):
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal(shape).astype(dtype) for shape in ((5, 3), (4, 3), (5, 4)))
    expected = c + a @ b.T
    expected[1:] += a[1:] @ b.T
    _accumulate_twice(a, b, c)
    np.testing.assert_allclose(c, expected, rtol=1e-5 if dtype == np.float32 else 1e-13)
    accumulate_nt(a, b, c)  # the same contract in Python
    expected += a @ b.T
    np.testing.assert_allclose(c, expected, rtol=1e-5 if dtype == np.float32 else 1e-13)
