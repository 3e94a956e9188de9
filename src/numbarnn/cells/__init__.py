"""Recurrent cells: gate order, pointwise math (scalar, compiled once) and parameter names.

A cell knows nothing of batches or devices; the backends loop over time and
batch and call the cell's ``step`` and ``step_grad``.
"""

from .gru import GRUCell
from .lstm import LSTMCell
from .rnn import RNNCell

__all__ = ["RNNCell", "LSTMCell", "GRUCell"]
