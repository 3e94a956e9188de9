"""How numbarnn compiles its CPU kernels: the Numba flags live here and nowhere else.

Every compiled function in the package is decorated with :func:`kernel` (loops over
arrays) or :func:`pointwise` (scalar cell math, also callable from CUDA kernels).
``fastmath`` leaves out ``nnan`` and ``ninf`` so that a NaN or infinite loss stays
visible to the training loop.
"""

import numba

FASTMATH = {"nsz", "arcp", "contract", "reassoc"}


def kernel(function=None, *, parallel=False):
    """Compile an array kernel with the package's flags (cached on disk).

    Parameters
    ----------
    function : callable, optional
        The function to compile; omit it to use ``@kernel(parallel=True)``.
    parallel : bool, default=False
        Let Numba run ``prange`` loops on several threads.
    """

    def wrap(f):
        return numba.njit(cache=True, fastmath=FASTMATH, parallel=parallel)(f)

    return wrap if function is None else wrap(function)


def pointwise(function):
    """Compile scalar cell math; CPU kernels and ``numba.cuda`` kernels both call it."""
    return numba.njit(cache=True, fastmath=FASTMATH, inline="always")(function)
