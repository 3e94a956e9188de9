"""numbarnn: recurrent neural networks for sequence regression and classification, compiled
with Numba."""

from .cells import GRUCell, LSTMCell, RNNCell
from .estimators import (
    GRUClassifier,
    GRURegressor,
    LSTMClassifier,
    LSTMRegressor,
    RNNClassifier,
    RNNRegressor,
    load,
)
from .exceptions import TrainingDivergedError
from .network import RecurrentNetwork
from .optim import SGD, Adam, AdamW, clip_grad_norm

__version__ = "0.1.0.dev0"

__all__ = [
    "RNNRegressor",
    "LSTMRegressor",
    "GRURegressor",
    "RNNClassifier",
    "LSTMClassifier",
    "GRUClassifier",
    "load",
    "TrainingDivergedError",
    "RNNCell",
    "LSTMCell",
    "GRUCell",
    "RecurrentNetwork",
    "Adam",
    "AdamW",
    "SGD",
    "clip_grad_norm",
]
