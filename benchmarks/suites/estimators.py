"""A training epoch through the estimator, and the first fit of a new process (with Numba's
cache warm, and with it empty: compiling)."""

from numbarnn import GRURegressor, LSTMRegressor, RNNRegressor

from .common import SIZES, batch

ESTIMATORS = {"rnn": RNNRegressor, "lstm": LSTMRegressor, "gru": GRURegressor}
BATCHES_PER_EPOCH = 8


class Epoch:
    params = (list(ESTIMATORS), list(SIZES))
    param_names = ["cell", "size"]
    timeout = 900

    def setup(self, cell, size):
        B, _, _, H = SIZES[size]
        self.X, self.y = batch(size, BATCHES_PER_EPOCH)
        self.model = ESTIMATORS[cell](hidden_size=H, batch_size=B, random_state=0)
        self.model.partial_fit(self.X, self.y)  # compiles outside the timing

    def time_epoch(self, cell, size):
        self.model.partial_fit(self.X, self.y)

    def peakmem_epoch(self, cell, size):
        self.model.partial_fit(self.X, self.y)


class FirstFit:
    """Seconds for a new Python process to import numbarnn and fit one epoch at size S,
    with the compiled kernels already in Numba's on-disk cache."""

    params = list(ESTIMATORS)
    param_names = ["cell"]
    timeout = 600

    def setup_cache(self):
        for cls in ESTIMATORS.values():  # fill the on-disk cache for every estimator
            cls(hidden_size=4, max_iter=1).fit(*batch("S"))

    def timeraw_first_fit(self, cell):
        return f"""
from numbarnn import {ESTIMATORS[cell].__name__} as Model
import numpy as np
X = np.random.default_rng(0).standard_normal((32, 50, 1), dtype=np.float32)
Model(hidden_size=32, max_iter=1).fit(X, X[:, -1, 0])
"""


class ColdFit:
    """Seconds for a new Python process to import numbarnn and fit + predict a tiny model
    with an empty Numba cache: the compilation a new machine pays once."""

    params = list(ESTIMATORS)
    param_names = ["cell"]
    timeout = 600
    number = 1
    repeat = 3

    def timeraw_cold_fit(self, cell):
        return f"""
import atexit, os, shutil, tempfile
cache = tempfile.mkdtemp()
atexit.register(shutil.rmtree, cache, True)
os.environ["NUMBA_CACHE_DIR"] = cache  # before numba is imported
import numpy as np
from numbarnn import {ESTIMATORS[cell].__name__} as Model
X = np.random.default_rng(0).standard_normal((16, 10, 1), dtype=np.float32)
Model(hidden_size=4, max_iter=2).fit(X, X[:, -1, 0]).predict(X)
"""
