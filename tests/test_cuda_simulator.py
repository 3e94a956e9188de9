"""Runs tests/cuda under the CUDA simulator, in a new process.

NUMBA_ENABLE_CUDASIM must be set before numba is first imported, and this process
has imported it already; the simulator checks the kernels' indexing and logic
against the CPU backend, not their speed.
"""

import os
import subprocess
import sys
from pathlib import Path


def test_cuda_kernels_under_the_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    folder = Path(__file__).parent / "cuda"
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             str(folder)], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
