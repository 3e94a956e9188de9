"""What every estimator shares: parameters, validation, the training loop, stopping,
schedules, scaling of the inputs, weights by name and saving.

:mod:`.regressors` and :mod:`.classifiers` add the targets, the loss, the score and
the predictions; :mod:`.cell_options` adds each cell's own parameters.
"""

import copy
import functools
import math
import sys
import time
import warnings
from collections import OrderedDict
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import check_is_fitted

from .. import io, threads, training
from .._compile import compile_notice
from ..exceptions import LayoutWarning, TrainingDivergedError
from ..network import RecurrentNetwork
from ..optim import SGD, Adam, AdamW, copied_optimizer
from ..preprocessing import feature_statistics, standardized
from ..validation import (
    check_sample_weight,
    check_sequences,
    check_tokens,
    real_array,
    valid_steps,
)

AUTO_VALIDATION_SEQUENCES = 5  # early_stopping='auto' holds out at least this many
SCALING = ("input_mean_", "input_scale_", "target_mean_", "target_scale_")  # fitted statistics


class _SequenceEstimator(BaseEstimator):
    """The estimator shared by every cell and task.

    A task's subclass defines the targets (``_check_targets``, ``_n_outputs``), the loss
    (``_loss``), the data the network learns from (``_network_data``), the validation
    score (``_validation_score``, named ``_SCORE_NAME``), the predictions and
    ``score``; a cell's mixin defines ``_cell`` and ``_init_params``.
    """

    _SCORE_NAME = "score"

    _parameter_constraints = {
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "vocab_size": [Interval(Integral, 1, None, closed="left"), None],
        "embedding_dim": [Interval(Integral, 1, None, closed="left"), None],
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

    _INTEGER_PARAMETERS = ("hidden_size", "vocab_size", "embedding_dim", "num_layers",
                           "batch_size", "max_iter", "n_iter_no_change", "n_threads")

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
        all of them would cost as much as a small predict). Values found valid once are
        remembered, by class, type and value: checking them again took 11 us a call."""
        values = {k: getattr(self, k) for k in self._PREDICT_PARAMETERS}
        try:
            seen = (type(self), *((type(v), v) for v in values.values()))
            if seen in _VALID_PREDICT_PARAMETERS:
                return
        except TypeError:  # an unhashable value: always checked (and refused)
            seen = None
        validate_parameter_constraints(
            {k: self._parameter_constraints[k] for k in self._PREDICT_PARAMETERS},
            values, caller_name=type(self).__name__)
        self._reject_bools(("n_threads",))
        if seen is not None:
            _VALID_PREDICT_PARAMETERS.add(seen)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    # --- construction ---------------------------------------------------------------

    def _make_network(self, n_features, n_outputs, device=None):
        """The network for ``n_features`` features per step (token ids: an embedding of
        ``embedding_dim`` columns, ``hidden_size`` if None, feeds the first layer)."""
        input_size = n_features if self.vocab_size is None else (self.embedding_dim
                                                                 or self.hidden_size)
        return RecurrentNetwork(self._cell(), input_size, self.hidden_size, n_outputs,
                                self.num_layers, self.bidirectional, self.dropout,
                                self.return_sequences, device or self.device,
                                self._loss(n_outputs), self.vocab_size)

    def _on_device(self):
        """The fitted network on ``device`` (which may have been set since the fit)."""
        return self.network_.to(self.device)

    def _make_optimizer(self):
        if self.solver == "sgd":
            return SGD(self.learning_rate_init, self.momentum, self.nesterov, self.weight_decay)
        solver = AdamW if self.solver == "adamw" else Adam
        return solver(self.learning_rate_init, weight_decay=self.weight_decay)

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
            A regressor's targets: (n,) or (n, k) per sequence; (n, T) or (n, T, k),
            or a list matching a ragged X, with ``return_sequences=True``. A
            classifier's labels: (n,), or (n, T) or a list of label arrays with
            ``return_sequences=True``.
        lengths : array-like of int, shape (n,), optional
            Valid steps per sequence; padded steps neither change the state nor
            enter the loss.
        sample_weight : array-like of shape (n,), optional
            Weight of each sequence in the loss, its gradient and the validation
            score; with ``return_sequences=True`` also (n, T), a weight per step (or
            a list matching a ragged X). Non-negative; None weighs all equally.
        validation_data : tuple, optional
            ``(X_val, y_val)``, ``(X_val, y_val, lengths_val)`` or ``(X_val, y_val,
            lengths_val, sample_weight_val)``: sequences scored (R², or accuracy for
            a classifier) after every epoch into ``validation_scores_``. With
            ``early_stopping`` True or 'auto' they, rather than a split of X, decide
            when to stop and which weights to keep; with False they are only
            recorded.

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
        return self._fit(X, y, lengths, sample_weight, validation_data, False)

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

    def _fit(self, X, y, lengths, sample_weight, validation_data, incremental, classes=None):
        """Train a copy of the fitted state and take it over only when training ends: an
        error leaves the estimator as it was, except divergence, after which it holds the
        last good weights and their optimizer state (and the error says so)."""
        work = self._working_copy()
        try:
            work._train(X, y, lengths, sample_weight, validation_data, incremental, classes)
        except TrainingDivergedError:
            self._take_state(work)
            raise
        self._take_state(work)
        return self

    def _saved_attributes(self):
        """The task's own fitted attributes a file holds, as JSON values."""
        return {}

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

    def _check_data(self, X, y, lengths, sample_weight, n_features, training):
        """Validated (X, y, lengths, step weights) of ``training`` or validation sequences
        with ``n_features`` features (None: any), and y's ndim."""
        X, lengths = self._check_inputs(X, lengths, np.dtype(self.dtype), n_features)
        y, y_ndim = self._check_targets(y, X, lengths, training)
        weights = check_sample_weight(sample_weight, lengths, X.shape[1], self.return_sequences)
        return (X, y, lengths, weights), y_ndim

    def _check_inputs(self, X, lengths, dtype, n_features):
        """X as (n, T, d) of ``dtype`` (or, with ``vocab_size``, (n, T) int64 token ids),
        and lengths (n,)."""
        if self.vocab_size is not None:
            return check_tokens(X, lengths, self.vocab_size)
        return check_sequences(X, lengths, dtype, n_features)

    def _train(self, X, y, lengths, sample_weight, validation_data, incremental, classes):
        fitted = hasattr(self, "params_")
        reset = not fitted or not (incremental or self.warm_start)
        dtype = np.dtype(self.dtype)
        self._start_targets(fitted, reset, incremental, classes)
        train, y_ndim = self._check_data(X, y, lengths, sample_weight,
                                         None if reset else self.n_features_in_, True)
        X, y = train[:2]
        n_outputs = self._n_outputs(y)
        if not reset and n_outputs != self.n_outputs_:
            raise ValueError(f"y has {y.shape[-1]} targets, but the estimator was fitted with "
                             f"{self.n_outputs_}")
        n_features = 1 if self.vocab_size is not None else X.shape[2]  # an id per step
        if self.vocab_size is None:
            _warn_if_transposed(X)
        early_stopping = self._early_stopping(len(X), validation_data, incremental)
        valid = None
        if validation_data is not None:
            valid = self._check_validation_data(validation_data, n_features, y.shape[-1])
        elif early_stopping:
            train, valid = self._validation_split(*train)
        network = self._make_network(n_features, n_outputs)  # a missing GPU is reported here
        changed = [] if reset else network.differences(self.network_)
        if changed:
            raise ValueError(f"{', '.join(changed)} changed since the estimator was fitted; "
                             f"{'partial_fit' if incremental else 'fit with warm_start=True'} "
                             "continues the fitted network, so set them back, or fit afresh "
                             "(warm_start=False)")

        with threads.limit(self.n_threads), compile_notice(self._notice_stream()):
            if reset:
                self._reset(network, n_features, n_outputs, y_ndim, self._new_rng(),
                            early_stopping)
                if self.standardize:
                    self._learn_scaling(*train)
            train = self._network_data(*train)
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

    def _start_targets(self, fitted, reset, incremental, classes):
        """Before the targets are checked: what a task needs to know of them (a
        classifier's classes)."""

    def _learn_scaling(self, X, y, lengths, weights):
        """Each input feature's mean and standard deviation over the valid steps of the
        training data, weighted by the sample weights (token ids are not scaled)."""
        if self.vocab_size is None:
            self.input_mean_, self.input_scale_ = feature_statistics(X, lengths, weights)

    def _network_data(self, X, y, lengths, weights):
        """Training data as the network learns from it: inputs standardised if fitted so."""
        return standardized(X, self.input_mean_, self.input_scale_), y, lengths, weights

    def _check_validation_data(self, validation_data, n_features, width):
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3,
                                                                                        4):
            raise ValueError("validation_data must be a tuple (X_val, y_val), (X_val, y_val, "
                             "lengths_val) or (X_val, y_val, lengths_val, sample_weight_val); "
                             f"got {type(validation_data).__name__}"
                             + (f" of {len(validation_data)} items"
                                if isinstance(validation_data, (tuple, list)) else ""))
        try:
            valid, _ = self._check_data(*(*validation_data, None, None)[:4], n_features,
                                        False)
        except (TypeError, ValueError) as err:
            raise type(err)(f"validation_data: {err}") from None
        if valid[1].shape[-1] != width:
            raise ValueError(f"validation_data: y has {valid[1].shape[-1]} targets, but the "
                             f"training y has {width}")
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
                self.validation_scores_.append(self._validation_score(*valid))
                line += f", validation {self._SCORE_NAME} {self.validation_scores_[-1]:.4f}"
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
                # compare the validation losses 1 - score (for R², MSE / variance)
                self._no_improvement_count = (
                    0 if self._improved(1 - score, 1 - self.best_validation_score_)
                    else self._no_improvement_count + 1)
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                if monitor_validation:
                    self._best_params = self.params_.copy()
        if not monitor_validation:
            loss, best = self.loss_curve_[-1], self.best_loss_
            best = np.inf if best is None else best
            self._no_improvement_count = (0 if self._improved(loss, best)
                                          else self._no_improvement_count + 1)
            self.best_loss_ = min(best, loss)

    def _improved(self, loss, best):
        """Whether ``loss`` is below ``best`` by more than the fraction ``tol`` of it."""
        return loss < best - self.tol * abs(best) if np.isfinite(best) else loss < best

    def _notice_stream(self):
        """Where a first compile is announced besides the log: stderr when ``verbose``."""
        return sys.stderr if self.verbose else None

    def _progress(self, batch, n_batches, loss):
        print(f"  epoch {self.n_iter_ + 1}: batch {batch}/{n_batches}, loss {loss:.6g}", flush=True)

    # --- prediction ------------------------------------------------------------------

    def _forward(self, X, lengths):
        """The prediction in the target's units: the network's output on ``n_threads``
        threads, for X standardised and back to the target's units if fitted so."""
        with threads.limit(self.n_threads), compile_notice(self._notice_stream()):
            out = self._on_device().predict(
                self.params_, standardized(X, self.input_mean_, self.input_scale_), lengths)
        if self.target_mean_ is None:
            return out
        return out * self.target_scale_.astype(out.dtype) + self.target_mean_.astype(out.dtype)

    def _checked_input(self, X, lengths):
        """X (n, T, d) and lengths, checked for a fitted estimator's prediction."""
        check_is_fitted(self, "params_")  # the fitted weights; naming them spares a scan
        self._validate_predict_params()
        return self._check_inputs(X, lengths, self.params_.dtype, self.n_features_in_)

    def _valid_outputs(self, lengths, prediction, y, weights):
        """Prediction, targets and weights (None, or step weights (n, S, 1)) of the valid
        outputs only: per step, the rows of the valid steps."""
        if self.network_.return_sequences:
            valid = valid_steps(lengths, prediction.shape[1])
            return (prediction[valid], y[valid],
                    None if weights is None else weights[..., 0][valid])
        return prediction, y, None if weights is None else weights[:, 0, 0]

    # --- weights -----------------------------------------------------------------------

    def state_dict(self):
        """The weights as an ordered dict of NumPy arrays with PyTorch's names.

        Keys are ``rnn.<name>`` (e.g. ``rnn.weight_ih_l0``, as ``nn.LSTM`` names its
        parameters), ``head.weight``, ``head.bias`` (an ``nn.Linear``) and, with
        ``vocab_size``, ``embedding.weight`` (an ``nn.Embedding``), so a module with
        attributes ``embedding``, ``rnn`` and ``head`` loads it with
        ``load_state_dict``.

        Returns
        -------
        state_dict : collections.OrderedDict of str to ndarray
            Copies of the weights, in storage order.
        """
        check_is_fitted(self)
        return OrderedDict((_state_name(name), view.copy())
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
            self._reset(network, 1 if self.vocab_size is not None else network.input_size,
                        n_outputs,
                        (1 if n_outputs == 1 else 2) + int(self.return_sequences),
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
        n_features = 1 if self.vocab_size is not None else shapes["rnn.weight_ih_l0"][1]
        n_outputs = shapes["head.weight"][0]
        if hasattr(self, "params_") and (n_features, n_outputs) != (self.n_features_in_,
                                                                    self.n_outputs_):
            raise ValueError(f"state_dict has {n_features} features and {n_outputs} outputs; the "
                             f"estimator was fitted with {self.n_features_in_} and "
                             f"{self.n_outputs_}")
        network = self._make_network(n_features, n_outputs, "cpu")  # weights on the host
        names = {_state_name(n): n for n in network.layout}
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
                         for name in SCALING},
                      **self._saved_attributes()}
        io.write(path, self.state_dict(), {"class": type(self).__name__, "params": params,
                                           "attributes": attributes})


