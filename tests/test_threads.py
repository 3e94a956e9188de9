"""Thread control: the BLAS and Numba thread counts inside and after the context managers."""

import threading
import warnings

import numba
import pytest

from numbarnn.threads import _blas, limit, serial_blas


@pytest.fixture
def two_blas_threads():
    """Every loaded BLAS library on two threads (restored after the test)."""
    libraries = _blas()
    if not libraries:
        pytest.skip("no BLAS library loaded")
    before = [lib.num_threads for lib in libraries]
    for lib in libraries:
        lib.set_num_threads(2)
    yield libraries
    for lib, n in zip(libraries, before):
        lib.set_num_threads(n)


def test_serial_blas_sets_one_thread_and_only_the_outermost_entry_restores(two_blas_threads):
    counts = lambda: [lib.num_threads for lib in two_blas_threads]  # noqa: E731
    with serial_blas():
        assert counts() == [1] * len(two_blas_threads)
        with serial_blas():
            assert counts() == [1] * len(two_blas_threads)
        assert counts() == [1] * len(two_blas_threads)  # the inner exit left them alone
    assert counts() == [2] * len(two_blas_threads)


def test_serial_blas_restores_after_an_error(two_blas_threads):
    with pytest.raises(RuntimeError):
        with serial_blas():
            raise RuntimeError
    assert [lib.num_threads for lib in two_blas_threads] == [2] * len(two_blas_threads)
    with serial_blas():  # and a new entry is the outermost again
        assert [lib.num_threads for lib in two_blas_threads] == [1] * len(two_blas_threads)


def test_limit_sets_numba_and_blas_threads_and_restores_them(two_blas_threads):
    before = numba.get_num_threads()
    with limit(1):
        assert numba.get_num_threads() == 1
        assert [lib.num_threads for lib in two_blas_threads] == [1] * len(two_blas_threads)
    assert numba.get_num_threads() == before
    assert [lib.num_threads for lib in two_blas_threads] == [2] * len(two_blas_threads)
    with limit(None):
        assert numba.get_num_threads() == before


def test_a_thread_that_cannot_limit_blas_says_so(two_blas_threads):
    """From a thread other than the main one, OpenBLAS may ignore a thread count (0.3.30
    does, once the main thread has set one, as the fixture did): then serial_blas warns;
    where the count takes effect, it does not."""
    seen = {}

    def other():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with serial_blas():
                seen["threads"] = [lib.num_threads for lib in two_blas_threads]
        seen["warnings"] = [w for w in caught if issubclass(w.category, RuntimeWarning)]

    worker = threading.Thread(target=other)
    worker.start()
    worker.join(10)
    limited = seen["threads"] == [1] * len(two_blas_threads)
    assert bool(seen["warnings"]) != limited
    if seen["warnings"]:
        assert "OPENBLAS_NUM_THREADS=1" in str(seen["warnings"][0].message)
