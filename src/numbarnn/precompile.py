"""Fill Numba's on-disk cache ahead of time, for Docker images, CI jobs and cluster workers.

A new machine compiles numbarnn's kernels at its first fit (8-11 s a cell on two cores),
then loads them from Numba's cache. :func:`precompile` pays that once, up front: it fits
and predicts with a tiny model of each chosen cell and dtype, which compiles exactly the
kernels a fit with the default options uses, plus those of token input, the
classification losses and the other optimizers. ``numbarnn compile`` runs it from the
command line.

The cache lives beside numbarnn's modules (``__pycache__``), or in ``NUMBA_CACHE_DIR``
where that is set; it is valid for the same numbarnn, Numba and CPU model. Build a Docker
image's cache on the CPU model it will run on, or set ``NUMBA_CPU_NAME=generic`` for
both (portable code, somewhat slower).
"""

import time
import warnings

import numpy as np
from numba.core import event

from .estimators import (
    GRUClassifier,
    GRURegressor,
    LSTMClassifier,
    LSTMRegressor,
    RNNClassifier,
    RNNRegressor,
)

CELLS = {"rnn": (RNNRegressor, RNNClassifier), "lstm": (LSTMRegressor, LSTMClassifier),
         "gru": (GRURegressor, GRUClassifier)}
DTYPES = ("float32", "float64")


class _Progress(event.Listener):
    """One line per kernel compiled: its name and seconds."""

    def __init__(self, write):
        self.write = write
        self.started = []
        self.count = 0

    def on_start(self, ev):
        self.started.append(time.perf_counter())

    def on_end(self, ev):
        seconds = time.perf_counter() - self.started.pop()
        function = getattr(ev.data["dispatcher"], "py_func", None)
        module = getattr(function, "__module__", "")
        if self.started or not module.startswith("numbarnn"):
            return  # only the kernels the models call, each with what it needed compiled
        self.count += 1
        self.write(f"  {module}.{function.__name__}: {seconds:.1f} s")


def _tiny_fits(cell, dtype):
    """The fits and predictions that compile what ``cell`` in ``dtype`` uses: a regressor
    with the defaults, then token ids with SGD, then a classifier of three classes."""
    regressor, classifier = CELLS[cell]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 4, 2))
    y = rng.standard_normal(6)
    ids = rng.integers(0, 5, size=(6, 4))
    labels = np.arange(6) % 3
    options = dict(hidden_size=2, max_iter=1, dtype=dtype, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        regressor(**options).fit(X, y).predict(X)
        regressor(**options, vocab_size=5, embedding_dim=2, solver="sgd").fit(ids, y)
        classifier(**options, solver="adamw").fit(X, labels).predict_proba(X)


def precompile(cells=tuple(CELLS), dtypes=("float32",), progress=print):
    """Compile numbarnn's CPU kernels for the chosen cells and dtypes into Numba's cache.

    Parameters
    ----------
    cells : sequence of {'rnn', 'lstm', 'gru'}, default=all three
        The cells to compile.
    dtypes : sequence of {'float32', 'float64'}, default=('float32',)
        The dtypes to compile for; float64 is compiled only when asked for.
    progress : callable or None, default=print
        Called with one line of text per cell and dtype and per kernel compiled.

    Returns
    -------
    dict
        Seconds per (cell, dtype); near zero for those already in the cache.

    Examples
    --------
    >>> from numbarnn.precompile import precompile
    >>> seconds = precompile(["rnn"], progress=None)   # compiles once, then loads
    >>> sorted(seconds)
    [('rnn', 'float32')]
    """
    for name in cells:
        if name not in CELLS:
            raise ValueError(f"unknown cell {name!r}; choose from {', '.join(CELLS)}")
    for dtype in dtypes:
        if dtype not in DTYPES:
            raise ValueError(f"unknown dtype {dtype!r}; choose from {', '.join(DTYPES)}")
    write = progress or (lambda line: None)
    seconds = {}
    for dtype in dtypes:
        for name in cells:
            write(f"{name} {dtype}:")
            listener = _Progress(write)
            start = time.perf_counter()
            with event.install_listener("numba:compile", listener):
                _tiny_fits(name, dtype)
            seconds[name, dtype] = time.perf_counter() - start
            write(f"{name} {dtype}: {listener.count} kernels compiled in "
                  f"{seconds[name, dtype]:.1f} s" if listener.count else
                  f"{name} {dtype}: already compiled ({seconds[name, dtype]:.1f} s)")
    return seconds
