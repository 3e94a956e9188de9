"""Threads: one pool, Numba's, runs numbarnn's loops and products; BLAS stays on one thread.

OpenBLAS's worker threads busy-wait after every multi-threaded call, and Numba's
threads running next to them were slowed about 2x (up to 9x inside a time loop).
So inside the network's forward and backward every BLAS call is single-threaded
(:func:`serial_blas`), and the work is split over Numba's threads instead.
:func:`limit` applies an estimator's ``n_threads`` to both pools.
(threadpoolctl comes with scikit-learn.)
"""

from contextlib import contextmanager

import numba
from threadpoolctl import ThreadpoolController

_controller = None


def _blas():
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller.select(user_api="blas")


def serial_blas():
    """Context manager under which every loaded BLAS library runs on one thread."""
    return _blas().limit(limits=1)


@contextmanager
def limit(n_threads):
    """Context manager: Numba and BLAS each use at most ``n_threads`` (None: their defaults)."""
    if n_threads is None:
        yield
        return
    previous = numba.get_num_threads()
    numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
    try:
        with _blas().limit(limits=n_threads):
            yield
    finally:
        numba.set_num_threads(previous)
