"""Threads: Numba's run the batch-parallel time loops, BLAS's the big GEMMs; never both at once.

Inside a time loop each step's recurrent product is small, and BLAS threads
competing with Numba's threads made a loop up to 9x slower on two cores; with
BLAS on one thread there, the batch-parallel loop ran 1.6x faster than the serial
one. (threadpoolctl comes with scikit-learn.)
"""

from threadpoolctl import ThreadpoolController

_controller = None


def serial_blas():
    """Context manager under which every loaded BLAS library runs on one thread."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller.select(user_api="blas").limit(limits=1)
