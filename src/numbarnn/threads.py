"""Threads: one pool, Numba's, runs numbarnn's loops and products; BLAS stays on one thread.

OpenBLAS's worker threads busy-wait after every multi-threaded call, and Numba's
threads running next to them were slowed about 2x (up to 9x inside a time loop).
So inside the network's forward and backward every BLAS call is single-threaded
(:func:`serial_blas`), and the work is split over Numba's threads instead.
:func:`limit` applies an estimator's ``n_threads`` to both pools.
(threadpoolctl comes with scikit-learn.)

OpenBLAS (0.3.30, in the NumPy and SciPy wheels) ignores a thread count set from a
thread other than the main one once the main thread has set one (as any numbarnn call
there does). A fit in another thread then runs its products next to OpenBLAS's threads
(an LSTM train step at M took 30-32 ms there against 20-22 ms in the main thread);
:func:`_blas_threads` warns when that happens.
"""

import threading
import warnings
from contextlib import contextmanager

import numba
from threadpoolctl import ThreadpoolController

_blas_libraries = None


def _blas():
    """threadpoolctl's controllers of the BLAS libraries loaded when first asked (selecting
    them anew took about 15 us, four times per predict)."""
    global _blas_libraries
    if _blas_libraries is None:
        _blas_libraries = ThreadpoolController().select(user_api="blas").lib_controllers
    return _blas_libraries


class _blas_threads:
    """Context manager: every loaded BLAS library on at most ``n_threads`` threads, restored
    on exit.

    The thread counts are set and restored directly, and a library already within the
    limit is left alone, so that nested uses cost almost nothing: threadpoolctl's own
    ``limit`` takes about 30 us, which was a tenth of a small model's predict. Whether a
    count took effect is checked at a thread's first change only (OpenBLAS takes counts
    from a thread always or never).
    """

    _checked = threading.local()

    def __init__(self, n_threads):
        self.n_threads = n_threads

    def __enter__(self):
        n_threads = self.n_threads
        self.changed = [(lib, n) for lib in _blas() if (n := lib.num_threads) > n_threads]
        for lib, _ in self.changed:
            lib.set_num_threads(n_threads)
        if self.changed and not getattr(self._checked, "done", False):
            self._checked.done = True
            if any(lib.num_threads > n_threads for lib, _ in self.changed):
                warnings.warn(
                    "BLAS kept more threads than numbarnn asked for: once the main thread has "
                    "set a thread count, OpenBLAS ignores one set from another thread, as "
                    "here, so its threads compete with Numba's (a train step ran about 1.5x "
                    "slower). Set the environment variable OPENBLAS_NUM_THREADS=1 before "
                    "starting Python, or limit BLAS from the main thread "
                    "(threadpoolctl.threadpool_limits(1, 'blas')).",
                    RuntimeWarning,
                    stacklevel=3)

    def __exit__(self, *exc):
        for lib, n in self.changed:
            lib.set_num_threads(n)


class serial_blas:
    """Context manager under which every loaded BLAS library runs on one thread.

    Nested in the same thread (the network's passes call the backend's, which enter it
    too), it does nothing: only the outermost entry sets and restores the thread counts.
    """

    _depth = threading.local()

    def __enter__(self):
        depth = getattr(self._depth, "n", 0)
        self._outer = _blas_threads(1) if depth == 0 else None
        if self._outer is not None:
            self._outer.__enter__()
        self._depth.n = depth + 1

    def __exit__(self, *exc):
        self._depth.n -= 1
        if self._outer is not None:
            self._outer.__exit__(*exc)


@contextmanager
def limit(n_threads):
    """Context manager: Numba and BLAS each use at most ``n_threads`` (None: their defaults)."""
    if n_threads is None:
        yield
        return
    previous = numba.get_num_threads()
    wanted = min(n_threads, numba.config.NUMBA_NUM_THREADS)
    if wanted != previous:  # each set takes about 1.6 us, a predict at S about 200
        numba.set_num_threads(wanted)
    try:
        with _blas_threads(n_threads):
            yield
    finally:
        if wanted != previous:
            numba.set_num_threads(previous)
