"""Kernels loaded from Numba's on-disk cache compute exactly what they computed when compiled."""

import os
import subprocess
import sys

import numpy as np

SCRIPT = """
import numpy as np, sys
from numbarnn import LSTMCell, RecurrentNetwork
net = RecurrentNetwork(LSTMCell(), 2, 4)
params = net.init_params(0)
rng = np.random.default_rng(0)
X = rng.standard_normal((8, 5, 2)).astype(np.float32)
y = rng.standard_normal((8, 1)).astype(np.float32)
loss, grad = net.loss_and_grad(params, X, y)
np.save(sys.argv[1], np.concatenate([[loss], grad, net.predict(params, X).ravel()]))
"""


def test_cached_kernels_give_the_same_bits_as_freshly_compiled(tmp_path):
    """The first process compiles the LSTM's kernels into an empty cache, the second loads
    them: a fit's results must not depend on which happened (as in a worker process)."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    results = []
    for run in ("compiled", "cached"):
        out = tmp_path / f"{run}.npy"
        subprocess.run([sys.executable, "-c", SCRIPT, str(out)], check=True, env=env)
        results.append(np.load(out))
    assert np.isfinite(results[0]).all() and np.abs(results[0]).max() > 0
    np.testing.assert_array_equal(results[1], results[0])
