"""Reference sizes and seeded data shared by the benchmarks."""

import numpy as np

from numbarnn import GRUCell, LSTMCell, RNNCell

# (batch, time steps, features, hidden units)
SIZES = {"S": (32, 50, 1, 32), "M": (64, 100, 8, 128), "L": (128, 200, 32, 256)}
CELLS = {"rnn": RNNCell(), "lstm": LSTMCell(), "gru": GRUCell()}


def batch(size, n_batches=1):
    """Seeded float32 inputs (n_batches * B, T, D) and per-sequence targets."""
    B, T, D, _ = SIZES[size]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_batches * B, T, D), dtype=np.float32)
    return X, rng.standard_normal((n_batches * B, 1), dtype=np.float32)
