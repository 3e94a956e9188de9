"""Every CUDA kernel that a fit on device='cuda' launches compiles under numba-cuda to PTX.

The simulator tests (tests/cuda) prove the kernels' indexing and logic, but the simulator
runs Python: it never asks the compiler users get with ``numbarnn[cuda]`` whether it
accepts the code. Here a fit of every cell, both dtypes, the persistent and the per-step
paths, runs under the simulator, recording each launch's kernel and argument types
(tests/ptx/record.py, in its own process: NUMBA_ENABLE_CUDASIM must be set before numba
is imported); then numba-cuda compiles every recorded signature for sm_80 and sm_90
(tests/ptx/compile.py, without the simulator). No GPU or driver is needed: NVVM comes
from the ``nvidia-nvvm`` wheel of ``numba-cuda[cu13]``.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "ptx"

pytestmark = pytest.mark.skipif(importlib.util.find_spec("numba_cuda") is None,
                                reason="needs numba-cuda (the dev extra installs it)")


def test_every_kernel_a_fit_launches_compiles_for_sm80_and_sm90(tmp_path):
    launches = tmp_path / "launches.json"
    recorded = subprocess.run([sys.executable, str(HERE / "record.py"), str(launches)],
                              env=dict(os.environ, NUMBA_ENABLE_CUDASIM="1"),
                              capture_output=True, text=True)
    assert recorded.returncode == 0, recorded.stdout[-3000:] + recorded.stderr[-6000:]
    kernels = {name for _, name, _ in json.loads(launches.read_text())}
    # the recurrence, the optimizers and the glue: a fit that launched fewer kinds of
    # kernel would mean the recording missed a path
    assert {"_rnn_forward", "_rnn_backward", "_lstm_forward", "_lstm_backward", "_gru_forward",
            "_gru_backward", "_adam_step", "_sgd_step", "_gemm", "_loss_rows", "_gather_rows",
            "_scatter_rows"} <= kernels
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    compiled = subprocess.run([sys.executable, str(HERE / "compile.py"), str(launches), "8.0",
                               "9.0"], env=env, capture_output=True, text=True)
    assert compiled.returncode == 0, compiled.stdout[-8000:] + compiled.stderr[-4000:]
    assert ", 0 failed" in compiled.stdout
