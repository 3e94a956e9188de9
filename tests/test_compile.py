"""numbarnn._compile.on_threads: a block kernel run over Numba's threads through its address."""

import numpy as np
import pytest

from numbarnn._compile import kernel, on_threads


@on_threads
@kernel
def _fill(k, out, scale, n_blocks):
    """Each block k writes k * scale into out[k]."""
    if scale < 0:
        raise ValueError("negative scale")
    out[k] = k * scale


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_block_runs_once_and_each_dtype_gets_its_own_block(dtype):
    out = np.full(9, -1, dtype=dtype)
    _fill(out, dtype(2), 7)  # seven blocks: the last two entries are left alone
    np.testing.assert_array_equal(out, [0, 2, 4, 6, 8, 10, 12, -1, -1])
    assert any(
        str(signature[1].dtype) == np.dtype(dtype).name for signature in _fill.block.overloads
    )


def test_a_second_call_with_the_same_types_compiles_nothing():
    out = np.zeros(3)
    _fill(out, 1.0, 3)
    compiled = len(_fill.block.overloads)
    _fill(out, 5.0, 3)
    assert len(_fill.block.overloads) == compiled
    np.testing.assert_array_equal(out, [0, 5, 10])


def test_the_runner_keeps_the_blocks_name_and_doc_and_an_error_is_not_silent():
    assert _fill.__name__ == "_fill" and _fill.__doc__.startswith("Each block k")
    with pytest.raises((ValueError, SystemError)):
        _fill(np.zeros(2), -1.0, 2)
