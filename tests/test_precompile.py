"""The first-compile notice and ``numbarnn compile``, in new processes with an empty cache."""

import io
import logging
import os
import subprocess
import sys

import numba
import numpy as np
import pytest

from numbarnn._compile import compile_notice
from numbarnn.precompile import precompile


def _numbarnn_function():
    """A function of a numbarnn module, new to this process, compiled at its first call."""
    namespace = {"__name__": "numbarnn._notice_test"}
    exec("def double(x):\n    return 2 * x\n", namespace)
    return numba.njit(namespace["double"])


def test_notice_comes_once_at_the_first_compile_and_not_for_compiled_code(caplog):
    double = _numbarnn_function()
    stream = io.StringIO()
    with caplog.at_level(logging.INFO, logger="numbarnn"):
        with compile_notice(stream):
            double(1.0)
            double(1)  # a second compile in the same call: no second notice
        lines = stream.getvalue().splitlines()
        assert len(lines) == 1 and "compiling double" in lines[0] and "once" in lines[0]
        assert [r.getMessage() for r in caplog.records] == lines
        caplog.clear()
        with compile_notice(stream):
            double(3.0)  # compiled already
        assert stream.getvalue().splitlines() == lines and not caplog.records


def test_notice_comes_once_across_nested_blocks():
    double = _numbarnn_function()
    stream = io.StringIO()
    with compile_notice(stream):
        double(1.0)
        with compile_notice(stream):  # as a fit's validation predicts inside the fit
            double(1)
            with compile_notice(stream):
                double(True)
    assert len(stream.getvalue().splitlines()) == 1


def test_notice_ignores_other_packages_and_other_threads():
    import threading

    other = numba.njit(lambda x: x + 1)  # not numbarnn's
    stream = io.StringIO()
    double = _numbarnn_function()
    with compile_notice(stream):
        other(1.0)
        worker = threading.Thread(target=double, args=(1.0,))
        worker.start()
        worker.join()
    assert stream.getvalue() == ""


def test_precompile_checks_its_arguments():
    with pytest.raises(ValueError, match="unknown cell 'elman'"):
        precompile(["elman"])
    with pytest.raises(ValueError, match="unknown dtype 'float16'"):
        precompile(dtypes=["float16"])


FIT = """
import numpy as np
from numbarnn import RNNRegressor
X = np.random.default_rng(0).standard_normal((8, 5, 1))
RNNRegressor(hidden_size=2, max_iter=1, verbose=1).fit(X, X[:, -1, 0])
"""


def _run(code_or_args, cache):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    args = ["-c", code_or_args] if isinstance(code_or_args, str) else ["-m", *code_or_args]
    done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    return done


def test_a_new_machine_is_told_and_the_command_fills_the_cache(tmp_path):
    first = _run(FIT, tmp_path / "fit-first")
    assert "numbarnn: compiling" in first.stderr and "once per machine" in first.stderr
    assert "Epoch 1" in first.stdout
    filled = _run(["numbarnn", "compile", "--cells", "rnn"], tmp_path / "compile-first")
    assert "rnn float32:" in filled.stdout and "kernels compiled" in filled.stdout
    assert any(line.startswith("  numbarnn.") for line in filled.stdout.splitlines())
    again = _run(["numbarnn", "compile", "--cells", "rnn"], tmp_path / "compile-first")
    assert "already compiled" in again.stdout
    warm = _run(FIT, tmp_path / "compile-first")  # the command compiled what the fit needs
    assert "numbarnn: compiling" not in warm.stderr and "Epoch 1" in warm.stdout


def test_precompile_reports_seconds_per_cell_and_dtype():
    lines = []
    seconds = precompile(["rnn"], ["float32"], progress=lines.append)
    assert list(seconds) == [("rnn", "float32")] and np.isfinite(seconds["rnn", "float32"])
    assert lines[0] == "rnn float32:" and lines[-1].startswith("rnn float32: ")
