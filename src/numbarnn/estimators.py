"""scikit-learn estimators: RNNRegressor, LSTMRegressor and GRURegressor.

The three differ only in their cell; everything else lives in one base class.
"""

import copy
import functools
import math
import time
import warnings
from collections import OrderedDict
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import check_is_fitted

from . import io, threads, training
from .cells import GRUCell, LSTMCell, RNNCell
from .exceptions import LayoutWarning, TrainingDivergedError
from .network import RecurrentNetwork
from .optim import SGD, Adam, AdamW
from .preprocessing import feature_statistics, standardized
from .validation import check_sample_weight, check_sequences, check_targets, real_array

AUTO_VALIDATION_SEQUENCES = 5  # early_stopping='auto' holds out at least this many


class _SequenceRegressor(MultiOutputMixin, RegressorMixin, BaseEstimator):
    """The estimator shared by the three cells; subclasses define ``_cell()``."""

    _parameter_constraints = {
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "num_layers": [Interval(Integral, 1, None, closed="left")],
        "bidirectional": ["boolean"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "return_sequences": ["boolean"],
        "standardize": ["boolean"],
        "solver": [StrOptions({"adam", "adamw", "sgd"})],
        "learning_rate": [StrOptions({"constant", "adaptive", "cosine"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterov": ["boolean"],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "validation_split": [StrOptions({"last", "random"})],
        "clip_norm": [Interval(Real, 0, None, closed="neither"), None],
        "dtype": [StrOptions({"float32", "float64"})],
        "device": [StrOptions({"cpu", "cuda"})],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    _INTEGER_PARAMETERS = ("hidden_size", "num_layers", "batch_size", "max_iter",
                           "n_iter_no_change", "n_threads")

    def _validate_params(self):
        """scikit-learn's checks of the parameter constraints, and what they let through:
        a bool where a number of units, layers or epochs belongs."""
        super()._validate_params()
        self._reject_bools(self._INTEGER_PARAMETERS)

    def _reject_bools(self, names):
        for name in names:
            if isinstance(getattr(self, name), (bool, np.bool_)):
                raise InvalidParameterError(f"The {name!r} parameter of {type(self).__name__} "
                                            f"must be an int, not a bool; got "
                                            f"{getattr(self, name)!r}.")

    _PREDICT_PARAMETERS = ("device", "n_threads")

    def _validate_predict_params(self):
        """The parameters predict uses, which may have been set since the fit (checking
        all of them would cost as much as a small predict)."""
        validate_parameter_constraints(
            {k: self._parameter_constraints[k] for k in self._PREDICT_PARAMETERS},
            {k: getattr(self, k) for k in self._PREDICT_PARAMETERS},
            caller_name=type(self).__name__)
        self._reject_bools(("n_threads",))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        # scikit-learn's checks fit a few epochs on tabular data read as short sequences
        tags.regressor_tags.poor_score = True
        return tags

    # --- construction ---------------------------------------------------------------

    def _make_network(self, n_features, n_outputs, device=None):
        return RecurrentNetwork(self._cell(), n_features, self.hidden_size, n_outputs,
                                self.num_layers, self.bidirectional, self.dropout,
                                self.return_sequences, device or self.device)

    def _on_device(self):
        """The fitted network on ``device`` (which may have been set since the fit)."""
        return self.network_.to(self.device)

    def _make_optimizer(self):
        if self.solver == "sgd":
            return SGD(self.learning_rate_init, self.momentum, self.nesterov, self.weight_decay)
        solver = AdamW if self.solver == "adamw" else Adam
        return solver(self.learning_rate_init, weight_decay=self.weight_decay)

    def _init_params(self, network, rng):
        return network.init_params(rng, np.dtype(self.dtype))

    def _new_rng(self):
        """The generator behind initialisation, shuffling and dropout, from ``random_state``."""
        return np.random.default_rng(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _reset(self, network, n_features, n_outputs, y_ndim, rng, early_stopping=False):
        """Fresh fitted state, as MLPRegressor's ``_initialize``."""
        self._rng = rng
        self.network_ = network
        self.params_ = self._init_params(network, rng)
        self._optimizer = None
        self.n_features_in_, self.n_outputs_, self._y_ndim = n_features, n_outputs, y_ndim
        self.input_mean_ = self.input_scale_ = self.target_mean_ = self.target_scale_ = None
        self.n_iter_, self.t_ = 0, 0
        self.loss_curve_ = []
        self._no_improvement_count = 0
        self._lr_factor = 1.0
        self.__dict__.pop("_best_params", None)
        self.validation_scores_, self.best_validation_score_ = None, None
        self.best_loss_ = None if early_stopping else np.inf

    # --- fitting --------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, lengths=None, *, sample_weight=None, validation_data=None):
        """Train on sequences for up to ``max_iter`` epochs.

        Parameters
        ----------
        X : array-like of shape (n, T, d) or (n, T), or list of arrays
            Input sequences; a 2D X is univariate; a list of (T_i, d) or (T_i,)
            arrays of different lengths is zero-padded with its lengths.
        y : array-like
            (n,) or (n, k) per sequence; (n, T) or (n, T, k), or a list matching
            a ragged X, with ``return_sequences=True``.
        lengths : array-like of int, shape (n,), optional
            Valid steps per sequence; padded steps neither change the state nor
            enter the loss.
        sample_weight : array-like of shape (n,), optional
            Weight of each sequence in the loss, its gradient and the validation
            score; with ``return_sequences=True`` also (n, T), a weight per step (or
            a list matching a ragged X). Non-negative; None weighs all equally.
        validation_data : tuple, optional
            ``(X_val, y_val)``, ``(X_val, y_val, lengths_val)`` or ``(X_val, y_val,
            lengths_val, sample_weight_val)``: sequences scored (R²) after every
            epoch into ``validation_scores_``. With ``early_stopping`` True or
            'auto' they, rather than a split of X, decide when to stop and which
            weights to keep; with False they are only recorded.

        Returns
        -------
        self : object
            The fitted estimator.

        Raises
        ------
        TrainingDivergedError
            If the loss or gradient became NaN or infinite; the last weights with
            a finite loss, and the optimizer's state with them, are restored first.
            Any other error (invalid input or parameters, ``MemoryError``,
            ``KeyboardInterrupt``) leaves the estimator exactly as it was.

        Warns
        -----
        LayoutWarning
            If X has more than four times as many features per step as steps: it may
            be an (n, d, T) panel, to be passed as ``X.transpose(0, 2, 1)``.
        """
        return self._fit(X, y, lengths, sample_weight, validation_data, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, lengths=None, *, sample_weight=None):
        """Train for one epoch over ``X``, continuing from the current state.

        The first call initialises the network; later calls keep the optimizer's
        state, with the current ``learning_rate_init``, ``momentum`` and
        ``weight_decay`` (a new ``solver`` starts a new state). Early stopping,
        the stopping rule and the 'adaptive' schedule do not apply; 'cosine' follows
        ``n_iter_`` over ``max_iter`` epochs and then stays at its last value.

        Parameters
        ----------
        X : array-like of shape (n, T, d) or (n, T), or list of arrays
            Input sequences, as for :meth:`fit`; the number of features must not
            change between calls.
        y : array-like
            Targets, as for :meth:`fit`.
        lengths : array-like of int, shape (n,), optional
            Valid steps per sequence.
        sample_weight : array-like of shape (n,) or (n, T), optional
            As for :meth:`fit`.

        Returns
        -------
        self : object
            The estimator, trained for one more epoch.

        Raises
        ------
        TrainingDivergedError
            As in :meth:`fit`.
        """
        return self._fit(X, y, lengths, sample_weight, None, incremental=True)

    def _fit(self, X, y, lengths, sample_weight, validation_data, incremental):
        """Train a copy of the fitted state and take it over only when training ends: an
        error leaves the estimator as it was, except divergence, after which it holds the
        last good weights and their optimizer state (and the error says so)."""
        work = self._working_copy()
        try:
            work._train(X, y, lengths, sample_weight, validation_data, incremental)
        except TrainingDivergedError:
            self._take_state(work)
            raise
        self._take_state(work)
        return self

    def _fitted_state(self):
        params = _parameter_names(type(self))
        return {k: v for k, v in vars(self).items() if k not in params}

    def _working_copy(self):
        """A shallow copy with its own copy of the fitted state (the parameters, such as a
        ``random_state`` generator, stay shared: a fit draws from the user's generator).
        The fitted network is shared too: training replaces it, never changes it."""
        work = copy.copy(self)
        vars(work).update({k: _own_copy(v) for k, v in self._fitted_state().items()})
        return work

    def _take_state(self, work):
        for key in self._fitted_state():
            delattr(self, key)
        vars(self).update(work._fitted_state())

    def _check_data(self, X, y, lengths, sample_weight, n_features, y_dtype):
        """Validated (X, y, lengths, step weights) of training or validation sequences with
        ``n_features`` features (None: any), and y's ndim."""
        X, lengths = check_sequences(X, lengths, np.dtype(self.dtype), n_features)
        y, y_ndim = check_targets(y, X, self.return_sequences, y_dtype, lengths)
        weights = check_sample_weight(sample_weight, lengths, X.shape[1], self.return_sequences)
        return (X, y, lengths, weights), y_ndim

    def _train(self, X, y, lengths, sample_weight, validation_data, incremental):
        fitted = hasattr(self, "params_")
        reset = not fitted or not (incremental or self.warm_start)
        dtype = np.dtype(self.dtype)
        train, y_ndim = self._check_data(X, y, lengths, sample_weight,
                                         None if reset else self.n_features_in_, dtype)
        X, y = train[:2]
        if not reset and y.shape[-1] != self.n_outputs_:
            raise ValueError(f"y has {y.shape[-1]} targets, but the estimator was fitted with "
                             f"{self.n_outputs_}")
        _warn_if_transposed(X)
        early_stopping = self._early_stopping(len(X), validation_data, incremental)
        valid = None
        if validation_data is not None:
            valid = self._check_validation_data(validation_data, X.shape[2], y.shape[-1])
        elif early_stopping:
            train, valid = self._validation_split(*train)
        network = self._make_network(X.shape[2], y.shape[-1])  # a missing GPU is reported here
        changed = [] if reset else network.differences(self.network_)
        if changed:
            raise ValueError(f"{', '.join(changed)} changed since the estimator was fitted; "
                             f"{'partial_fit' if incremental else 'fit with warm_start=True'} "
                             "continues the fitted network, so set them back, or fit afresh "
                             "(warm_start=False)")

        with threads.limit(self.n_threads):
            if reset:
                self._reset(network, X.shape[2], y.shape[-1], y_ndim, self._new_rng(),
                            early_stopping)
                if self.standardize:
                    self._learn_scaling(*train)
            train = self._standardized(*train)
            self.network_ = network
            if self.params_.dtype != dtype:
                self.params_ = self.params_.astype(dtype)
                self._optimizer = None
            self._optimizer = self._continued_optimizer(incremental)
            if valid is not None and self.validation_scores_ is None:
                self.validation_scores_, self.best_validation_score_ = [], -np.inf
            self._run_epochs(train, valid, 1 if incremental else self.max_iter, incremental,
                             early_stopping)

    def _early_stopping(self, n, validation_data, incremental):
        """Whether this fit stops on validation R² and keeps the best weights: as asked, or
        with 'auto', when validation data is given or ``validation_fraction`` of the ``n``
        sequences is at least ``AUTO_VALIDATION_SEQUENCES``."""
        if incremental:
            return False
        if self.early_stopping == "auto":
            return (validation_data is not None
                    or AUTO_VALIDATION_SEQUENCES <= self._n_held_out(n) < n)
        return bool(self.early_stopping)

    def _n_held_out(self, n):
        """How many of ``n`` sequences the validation split holds out."""
        return int(round(self.validation_fraction * n))

    def _learn_scaling(self, X, y, lengths, weights):
        """Each input feature's and each target's mean and standard deviation over the
        valid steps of the training data, weighted by the sample weights."""
        self.input_mean_, self.input_scale_ = feature_statistics(X, lengths, weights)
        self.target_mean_, self.target_scale_ = (
            feature_statistics(y, lengths, weights) if self.return_sequences
            else feature_statistics(y[:, None], np.ones(len(y), np.int64), weights))

    def _standardized(self, X, y, lengths, weights):
        """Training data in the units the network learns in (as given without scaling)."""
        return (standardized(X, self.input_mean_, self.input_scale_),
                standardized(y, self.target_mean_, self.target_scale_), lengths, weights)

    def _check_validation_data(self, validation_data, n_features, n_outputs):
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3,
                                                                                        4):
            raise ValueError("validation_data must be a tuple (X_val, y_val), (X_val, y_val, "
                             "lengths_val) or (X_val, y_val, lengths_val, sample_weight_val); "
                             f"got {type(validation_data).__name__}"
                             + (f" of {len(validation_data)} items"
                                if isinstance(validation_data, (tuple, list)) else ""))
        try:
            valid, _ = self._check_data(*(*validation_data, None, None)[:4], n_features,
                                        np.float64)
        except (TypeError, ValueError) as err:
            raise type(err)(f"validation_data: {err}") from None
        if valid[1].shape[-1] != n_outputs:
            raise ValueError(f"validation_data: y has {valid[1].shape[-1]} targets, but the "
                             f"training y has {n_outputs}")
        return valid

    def _continued_optimizer(self, incremental):
        """A new optimizer from the current parameters; in ``partial_fit`` it takes over
        the state of the one before if of the same solver."""
        optimizer, before = self._make_optimizer(), self._optimizer
        if incremental and type(before) is type(optimizer):
            for name in optimizer.state_names:
                setattr(optimizer, name, getattr(before, name))
            optimizer.t = before.t
        return optimizer

    def _validation_split(self, X, y, lengths, weights):
        """Hold out ``validation_fraction`` of the sequences: at random, or the last ones."""
        n_valid = self._n_held_out(len(X))
        if n_valid < 1 or n_valid >= len(X):
            raise ValueError(f"early_stopping needs at least one training and one validation "
                             f"sequence; validation_fraction={self.validation_fraction} of "
                             f"{len(X)} sequences gives {n_valid} for validation")
        if self.validation_split == "last":
            t, v = slice(0, len(X) - n_valid), slice(len(X) - n_valid, None)
        else:
            order = check_random_state(self.random_state).permutation(len(X))
            v, t = order[:n_valid], order[n_valid:]
        return tuple(None if a is None else a[t] for a in (X, y, lengths, weights)), tuple(
            None if a is None else a[v] for a in (X, y, lengths, weights))

    def _run_epochs(self, train, valid, epochs, incremental, early_stopping):
        with training.epochs(self.network_, self.params_, self._optimizer, train) as run_epoch:
            self._epochs(run_epoch, len(train[0]), valid, epochs, incremental, early_stopping)

    def _learning_rate(self, epoch):
        """The step size of ``epoch`` (0-based, of this fit; of the estimator's life in
        ``partial_fit``): ``learning_rate_init`` times the schedule."""
        if self.learning_rate == "cosine":
            epoch = min(epoch, self.max_iter - 1)
            return self.learning_rate_init * 0.5 * (1 + math.cos(math.pi * epoch / self.max_iter))
        return self.learning_rate_init * self._lr_factor

    def _epochs(self, run_epoch, n_train, valid, epochs, incremental, early_stopping):
        monitor_validation = valid is not None and early_stopping
        for epoch in range(epochs):
            start = time.perf_counter()
            self._optimizer.lr = self._learning_rate(self.n_iter_ if incremental else epoch)
            loss = run_epoch(self.batch_size, self._rng, self.clip_norm, self.n_iter_ + 1,
                             self.shuffle, self._progress if self.verbose else None)
            self.n_iter_ += 1
            self.t_ += n_train
            self.loss_curve_.append(loss)
            line = f"Epoch {self.n_iter_}: loss {loss:.6g}"
            if valid is not None:
                self.validation_scores_.append(self._r2(*valid))
                line += f", validation R2 {self.validation_scores_[-1]:.4f}"
            if self.verbose:
                print(f"{line}, {time.perf_counter() - start:.2f} s", flush=True)
            if incremental:
                continue
            self._update_no_improvement_count(valid is not None, monitor_validation)
            if self._no_improvement_count > self.n_iter_no_change:
                if self.learning_rate == "adaptive" and self._optimizer.lr > 1e-6:
                    self._lr_factor /= 5  # as MLPRegressor: a lower rate instead of stopping
                    self._no_improvement_count = 0
                    if self.verbose:
                        print(f"Learning rate lowered to {self._learning_rate(epoch + 1):.3g}",
                              flush=True)
                    continue
                if monitor_validation:
                    self.params_[...] = self._best_params
                if self.verbose:
                    print(f"Stopped: no improvement above tol={self.tol} for "
                          f"{self.n_iter_no_change} epochs", flush=True)
                return
        if incremental:
            return
        if monitor_validation and hasattr(self, "_best_params"):  # as MLPRegressor
            self.params_[...] = self._best_params
        warnings.warn(f"Maximum iterations ({self.max_iter}) reached and the optimization "
                      "hasn't converged yet.", ConvergenceWarning, stacklevel=7)

    def _update_no_improvement_count(self, validated, monitor_validation):
        """As MLPRegressor: count epochs without improvement by more than ``tol`` of the
        validation score (with early stopping) or of the training loss, and keep the best
        validation score's weights."""
        if validated:
            score = self.validation_scores_[-1]
            if monitor_validation:
                self._no_improvement_count = (
                    self._no_improvement_count + 1
                    if score < self.best_validation_score_ + self.tol else 0)
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                if monitor_validation:
                    self._best_params = self.params_.copy()
        if not monitor_validation:
            loss, best = self.loss_curve_[-1], self.best_loss_
            best = np.inf if best is None else best
            self._no_improvement_count = (self._no_improvement_count + 1
                                          if loss > best - self.tol else 0)
            self.best_loss_ = min(best, loss)

    def _progress(self, batch, n_batches, loss):
        print(f"  epoch {self.n_iter_ + 1}: batch {batch}/{n_batches}, loss {loss:.6g}", flush=True)

    # --- prediction ------------------------------------------------------------------

    def _forward(self, X, lengths):
        """The prediction in the target's units: the network's output on ``n_threads``
        threads, for X standardised and back to the target's units if fitted so."""
        with threads.limit(self.n_threads):
            out = self._on_device().predict(
                self.params_, standardized(X, self.input_mean_, self.input_scale_), lengths)
        if self.target_mean_ is None:
            return out
        return out * self.target_scale_.astype(out.dtype) + self.target_mean_.astype(out.dtype)

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
            from .parallel import predict
            return predict(self, X, lengths)
        check_is_fitted(self)
        self._validate_predict_params()
        # as MLPRegressor: float64 input gives float64 output, whatever the compute dtype
        input_dtype = getattr(X, "dtype", np.dtype(np.float64))
        X, lengths = check_sequences(X, lengths, self.params_.dtype, self.n_features_in_)
        out = self._forward(X, lengths)
        if input_dtype.kind == "f":
            out = out.astype(np.result_type(input_dtype, out.dtype), copy=False)
        if self.network_.return_sequences:
            out[np.arange(X.shape[1])[None, :] >= lengths[:, None]] = np.nan
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
        check_is_fitted(self)
        self._validate_predict_params()
        X, lengths = check_sequences(X, lengths, self.params_.dtype, self.n_features_in_)
        per_step = self.network_.return_sequences
        y, _ = check_targets(y, X, per_step, np.float64, lengths)
        return self._r2(X, y, lengths, check_sample_weight(sample_weight, lengths, X.shape[1],
                                                           per_step))

    def _r2(self, X, y, lengths, weights=None):
        """R² over the valid outputs, weighted by step weights (n, S, 1) if given."""
        pred = self._forward(X, lengths)
        if self.network_.return_sequences:
            valid = np.arange(X.shape[1])[None, :] < lengths[:, None]
            pred, y = pred[valid], y[valid]
            weights = None if weights is None else weights[..., 0][valid]
        elif weights is not None:
            weights = weights[:, 0, 0]
        return r2_score(y, pred, sample_weight=weights)

    # --- weights -----------------------------------------------------------------------

    def state_dict(self):
        """The weights as an ordered dict of NumPy arrays with PyTorch's names.

        Keys are ``rnn.<name>`` (e.g. ``rnn.weight_ih_l0``, as ``nn.LSTM`` names its
        parameters) and ``head.weight``, ``head.bias`` (an ``nn.Linear``), so a module
        with attributes ``rnn`` and ``head`` loads it with ``load_state_dict``.

        Returns
        -------
        state_dict : collections.OrderedDict of str to ndarray
            Copies of the weights, in storage order.
        """
        check_is_fitted(self)
        return OrderedDict((name if name.startswith("head.") else f"rnn.{name}", view.copy())
                           for name, view in self.network_.layout.views(self.params_).items())

    def load_state_dict(self, state_dict):
        """Set the weights from a dict as :meth:`state_dict` returns (NumPy arrays or tensors).

        On an unfitted estimator the number of features and outputs are read from
        the shapes of ``rnn.weight_ih_l0`` and ``head.weight``, and the estimator
        becomes fitted (``n_iter_ = 0``); its other parameters (``hidden_size``,
        ``num_layers``, ``bidirectional``, the cell's options) must match the
        weights. Predictions are then (n,) or (n, T) for one output, else (n, k) or
        (n, T, k).

        Parameters
        ----------
        state_dict : mapping of str to array-like
            Every weight, by name; missing, unexpected or misshapen names are errors.

        Returns
        -------
        self : object
            The estimator with the new weights.

        Raises
        ------
        ValueError
            If a name is missing or unexpected, a shape does not match, or a value
            is NaN, infinite or beyond the range of ``dtype``; the estimator is left
            as it was.
        TypeError
            If ``state_dict`` is not a mapping of names to real arrays.
        """
        self._validate_params()
        if not hasattr(state_dict, "items"):
            raise TypeError(f"state_dict must be a mapping of names to arrays, not "
                            f"{type(state_dict).__name__}")
        arrays = {}
        for key, value in state_dict.items():
            if not isinstance(key, str):
                raise TypeError(f"state_dict keys must be names (str), got {key!r}")
            arrays[key] = value.detach().cpu().numpy() if hasattr(value, "detach") else value
        network, names = self._network_for({k: np.shape(v) for k, v in arrays.items()})
        dtype = np.dtype(self.dtype)
        params = np.empty(network.layout.size, dtype)
        views = network.layout.views(params)
        for key, name in names.items():
            views[name][...] = real_array(arrays[key], dtype, key)
        if not hasattr(self, "params_"):
            n_outputs = network.output_size
            self._reset(network, network.input_size, n_outputs, 1 if n_outputs == 1 else 2,
                        self._new_rng())
        self.network_, self.params_, self._optimizer = network, params, None
        return self

    def _network_for(self, shapes):
        """The network (on the CPU) that weights of these shapes belong to, and its
        parameters' names in a state dict.

        Parameters
        ----------
        shapes : dict of str to tuple
            Every weight's shape, by state-dict name.

        Returns
        -------
        network : RecurrentNetwork
        names : dict of str to str
            State-dict name to the network's parameter name.

        Raises
        ------
        ValueError
            If the names or shapes do not fit this estimator's parameters.
        """
        for key in ("rnn.weight_ih_l0", "head.weight"):
            if key not in shapes or len(shapes[key]) != 2 or min(shapes[key]) < 1:
                raise ValueError(f"state_dict needs a 2D {key!r}")
        n_features, n_outputs = shapes["rnn.weight_ih_l0"][1], shapes["head.weight"][0]
        if hasattr(self, "params_") and (n_features, n_outputs) != (self.n_features_in_,
                                                                    self.n_outputs_):
            raise ValueError(f"state_dict has {n_features} features and {n_outputs} outputs; the "
                             f"estimator was fitted with {self.n_features_in_} and "
                             f"{self.n_outputs_}")
        network = self._make_network(n_features, n_outputs, "cpu")  # weights on the host
        names = {(n if n.startswith("head.") else f"rnn.{n}"): n for n in network.layout}
        missing, unexpected = set(names) - set(shapes), set(shapes) - set(names)
        if missing or unexpected:
            raise ValueError(f"state_dict does not fit this estimator: missing {sorted(missing)}, "
                             f"unexpected {sorted(unexpected)}")
        for key, name in names.items():
            if tuple(shapes[key]) != network.layout.shapes[name]:
                raise ValueError(f"{key} has shape {tuple(shapes[key])}, expected "
                                 f"{network.layout.shapes[name]}")
        return network, names

    def save(self, path):
        """Save the fitted estimator to one ``.npz`` file of arrays and JSON (no pickle).

        Load it with :func:`numbarnn.load`. The format is described in the user
        guide's page on saving and loading.

        Parameters
        ----------
        path : str or path-like
            File to write, used as given (``.npz`` is the usual suffix).

        Raises
        ------
        TypeError
            If a parameter is neither a number, a string nor None (nothing is written).

        Warns
        -----
        UserWarning
            If ``random_state`` is a generator, which a file cannot hold: it is
            saved as None.
        """
        check_is_fitted(self)
        params = {k: _jsonable(k, v) for k, v in self.get_params(deep=False).items()}
        attributes = {"n_iter_": int(self.n_iter_), "t_": int(self.t_),
                      "loss_curve_": [float(v) for v in self.loss_curve_],
                      "validation_scores_": _floats(self.validation_scores_),
                      "best_loss_": _floats(self.best_loss_),
                      "best_validation_score_": _floats(self.best_validation_score_),
                      "y_ndim": int(self._y_ndim),
                      **{name: _floats(None if getattr(self, name) is None
                                       else getattr(self, name).tolist())
                         for name in _SCALING}}
        io.write(path, self.state_dict(), {"class": type(self).__name__, "params": params,
                                           "attributes": attributes})


def _own_copy(value):
    """A copy of a fitted attribute that training may change: arrays and the lists of
    numbers copied, the network shared (training replaces it, never changes it), anything
    else (the optimizer, the random generator) deep-copied."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return list(value)
    if isinstance(value, RecurrentNetwork):
        return value
    return copy.deepcopy(value)


@functools.cache
def _parameter_names(cls):
    """The names of an estimator class's parameters (``get_params`` inspects the signature
    at every call)."""
    return frozenset(cls._get_param_names())


def _warn_if_transposed(X):
    """A :class:`LayoutWarning` if X (n, T, d) has more than four features per step for
    every step, as an (n, d, T) panel read the wrong way round would."""
    n, T, d = X.shape
    if d > 4 * T:
        warnings.warn(f"X of shape {X.shape} is read as {n} sequences of {T} time step(s) with "
                      f"{d} features each. If it is an (n_samples, n_channels, n_timesteps) "
                      f"panel, as aeon and sktime store them ({T} channel(s) over {d} steps), "
                      "pass X.transpose(0, 2, 1).", LayoutWarning, stacklevel=6)


def _jsonable(name, value):
    """A parameter as JSON holds it: NumPy scalars as numbers."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        return float(value)
    if isinstance(value, (np.random.RandomState, np.random.Generator)):
        warnings.warn(f"{name} is a {type(value).__name__}, which a file cannot hold; it is "
                      "saved as None", UserWarning, stacklevel=3)
        return None
    raise TypeError(f"cannot save parameter {name}={value!r}: a saved parameter is a number, "
                    "a string or None")


def _floats(value):
    return None if value is None else (
        [float(v) for v in value] if isinstance(value, list) else float(value))


def load(path):
    """Load an estimator written by ``estimator.save(path)``.

    Nothing in the file is trusted: only arrays and JSON are read (never pickle), the
    zip directory is checked before anything is decompressed, the metadata must name
    a known class, known parameters of valid values and known attributes of the
    right types, and every array must have the shape those parameters give.

    Parameters
    ----------
    path : str or path-like
        A file written by ``save``.

    Returns
    -------
    RNNRegressor, LSTMRegressor or GRURegressor
        Fitted, with its parameters, weights and training history.

    Raises
    ------
    ValueError
        If the file is not a numbarnn estimator file, is damaged, or holds anything
        the format does not allow; the message names the problem.
    """
    with io.Reader(path) as reader:
        cls, params, attributes = _check_meta(reader.meta, path)
        estimator = cls(**params)
        try:
            estimator._validate_params()
            network, names = estimator._network_for(
                {key: shape for key, (shape, _) in reader.headers.items()})
        except ValueError as err:  # InvalidParameterError included
            raise ValueError(f"{path}: {err}") from None
        arrays = {key: reader.array(key, network.layout.shapes[name])
                  for key, name in names.items()}
    try:
        estimator.load_state_dict(arrays)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    y_ndim = attributes.pop("y_ndim")
    per_step = int(estimator.return_sequences)
    if y_ndim not in (1 + per_step, 2 + per_step) or (network.output_size > 1
                                                      and y_ndim != 2 + per_step):
        raise ValueError(f"{path}: y_ndim {y_ndim} does not fit {network.output_size} "
                         f"output(s)")
    estimator._y_ndim = y_ndim
    for name in _SCALING:
        values = attributes.pop(name, None)  # files before version 0.1 have none
        size = network.input_size if name.startswith("input") else network.output_size
        if values is not None and (len(values) != size or not np.all(np.isfinite(values)) or (
                name.endswith("scale_") and min(values) <= 0)):
            raise ValueError(f"{path}: {name} must be {size} finite numbers (positive for a "
                             f"scale); got {values!r}")
        setattr(estimator, name, None if values is None else np.array(values, np.float64))
    if len({getattr(estimator, name) is None for name in _SCALING}) > 1:
        raise ValueError(f"{path}: the scaling attributes must be all given or all null")
    vars(estimator).update(attributes)
    return estimator


_META_KEYS = {"format", "format_version", "version", "class", "params", "attributes"}


def _check_meta(meta, path):
    """The class, parameters and attributes a file's metadata names, each checked against
    what the format allows; ValueError naming the first thing that is not."""
    def fail(problem):
        raise ValueError(f"{path}: {problem}")

    unexpected = set(meta) - _META_KEYS
    if unexpected or not {"class", "params", "attributes"} <= set(meta):
        fail(f"the metadata must hold class, params and attributes, and nothing else; got "
             f"{sorted(meta)}")
    classes = {c.__name__: c for c in (RNNRegressor, LSTMRegressor, GRURegressor)}
    if meta["class"] not in classes:
        fail(f"unknown estimator class {meta['class']!r}")
    cls = classes[meta["class"]]
    params, attributes = meta["params"], meta["attributes"]
    if not isinstance(params, dict) or not isinstance(attributes, dict):
        fail("params and attributes must be JSON objects")
    known = cls().get_params(deep=False)
    for key, value in params.items():
        if key not in known:
            fail(f"unknown parameter {key!r} of {cls.__name__}")
        if value is not None and not isinstance(value, (bool, int, float, str)):
            fail(f"parameter {key!r} is {value!r}, not a number, a string or null")
    if not _ATTRIBUTES.keys() - set(_SCALING) <= set(attributes) <= _ATTRIBUTES.keys():
        fail(f"the attributes must be {sorted(_ATTRIBUTES)} (the scaling ones optional); got "
             f"{sorted(attributes)}")
    for key, check in _ATTRIBUTES.items():
        if key in attributes and not check(attributes[key]):
            fail(f"attribute {key} is {attributes[key]!r}, which it cannot be")
    n_iter = attributes["n_iter_"]
    if len(attributes["loss_curve_"]) != n_iter or len(attributes["validation_scores_"]
                                                       or ()) > n_iter:
        fail(f"the loss curve and validation scores do not fit n_iter_={n_iter}")
    return cls, params, dict(attributes)


def _is_count(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _numbers_or_none(v):
    return v is None or (isinstance(v, list) and all(map(_is_number, v)))


_SCALING = ("input_mean_", "input_scale_", "target_mean_", "target_scale_")
_ATTRIBUTES = {
    "n_iter_": _is_count,
    "t_": _is_count,
    "loss_curve_": lambda v: isinstance(v, list) and all(map(_is_number, v)),
    "validation_scores_": _numbers_or_none,
    "best_loss_": lambda v: v is None or _is_number(v),
    "best_validation_score_": lambda v: v is None or _is_number(v),
    "y_ndim": _is_count,
    **dict.fromkeys(_SCALING, _numbers_or_none),
}


_COMMON_PARAMETERS = """
    num_layers : int, default=1
        Stacked recurrent layers.
    bidirectional : bool, default=False
        Run every layer forward and in reverse; the head sees both final states.
    dropout : float, default=0.0
        Dropout on the outputs of every layer but the last, in training.
    return_sequences : bool, default=False
        Predict at every time step (y of shape (n, T) or (n, T, k)) instead of
        once per sequence from the final states.
    standardize : bool, default=True
        Standardise each input feature and each target with the mean and standard
        deviation of the training data (over valid steps), learnt when a fit starts
        afresh; ``predict`` and ``score`` work in the target's own units. False: the
        network sees the data as given and ``predict`` is exactly its output.
    solver : {'adam', 'adamw', 'sgd'}, default='adam'
        Optimizer (update rules as ``torch.optim``).
    learning_rate : {'constant', 'adaptive', 'cosine'}, default='constant'
        Schedule of the step size over epochs. 'constant' keeps
        ``learning_rate_init``. 'adaptive', as in MLPRegressor, divides it by 5
        instead of stopping each time ``n_iter_no_change`` epochs in a row bring no
        improvement, and stops once it is at most 1e-6. 'cosine' lowers it along
        half a cosine from ``learning_rate_init`` at the first epoch towards 0 at
        ``max_iter``.
    learning_rate_init : float, default=1e-3
        Initial step size; set between ``partial_fit`` calls, it takes effect at
        the next one.
    momentum : float, default=0.9
        Momentum for ``solver='sgd'``.
    nesterov : bool, default=False
        Nesterov momentum for ``solver='sgd'``.
    weight_decay : float, default=0.0
        L2 penalty added to the gradient ('adam', 'sgd') or decoupled ('adamw').
    batch_size : int, default=32
        Sequences per mini-batch.
    max_iter : int, default=200
        Maximum number of epochs.
    shuffle : bool, default=True
        Shuffle the sequences every epoch.
    tol : float, default=1e-4
        Improvement below which an epoch counts as no improvement.
    n_iter_no_change : int, default=50
        Stop after this many epochs in a row without improvement (of the
        training loss, or of the validation R² with ``early_stopping``). Larger
        than MLPRegressor's 10: a mini-batch loss is noisy, and recurrent networks
        sit on plateaus and keep improving slowly for many epochs (measured in
        the user guide's page on training).
    early_stopping : bool or 'auto', default='auto'
        Monitor the R² of validation sequences (``validation_fraction`` of the
        training sequences, split by ``validation_split``, or ``validation_data``
        given to :meth:`fit`): stop when it stops improving and keep the best
        epoch's weights. 'auto' does so when ``validation_data`` is given or the
        held-out part would hold at least 5 sequences (50 with the default
        fraction), and trains on every sequence otherwise. MLPRegressor's default
        is False; here measurements on real series chose 'auto' (see the user
        guide's page on training).
    validation_fraction : float, default=0.1
        Share of sequences held out for early stopping.
    validation_split : {'last', 'random'}, default='last'
        How to hold them out: the last ones in the order given (windows cut from
        one series: the validation part then lies after the training part, and no
        future value is trained on), or at random (drawn with ``random_state``),
        for sequences that are independent samples stored in some order (for
        instance sorted by target).
    clip_norm : float or None, default=1.0
        Clip the gradient's global L2 norm to this value; None turns clipping off.
    dtype : {'float32', 'float64'}, default='float32'
        Precision of weights and computation.
    device : {'cpu', 'cuda'}, default='cpu'
        Where to compute. 'cuda' runs on an NVIDIA GPU through numba-cuda
        (``pip install "numbarnn[cuda]"``): the weights, the optimizer's state and
        the training data stay on the GPU during ``fit``, which reads the loss and the
        weights back once per epoch. Without numba-cuda or a GPU, fitting raises
        :class:`~numbarnn.exceptions.DeviceUnavailableError`.
    n_threads : int or None, default=None
        Threads for the computation (Numba's thread pool; BLAS is capped to the
        same number). None: Numba's default, one per core.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling, dropout and the validation split. The
        same value and ``n_threads`` give bit-identical weights.
    verbose : int, default=0
        Print one line per epoch (loss, validation score, seconds), and progress
        within epochs longer than 10 seconds.
    warm_start : bool, default=False
        Let ``fit`` continue from the current weights (with a new optimizer).

    Attributes
    ----------
    loss_curve_ : list of float
        Mean training loss (MSE, in standardised units with ``standardize``) of each
        epoch.
    validation_scores_ : list of float or None
        Validation R² of each epoch, with ``early_stopping`` or ``validation_data``.
    best_loss_ : float or None
        Lowest training loss seen (None with ``early_stopping``).
    best_validation_score_ : float or None
        Best validation R² (with ``early_stopping`` or ``validation_data``).
    n_iter_ : int
        Epochs run.
    t_ : int
        Training sequences seen.
    n_features_in_ : int
        Features per time step.
    n_outputs_ : int
        Targets per sequence (or per step).
    network_ : RecurrentNetwork
        The fitted network: its cell, shape, parameter layout and device.
    params_ : ndarray
        The weights, one flat vector in ``network_.layout`` (see :meth:`state_dict`
        for them by name).
    input_mean_, input_scale_ : ndarray of shape ``(n_features_in_,)`` or None
        Mean and standard deviation (1 where zero) of each input feature, with
        ``standardize``; None without.
    target_mean_, target_scale_ : ndarray of shape ``(n_outputs_,)`` or None
        The same for each target.

    Notes
    -----
    The loss is mean squared error (weighted by ``sample_weight``). With
    ``standardize`` (the default) the network learns on standardised inputs and
    targets, so raw data trains as well as scaled data, and ``predict`` maps its
    output back to the target's units; the weights (:meth:`state_dict`) are those of
    the network in standardised units. If the loss or gradient becomes NaN or
    infinite, training stops, the last weights with a finite loss are restored and
    :class:`numbarnn.TrainingDivergedError` is raised.
"""


class RNNRegressor(_SequenceRegressor):
    __doc__ = """Elman recurrent network for sequence regression.

    Parameters
    ----------
    hidden_size : int, default=64
        Units per layer and direction.
    nonlinearity : {'tanh', 'relu'}, default='tanh'
        Activation of the hidden state.""" + _COMMON_PARAMETERS

    _parameter_constraints = {**_SequenceRegressor._parameter_constraints,
                              "nonlinearity": [StrOptions({"tanh", "relu"})]}

    def __init__(self, hidden_size=64, *, nonlinearity="tanh", num_layers=1, bidirectional=False,
                 dropout=0.0, return_sequences=False, solver="adam", learning_rate="constant",
                 learning_rate_init=1e-3, momentum=0.9, nesterov=False, weight_decay=0.0,
                 batch_size=32, max_iter=200, shuffle=True, tol=1e-4, n_iter_no_change=50,
                 early_stopping="auto", validation_fraction=0.1, validation_split="last",
                 standardize=True, clip_norm=1.0, dtype="float32", device="cpu", n_threads=None,
                 random_state=None, verbose=0, warm_start=False):
        vars(self).update((k, v) for k, v in locals().items() if k != "self")

    def _cell(self):
        return RNNCell(self.nonlinearity)


class LSTMRegressor(_SequenceRegressor):
    __doc__ = """Long short-term memory network for sequence regression.

    Parameters
    ----------
    hidden_size : int, default=64
        Units per layer and direction.
    peephole : bool, default=False
        Diagonal peephole weights (c_{t-1} into the i and f gates, c_t into o).
    coupled : bool, default=False
        Coupled input and forget gates, i = 1 - f.
    forget_bias : float or None, default=1.0
        Initial bias of the forget gate (None: PyTorch's uniform initialisation).
        1.0 keeps the cell state through more steps at the start (Jozefowicz et al.
        2015); measured, it lowers the error on the adding problem at T = 100 by
        15 %, while 0.0 did better on short windows of real series (the
        performance page has the figures).""" + \
        _COMMON_PARAMETERS

    _parameter_constraints = {**_SequenceRegressor._parameter_constraints,
                              "peephole": ["boolean"], "coupled": ["boolean"],
                              "forget_bias": [Interval(Real, None, None, closed="neither"),
                                              None]}

    def __init__(self, hidden_size=64, *, peephole=False, coupled=False, forget_bias=1.0,
                 num_layers=1, bidirectional=False, dropout=0.0, return_sequences=False,
                 solver="adam", learning_rate="constant", learning_rate_init=1e-3, momentum=0.9,
                 nesterov=False, weight_decay=0.0, batch_size=32, max_iter=200, shuffle=True,
                 tol=1e-4, n_iter_no_change=50, early_stopping="auto", validation_fraction=0.1,
                 validation_split="last", standardize=True, clip_norm=1.0, dtype="float32",
                 device="cpu", n_threads=None, random_state=None, verbose=0, warm_start=False):
        vars(self).update((k, v) for k, v in locals().items() if k != "self")

    def _cell(self):
        return LSTMCell(self.peephole, self.coupled)

    def _validate_params(self):
        super()._validate_params()
        largest = float(np.finfo(np.dtype(self.dtype)).max)
        if self.forget_bias is not None and abs(self.forget_bias) > largest:
            raise InvalidParameterError(f"The 'forget_bias' parameter of LSTMRegressor must "
                                        f"be within the range of {self.dtype}; got "
                                        f"{self.forget_bias!r}.")

    def _init_params(self, network, rng):
        return network.init_params(rng, np.dtype(self.dtype), forget_bias=self.forget_bias)


class GRURegressor(_SequenceRegressor):
    __doc__ = """Gated recurrent unit network for sequence regression.

    Parameters
    ----------
    hidden_size : int, default=64
        Units per layer and direction.
    reset_after : bool, default=True
        Apply the reset gate after the recurrent product (cuDNN, PyTorch) rather
        than before it (Cho et al. 2014).""" + _COMMON_PARAMETERS

    _parameter_constraints = {**_SequenceRegressor._parameter_constraints,
                              "reset_after": ["boolean"]}

    def __init__(self, hidden_size=64, *, reset_after=True, num_layers=1, bidirectional=False,
                 dropout=0.0, return_sequences=False, solver="adam", learning_rate="constant",
                 learning_rate_init=1e-3, momentum=0.9, nesterov=False, weight_decay=0.0,
                 batch_size=32, max_iter=200, shuffle=True, tol=1e-4, n_iter_no_change=50,
                 early_stopping="auto", validation_fraction=0.1, validation_split="last",
                 standardize=True, clip_norm=1.0, dtype="float32", device="cpu", n_threads=None,
                 random_state=None, verbose=0, warm_start=False):
        vars(self).update((k, v) for k, v in locals().items() if k != "self")

    def _cell(self):
        return GRUCell(self.reset_after)
