"""A BLAS product that accumulates, for compiled code: ``accumulate_nt(a, b, c)`` is
c += a @ b.T, where ``np.dot`` can only overwrite its output.

It calls the same BLAS ``gemm`` as Numba's ``np.dot`` (SciPy's, through Numba's
helper ``numba_xxgemm``), with beta = 1.
"""

import numpy as np
from numba.core import types
from numba.extending import overload


def accumulate_nt(a, b, c):
    """c += a @ b.T for C-contiguous float arrays a (M, K), b (N, K) and c (M, N)."""
    c += a @ b.T


def _xxgemm(dtype):
    pointer = types.CPointer(dtype)
    # kind, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc
    return types.ExternalFunction("numba_xxgemm", types.intc(
        types.char, types.char, types.char, types.intp, types.intp, types.intp,
        pointer, pointer, types.intp, pointer, types.intp, pointer, pointer, types.intp))


@overload(accumulate_nt, inline="never")
def _accumulate_nt(a, b, c):
    xxgemm = _xxgemm(c.dtype)
    kind = ord("s" if c.dtype == types.float32 else "d")
    T, N = ord("t"), ord("n")

    def impl(a, b, c):
        # BLAS is column-major: c.T (N, M) += b (N, K) @ a.T, with b given as b.T (K, N)
        M, K = a.shape
        one = np.ones(1, c.dtype)
        xxgemm(kind, T, N, b.shape[0], M, K, one.ctypes, b.ctypes, K, a.ctypes, K, one.ctypes,
               c.ctypes, b.shape[0])

    return impl
