"""scikit-learn estimators: RNNRegressor, LSTMRegressor and GRURegressor.

The three differ only in their cell; everything else lives in one base class.
"""

import copy
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
from .exceptions import TrainingDivergedError
from .network import RecurrentNetwork
from .optim import SGD, Adam, AdamW
from .validation import check_sequences, check_targets, real_array


class _SequenceRegressor(MultiOutputMixin, RegressorMixin, BaseEstimator):
    """The estimator shared by the three cells; subclasses define ``_cell()``."""

    _parameter_constraints = {
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "num_layers": [Interval(Integral, 1, None, closed="left")],
        "bidirectional": ["boolean"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "return_sequences": ["boolean"],
        "solver": [StrOptions({"adam", "adamw", "sgd"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterov": ["boolean"],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
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

    def _reset(self, network, n_features, n_outputs, y_ndim, rng):
        """Fresh fitted state, as MLPRegressor's ``_initialize``."""
        self._rng = rng
        self.network_ = network
        self.params_ = self._init_params(network, rng)
        self._optimizer = None
        self.n_features_in_, self.n_outputs_, self._y_ndim = n_features, n_outputs, y_ndim
        self.n_iter_, self.t_ = 0, 0
        self.loss_curve_ = []
        self._no_improvement_count = 0
        self.__dict__.pop("_best_params", None)
        if self.early_stopping:
            self.validation_scores_, self.best_validation_score_ = [], -np.inf
            self.best_loss_ = None
        else:
            self.validation_scores_, self.best_validation_score_ = None, None
            self.best_loss_ = np.inf

    # --- fitting --------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, lengths=None):
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
        """
        return self._fit(X, y, lengths, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, lengths=None):
        """Train for one epoch over ``X``, continuing from the current state.

        The first call initialises the network; later calls keep the optimizer's
        state. Early stopping and the stopping rule do not apply.

        Parameters
        ----------
        X : array-like of shape (n, T, d) or (n, T), or list of arrays
            Input sequences, as for :meth:`fit`; the number of features must not
            change between calls.
        y : array-like
            Targets, as for :meth:`fit`.
        lengths : array-like of int, shape (n,), optional
            Valid steps per sequence.

        Returns
        -------
        self : object
            The estimator, trained for one more epoch.

        Raises
        ------
        TrainingDivergedError
            As in :meth:`fit`.
        """
        return self._fit(X, y, lengths, incremental=True)

    def _fit(self, X, y, lengths, incremental):
        """Train a copy of the fitted state and take it over only when training ends: an
        error leaves the estimator as it was, except divergence, after which it holds the
        last good weights and their optimizer state (and the error says so)."""
        work = self._working_copy()
        try:
            work._train(X, y, lengths, incremental)
        except TrainingDivergedError:
            self._take_state(work)
            raise
        self._take_state(work)
        return self

    def _fitted_state(self):
        params = self.get_params(deep=False)
        return {k: v for k, v in vars(self).items() if k not in params}

    def _working_copy(self):
        """A shallow copy with its own copy of the fitted state (the parameters, such as a
        ``random_state`` generator, stay shared: a fit draws from the user's generator)."""
        work = copy.copy(self)
        vars(work).update(copy.deepcopy(self._fitted_state()))
        return work

    def _take_state(self, work):
        for key in self._fitted_state():
            delattr(self, key)
        vars(self).update(work._fitted_state())

    def _train(self, X, y, lengths, incremental):
        fitted = hasattr(self, "params_")
        reset = not fitted or not (incremental or self.warm_start)
        dtype = np.dtype(self.dtype)
        X, lengths = check_sequences(X, lengths, dtype, None if reset else self.n_features_in_)
        y, y_ndim = check_targets(y, X, self.return_sequences, dtype, lengths)
        if not reset and y.shape[-1] != self.n_outputs_:
            raise ValueError(f"y has {y.shape[-1]} targets, but the estimator was fitted with "
                             f"{self.n_outputs_}")
        optimizer = self._make_optimizer()
        early_stopping = self.early_stopping and not incremental
        train, valid = (X, y, lengths), None
        if early_stopping:
            train, valid = self._validation_split(X, y, lengths)
        network = self._make_network(X.shape[2], y.shape[-1])  # a missing GPU is reported here
        changed = [] if reset else network.differences(self.network_)
        if changed:
            raise ValueError(f"{', '.join(changed)} changed since the estimator was fitted; "
                             f"{'partial_fit' if incremental else 'fit with warm_start=True'} "
                             "continues the fitted network, so set them back, or fit afresh "
                             "(warm_start=False)")

        with threads.limit(self.n_threads):
            if reset:
                self._reset(network, X.shape[2], y.shape[-1], y_ndim, self._new_rng())
            self.network_ = network
            if self.params_.dtype != dtype:
                self.params_ = self.params_.astype(dtype)
                self._optimizer = None
            if self._optimizer is None or not incremental:
                self._optimizer = optimizer
            self._run_epochs(train, valid, 1 if incremental else self.max_iter, incremental)

    def _validation_split(self, X, y, lengths):
        n_valid = int(round(self.validation_fraction * len(X)))
        if n_valid < 1 or n_valid >= len(X):
            raise ValueError(f"early_stopping needs at least one training and one validation "
                             f"sequence; validation_fraction={self.validation_fraction} of "
                             f"{len(X)} sequences gives {n_valid} for validation")
        order = check_random_state(self.random_state).permutation(len(X))
        v, t = order[:n_valid], order[n_valid:]
        return (X[t], y[t], lengths[t]), (X[v], y[v], lengths[v])

    def _run_epochs(self, train, valid, epochs, incremental):
        with training.epochs(self.network_, self.params_, self._optimizer, train) as run_epoch:
            self._epochs(run_epoch, len(train[0]), valid, epochs, incremental)

    def _epochs(self, run_epoch, n_train, valid, epochs, incremental):
        for _ in range(epochs):
            start = time.perf_counter()
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
            self._update_no_improvement_count(valid is not None)
            if self._no_improvement_count > self.n_iter_no_change:
                if valid is not None:
                    self.params_[...] = self._best_params
                if self.verbose:
                    print(f"Stopped: no improvement above tol={self.tol} for "
                          f"{self.n_iter_no_change} epochs", flush=True)
                return
        if incremental:
            return
        if valid is not None and hasattr(self, "_best_params"):  # as MLPRegressor
            self.params_[...] = self._best_params
        warnings.warn(f"Maximum iterations ({self.max_iter}) reached and the optimization "
                      "hasn't converged yet.", ConvergenceWarning, stacklevel=4)

    def _update_no_improvement_count(self, early_stopping):
        """As MLPRegressor: count epochs without improvement by more than ``tol``."""
        if early_stopping:
            score = self.validation_scores_[-1]
            self._no_improvement_count = (self._no_improvement_count + 1
                                          if score < self.best_validation_score_ + self.tol else 0)
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_params = self.params_.copy()
        else:
            loss = self.loss_curve_[-1]
            self._no_improvement_count = (self._no_improvement_count + 1
                                          if loss > self.best_loss_ - self.tol else 0)
            self.best_loss_ = min(self.best_loss_, loss)

    def _progress(self, batch, n_batches, loss):
        print(f"  epoch {self.n_iter_ + 1}: batch {batch}/{n_batches}, loss {loss:.6g}", flush=True)

    # --- prediction ------------------------------------------------------------------

    def _forward(self, X, lengths):
        """Network output, on ``n_threads`` threads."""
        with threads.limit(self.n_threads):
            return self._on_device().predict(self.params_, X, lengths)

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
            Weight of each sequence (spread over its steps with ``return_sequences``).
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
        y, _ = check_targets(y, X, self.network_.return_sequences, np.float64, lengths)
        return self._r2(X, y, lengths, sample_weight)

    def _r2(self, X, y, lengths, sample_weight=None):
        pred = self._forward(X, lengths)
        if self.network_.return_sequences:
            valid = np.arange(X.shape[1])[None, :] < lengths[:, None]
            if sample_weight is not None:
                sample_weight = np.broadcast_to(np.asarray(sample_weight)[:, None],
                                                valid.shape)[valid]
            pred, y = pred[valid], y[valid]
        return r2_score(y, pred, sample_weight=sample_weight)

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
                      "y_ndim": int(self._y_ndim)}
        io.write(path, self.state_dict(), {"class": type(self).__name__, "params": params,
                                           "attributes": attributes})


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
    if set(attributes) != _ATTRIBUTES.keys():
        fail(f"the attributes must be exactly {sorted(_ATTRIBUTES)}; got {sorted(attributes)}")
    for key, check in _ATTRIBUTES.items():
        if not check(attributes[key]):
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


_ATTRIBUTES = {
    "n_iter_": _is_count,
    "t_": _is_count,
    "loss_curve_": lambda v: isinstance(v, list) and all(map(_is_number, v)),
    "validation_scores_": _numbers_or_none,
    "best_loss_": lambda v: v is None or _is_number(v),
    "best_validation_score_": lambda v: v is None or _is_number(v),
    "y_ndim": _is_count,
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
    solver : {'adam', 'adamw', 'sgd'}, default='adam'
        Optimizer (update rules as ``torch.optim``).
    learning_rate_init : float, default=1e-3
        Step size.
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
    n_iter_no_change : int, default=10
        Stop after this many epochs in a row without improvement (of the
        training loss, or of the validation R² with ``early_stopping``).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the sequences (a random split),
        stop when their R² stops improving and keep the best weights.
    validation_fraction : float, default=0.1
        Share of sequences held out for early stopping.
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
        Mean training loss (MSE) of each epoch.
    validation_scores_ : list of float or None
        Validation R² of each epoch, with ``early_stopping``.
    best_loss_ : float or None
        Lowest training loss seen (None with ``early_stopping``).
    best_validation_score_ : float or None
        Best validation R² (with ``early_stopping``).
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

    Notes
    -----
    ``predict`` is exactly the network's output: scale inputs and targets with
    :class:`numbarnn.preprocessing.SequenceScaler` in a ``Pipeline`` and
    ``TransformedTargetRegressor``. The loss is mean squared error. If the loss or
    gradient becomes NaN or infinite, training stops, the last weights with a
    finite loss are restored and :class:`numbarnn.TrainingDivergedError` is raised.
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
                 dropout=0.0, return_sequences=False, solver="adam", learning_rate_init=1e-3,
                 momentum=0.9, nesterov=False, weight_decay=0.0, batch_size=32, max_iter=200,
                 shuffle=True, tol=1e-4, n_iter_no_change=10, early_stopping=False,
                 validation_fraction=0.1, clip_norm=1.0, dtype="float32", device="cpu",
                 n_threads=None, random_state=None, verbose=0, warm_start=False):
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
        Initial bias of the forget gate (None: PyTorch's uniform initialisation).""" + \
        _COMMON_PARAMETERS

    _parameter_constraints = {**_SequenceRegressor._parameter_constraints,
                              "peephole": ["boolean"], "coupled": ["boolean"],
                              "forget_bias": [Interval(Real, None, None, closed="neither"),
                                              None]}

    def __init__(self, hidden_size=64, *, peephole=False, coupled=False, forget_bias=1.0,
                 num_layers=1, bidirectional=False, dropout=0.0, return_sequences=False,
                 solver="adam", learning_rate_init=1e-3, momentum=0.9, nesterov=False,
                 weight_decay=0.0, batch_size=32, max_iter=200, shuffle=True, tol=1e-4,
                 n_iter_no_change=10, early_stopping=False, validation_fraction=0.1,
                 clip_norm=1.0, dtype="float32", device="cpu", n_threads=None,
                 random_state=None, verbose=0, warm_start=False):
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
                 dropout=0.0, return_sequences=False, solver="adam", learning_rate_init=1e-3,
                 momentum=0.9, nesterov=False, weight_decay=0.0, batch_size=32, max_iter=200,
                 shuffle=True, tol=1e-4, n_iter_no_change=10, early_stopping=False,
                 validation_fraction=0.1, clip_norm=1.0, dtype="float32", device="cpu",
                 n_threads=None, random_state=None, verbose=0, warm_start=False):
        vars(self).update((k, v) for k, v in locals().items() if k != "self")

    def _cell(self):
        return GRUCell(self.reset_after)