_VALID_PREDICT_PARAMETERS = set()  # (class, (type, value) of each) found valid


def _own_copy(value):
    """A copy of a fitted attribute that training may change: arrays and the lists of
    numbers copied, the optimizer with copies of its state, the random generator by its
    state (a deep copy took 0.1 ms, a tenth of a small step), the network shared
    (training replaces it, never changes it), anything else deep-copied."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return list(value)
    if isinstance(value, RecurrentNetwork):
        return value
    if isinstance(value, np.random.Generator):
        bits = type(value.bit_generator)()
        bits.state = value.bit_generator.state
        return np.random.Generator(bits)
    if isinstance(value, (Adam, SGD)):
        return copied_optimizer(value)
    return copy.deepcopy(value)


@functools.cache
def _parameter_names(cls):
    """The names of an estimator class's parameters (``get_params`` inspects the signature
    at every call)."""
    return frozenset(cls._get_param_names())


def _state_name(name):
    """A network parameter's name in a state dict: the recurrent ones under ``rnn.``."""
    return name if name.startswith(("head.", "embedding.")) else f"rnn.{name}"


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
    """A parameter as JSON holds it: NumPy scalars as numbers, a dict (``class_weight``) as a
    list of [key, value] pairs (JSON keys would all become strings)."""
    if isinstance(value, dict):
        return [[_jsonable(name, k), _jsonable(name, v)] for k, v in value.items()]
    if isinstance(value, np.generic):
        value = value.item()
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
