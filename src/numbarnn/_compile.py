"""How numbarnn compiles its CPU kernels: the Numba flags live here and nowhere else.

Every compiled loop in the package is decorated with :func:`kernel`; the scalar cell
math is registered with :func:`pointwise`, once, for every Numba target, so the CPU
loops and the ``numba.cuda`` kernels compile the same source. ``fastmath`` leaves out
``nnan`` and ``ninf`` so that a NaN or infinite loss stays visible to the training
loop, and ``reassoc``, so that results do not depend on where a function was compiled:
with it, LLVM reassociated the gate math of a function compiled on its own and of its
copy inside a caller differently, and the LSTM's gradients from freshly compiled code
and from the same code loaded from the cache differed in the last bits (so did fits in
two processes). ``contract`` (fused multiply-adds) and ``arcp`` keep the gate math as
fast as with all four. ``error_model="numpy"`` lets a float division give inf instead of
raising: the check that Python's semantics need is a branch out of every loop with a
division, and LLVM does not vectorize a loop with such an exit.
"""

import numba
from numba.core.extending import overload

FASTMATH = {"nsz", "arcp", "contract"}


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
        return numba.njit(cache=True, fastmath=FASTMATH, parallel=parallel, error_model="numpy")(f)

    return wrap if function is None else wrap(function)


def pointwise(function):
    """Register scalar cell math for every Numba target, inlined into its callers.

    Compiled code (``@kernel`` loops on the CPU, ``numba.cuda`` kernels) gets the
    function inlined, with the caller's flags; Python gets the function itself,
    which is what the CUDA simulator runs.
    """
    overload(function, target="generic", inline="always", strict=False)(
        lambda *args: function)
    return function
