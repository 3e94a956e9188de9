"""The regressors: RNNRegressor, LSTMRegressor and GRURegressor (mean squared error on
real targets, standardised with the inputs)."""

import numpy as np
from sklearn.base import MultiOutputMixin, RegressorMixin
from sklearn.metrics import r2_score

from ..preprocessing import feature_statistics, standardized
from ..validation import check_sample_weight, check_targets, valid_steps
from .base import _SequenceEstimator
from .cell_options import GRUOptions, LSTMOptions, RNNOptions


class _SequenceRegressor(MultiOutputMixin, RegressorMixin, _SequenceEstimator):
    """What the three regressors share: real targets, MSE, R², outputs in the target's
    units."""

    _SCORE_NAME = "R2"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # scikit-learn's checks fit a few epochs on tabular data read as short sequences
        tags.regressor_tags.poor_score = True
        return tags

    def _loss(self, n_outputs):
        return "mse"

    def _check_targets(self, y, X, lengths, training):
        """Targets (n, k) or (n, T, k), in the compute dtype for training, else float64."""
        return check_targets(y, X, self.return_sequences,
                             np.dtype(self.dtype) if training else np.float64, lengths)

    def _n_outputs(self, y):
        return y.shape[-1]

    def _learn_scaling(self, X, y, lengths, weights):
        """As the inputs', each target's mean and standard deviation."""
        super()._learn_scaling(X, y, lengths, weights)
        self.target_mean_, self.target_scale_ = (
            feature_statistics(y, lengths, weights) if self.return_sequences
            else feature_statistics(y[:, None], np.ones(len(y), np.int64), weights))

    def _network_data(self, X, y, lengths, weights):
        """Training data in the units the network learns in (as given without scaling)."""
        X, y, lengths, weights = super()._network_data(X, y, lengths, weights)
        return X, standardized(y, self.target_mean_, self.target_scale_), lengths, weights

    def predict(self, X, lengths=None):
        """Network output for each sequence (or each step, with ``return_sequences``).

        Parameters
        ----------
        X : array-like of shape (n, T, d) or (n, T), or list of arrays
            As for :meth:`fit`; T may differ from the one seen in fit. A dask
            array is predicted lazily, chunk by chunk (:func:`numbarnn.parallel.predict`).
        lengths : array-like of int, shape (n,), optional
            Valid steps per sequence (default: all T, or the lengths of a list).

        Returns
        -------
        ndarray
            (n,) or (n, k) as y in fit; with ``return_sequences``, (n, T) or
            (n, T, k), NaN at padded steps. A dask array for a dask X.
        """
        if type(X).__module__.startswith("dask.array"):  # checked without importing dask
            from ..parallel import predict
            return predict(self, X, lengths)
        # as MLPRegressor: float64 input gives float64 output, whatever the compute dtype
        input_dtype = getattr(X, "dtype", np.dtype(np.float64))
        X, lengths = self._checked_input(X, lengths)
        out = self._forward(X, lengths)
        if input_dtype.kind == "f":
            out = out.astype(np.result_type(input_dtype, out.dtype), copy=False)
        if self.network_.return_sequences:
            out[~valid_steps(lengths, X.shape[1])] = np.nan
        return out[..., 0] if out.ndim - 1 == self._y_ndim else out

    def score(self, X, y, sample_weight=None, lengths=None):
        """Coefficient of determination R² of the predictions (over valid steps).

        Parameters
        ----------
        X : array-like of shape (n, T, d) or (n, T), or list of arrays
            Input sequences, as for :meth:`predict`.
        y : array-like
            True targets, as for :meth:`fit`.
        sample_weight : array-like of shape (n,), optional
            Weight of each sequence (spread over its steps with ``return_sequences``,
            where (n, T), a weight per step, is also taken).
        lengths : array-like of int, shape (n,), optional
            Valid steps per sequence.

        Returns
        -------
        score : float
            R² of ``predict(X, lengths)`` against ``y``.
        """
        X, lengths = self._checked_input(X, lengths)
        y, _ = self._check_targets(y, X, lengths, training=False)
        return self._validation_score(X, y, lengths, check_sample_weight(
            sample_weight, lengths, X.shape[1], self.network_.return_sequences))

    def _validation_score(self, X, y, lengths, weights=None):
        """R² over the valid outputs, weighted by step weights (n, S, 1) if given."""
        pred, y, weights = self._valid_outputs(lengths, self._forward(X, lengths), y, weights)
        return r2_score(y, pred, sample_weight=weights)


