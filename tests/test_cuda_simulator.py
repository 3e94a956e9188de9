"""Runs every test that takes the ``device`` fixture on "cuda", and tests/cuda, under the
CUDA simulator, in a new process.

NUMBA_ENABLE_CUDASIM must be set before numba is first imported, and this process
has imported it already; the simulator checks the kernels' indexing and logic
against the CPU backend, not their speed.
"""

import os
import re
import subprocess
import sys
from pathlib import Path


def test_every_device_test_under_the_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    folder = Path(__file__).parent
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "-m", "device", str(folder)], env=env, capture_output=True,
                            text=True, cwd=folder.parent)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    # the selection is not empty: the device tests and the backend's own ran
    assert int(re.search(r"(\d+) passed", result.stdout).group(1)) >= 75, result.stdout[-2000:]
