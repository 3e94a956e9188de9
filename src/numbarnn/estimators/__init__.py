"""scikit-learn estimators: a regressor and a classifier for each cell.

All six share :class:`~.base._SequenceEstimator` (validation, training, stopping, weights,
saving); :mod:`.regressors` and :mod:`.classifiers` add their targets, loss, score and
predictions, :mod:`.cell_options` each cell's own parameters, and :mod:`.files` loading.
"""

from .classifiers import GRUClassifier, LSTMClassifier, RNNClassifier
from .files import load
from .regressors import GRURegressor, LSTMRegressor, RNNRegressor

__all__ = ["RNNRegressor", "LSTMRegressor", "GRURegressor", "RNNClassifier", "LSTMClassifier",
           "GRUClassifier", "load"]
