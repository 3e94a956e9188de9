"""
GPU training
============

The same estimators on an NVIDIA GPU: pass ``device="cuda"``. This needs the
``cuda`` extra (``python -m pip install ".[cuda]"``, which installs numba-cuda) and
a GPU. During ``fit`` the parameters, the data and the optimizer's state stay on
the GPU; the host launches the kernels, reads back each batch's loss and
gradient norm, and the weights once per epoch.

This example is shown but not run when the documentation is built. Without
numba-cuda or without a GPU, ``device="cuda"`` raises
:class:`numbarnn.exceptions.DeviceUnavailableError`, whose message says which
is missing; the script then falls back to the CPU.
"""

import time

import numpy as np

from numbarnn import LSTMRegressor
from numbarnn.datasets import make_adding_problem
from numbarnn.exceptions import DeviceUnavailableError

X, y = make_adding_problem(20_000, 100, random_state=0)
X_test, y_test = make_adding_problem(2_000, 100, random_state=1)

try:
    model = LSTMRegressor(hidden_size=128, batch_size=256, learning_rate_init=5e-3,
                          max_iter=20, device="cuda", random_state=0)
    start = time.perf_counter()
    model.fit(X, y)
except DeviceUnavailableError as error:
    print(f"no GPU: {error}; training on the CPU instead")
    model = LSTMRegressor(hidden_size=128, batch_size=256, learning_rate_init=5e-3,
                          max_iter=20, device="cpu", random_state=0)
    start = time.perf_counter()
    model.fit(X, y)
print(f"{model.device}: {model.n_iter_} epochs in {time.perf_counter() - start:.1f} s "
      "(the first fit includes compilation)")
print(f"test MSE {np.mean((model.predict(X_test) - y_test) ** 2):.4f} (predicting 1: 0.167)")