class RNNRegressor(RNNOptions, _SequenceRegressor):
    __doc__ = RNNOptions.describe("Elman recurrent network for sequence regression.",
                                  "regression", """
        Forecast a yearly series from the 8 years before each year:

        >>> from numbarnn import RNNRegressor
        >>> from numbarnn.datasets import load_sunspots
        >>> from numbarnn.preprocessing import make_windows
        >>> X, y = make_windows(load_sunspots(), lookback=8)
        >>> X.shape, y.shape
        ((301, 8, 1), (301,))
        >>> model = RNNRegressor(hidden_size=4, max_iter=3, random_state=0)
        >>> model.fit(X[:250], y[:250]).predict(X[250:]).shape
        (51,)
        >>> model.n_iter_, model.n_features_in_
        (3, 1)
        >>> r2 = model.score(X[250:], y[250:])  # R² on the last 51 years
        """)
    _parameter_constraints = {**_SequenceRegressor._parameter_constraints,
                              **RNNOptions.constraints}

    def __init__(self, hidden_size=64, *, nonlinearity="tanh", vocab_size=None, embedding_dim=None,
                 num_layers=1, bidirectional=False, dropout=0.0, return_sequences=False,
                 solver="adam", learning_rate="constant", learning_rate_init=1e-3, momentum=0.9,
                 nesterov=False, weight_decay=0.0, batch_size=32, max_iter=200, shuffle=True,
                 tol=1e-4, n_iter_no_change=50, early_stopping="auto", validation_fraction=0.1,
                 validation_split="last", standardize=True, clip_norm=1.0, dtype="float32",
                 device="cpu", n_threads=None, random_state=None, verbose=0, warm_start=False):
        vars(self).update((k, v) for k, v in locals().items() if k != "self")


class LSTMRegressor(LSTMOptions, _SequenceRegressor):
    __doc__ = LSTMOptions.describe("Long short-term memory network for sequence regression.",
                                   "regression", """
        Sequences of different lengths, padded to 10 steps, with two targets each:

        >>> import numpy as np
        >>> from numbarnn import LSTMRegressor
        >>> rng = np.random.default_rng(0)
        >>> X = rng.standard_normal((16, 10, 2))  # 16 sequences, 10 steps, 2 features
        >>> lengths = rng.integers(5, 11, size=16)  # valid steps; the rest is padding
        >>> y = np.array([x[:n].sum(axis=0) for x, n in zip(X, lengths)])
        >>> model = LSTMRegressor(hidden_size=4, max_iter=3, random_state=0)
        >>> model.fit(X, y, lengths).predict(X, lengths).shape
        (16, 2)
        >>> model.n_outputs_, len(model.loss_curve_)
        (2, 3)

        A list of sequences of different lengths needs no ``lengths``:

        >>> model.predict([np.ones((3, 2)), np.ones((7, 2))]).shape
        (2, 2)
        """)
    _parameter_constraints = {**_SequenceRegressor._parameter_constraints,
                              **LSTMOptions.constraints}

    def __init__(self, hidden_size=64, *, peephole=False, coupled=False, forget_bias=1.0,
                 vocab_size=None, embedding_dim=None, num_layers=1, bidirectional=False,
                 dropout=0.0, return_sequences=False, solver="adam", learning_rate="constant",
                 learning_rate_init=1e-3, momentum=0.9, nesterov=False, weight_decay=0.0,
                 batch_size=32, max_iter=200, shuffle=True, tol=1e-4, n_iter_no_change=50,
                 early_stopping="auto", validation_fraction=0.1, validation_split="last",
                 standardize=True, clip_norm=1.0, dtype="float32", device="cpu", n_threads=None,
                 random_state=None, verbose=0, warm_start=False):
        vars(self).update((k, v) for k, v in locals().items() if k != "self")


class GRURegressor(GRUOptions, _SequenceRegressor):
    __doc__ = GRUOptions.describe("Gated recurrent unit network for sequence regression.",
                                  "regression", """
        A target at every step (``return_sequences=True``): recall the input of two
        steps before.

        >>> from numbarnn import GRURegressor
        >>> from numbarnn.datasets import make_delayed_recall
        >>> X, y = make_delayed_recall(16, 8, delay=2, random_state=0)
        >>> X.shape, y.shape
        ((16, 8, 1), (16, 8))
        >>> model = GRURegressor(hidden_size=4, return_sequences=True, max_iter=3,
        ...                      random_state=0)
        >>> model.fit(X, y).predict(X).shape
        (16, 8)

        The weights, by PyTorch's names (``torch.nn.GRU`` and a ``torch.nn.Linear``):

        >>> {name: weight.shape for name, weight in model.state_dict().items()}
        {'rnn.weight_ih_l0': (12, 1), 'rnn.weight_hh_l0': (12, 4), 'rnn.bias_ih_l0': (12,),
         'rnn.bias_hh_l0': (12,), 'head.weight': (1, 4), 'head.bias': (1,)}
        """)
    _parameter_constraints = {**_SequenceRegressor._parameter_constraints,
                              **GRUOptions.constraints}

    def __init__(self, hidden_size=64, *, reset_after=True, vocab_size=None, embedding_dim=None,
                 num_layers=1, bidirectional=False, dropout=0.0, return_sequences=False,
                 solver="adam", learning_rate="constant", learning_rate_init=1e-3, momentum=0.9,
                 nesterov=False, weight_decay=0.0, batch_size=32, max_iter=200, shuffle=True,
                 tol=1e-4, n_iter_no_change=50, early_stopping="auto", validation_fraction=0.1,
                 validation_split="last", standardize=True, clip_norm=1.0, dtype="float32",
                 device="cpu", n_threads=None, random_state=None, verbose=0, warm_start=False):
        vars(self).update((k, v) for k, v in locals().items() if k != "self")
