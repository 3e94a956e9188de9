import os

import numpy as np
import pytest
from hypothesis import settings

from numbarnn import GRUCell, LSTMCell, RNNCell

# tests/cuda runs in a process of its own, under the CUDA simulator (tests/test_cuda_simulator.py)
collect_ignore = [] if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" else ["cuda"]

settings.register_profile("numbarnn", deadline=None, max_examples=25, print_blob=True)
settings.load_profile("numbarnn")

CELLS = {
    "rnn-tanh": RNNCell("tanh"),
    "rnn-relu": RNNCell("relu"),
    "lstm": LSTMCell(),
    "lstm-peephole": LSTMCell(peephole=True),
    "lstm-coupled": LSTMCell(coupled=True),
    "lstm-peephole-coupled": LSTMCell(peephole=True, coupled=True),
    "gru-reset-after": GRUCell(reset_after=True),
    "gru-reset-before": GRUCell(reset_after=False),
}


@pytest.fixture(params=list(CELLS), ids=list(CELLS))
def cell(request):
    return CELLS[request.param]


def random_batch(seed, B, T, D, k, return_sequences, ragged=True):
    """Seeded inputs, targets and lengths (ragged: not all sequences full length)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((B, T, D))
    y = rng.standard_normal((B, T, k) if return_sequences else (B, k))
    lengths = rng.integers(1, T + 1, B) if ragged else np.full(B, T)
    if ragged:
        lengths[0] = T
    return X, y, lengths
