"""Threads: Numba's run the batch-parallel time loops, BLAS's the big GEMMs; never both at once.

Inside a time loop each step's recurrent product is small, and BLAS threads
competing with Numba's threads made a loop up to 9x slower on two cores; with
BLAS on one thread there, the batch-parallel loop ran 1.6x faster than the serial
one. (threadpoolctl comes with scikit-learn.)
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
