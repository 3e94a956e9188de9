"""The classifiers: RNNClassifier, LSTMClassifier and GRUClassifier (labels of any type, one
per sequence or one per step; binary or softmax cross-entropy, as MLPClassifier)."""

from numbers import Real

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.utils._param_validation import StrOptions

from ..validation import check_labels, check_sample_weight, valid_steps
from .base import _SequenceEstimator
from .cell_options import GRUOptions, LSTMOptions, RNNOptions


class _SequenceClassifier(ClassifierMixin, _SequenceEstimator):
    """What the three classifiers share: labels encoded as class indices, a logit per class
    (one for two classes), cross-entropy, accuracy, probabilities."""

    _SCORE_NAME = "accuracy"
    _parameter_constraints = {**_SequenceEstimator._parameter_constraints,
                              "class_weight": [dict, StrOptions({"balanced"}), None]}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # scikit-learn's checks fit a few epochs on tabular data read as short sequences
        tags.classifier_tags.poor_score = True
        return tags

    def _loss(self, n_outputs):
        return "binary_cross_entropy" if n_outputs == 1 else "cross_entropy"

    def _n_outputs(self, y):
        return 1 if len(self.classes_) == 2 else len(self.classes_)

    # --- labels ------------------------------------------------------------------------

    def _start_targets(self, fitted, reset, incremental, classes):
        """The classes: given on the first ``partial_fit``, the same ever after; learnt
        from y by a fit that starts afresh."""
        if incremental and classes is None and not fitted:
            raise ValueError("classes must be passed on the first call to partial_fit")
        if incremental and self.class_weight == "balanced":
            raise ValueError("class_weight='balanced' needs every label at once, which "
                             "partial_fit does not see; pass a dict (for example from "
                             "sklearn.utils.class_weight.compute_class_weight on all labels)")
        if classes is not None:
            classes = self._unique(np.asarray(classes), "classes")
            if fitted and not np.array_equal(classes, self.classes_):
                raise ValueError(f"classes={classes.tolist()} is not the same as the classes_ "
                                 f"the estimator was fitted with, {self.classes_.tolist()}")
            self.classes_ = classes
        elif reset:
            self.__dict__.pop("classes_", None)  # learnt again from y

    def _unique(self, labels, name):
        """The sorted unique labels, at least two."""
        try:
            classes = np.unique(labels)
        except TypeError as err:
            raise TypeError(f"{name} mixes labels of types that cannot be ordered: {err}") from None
        if len(classes) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 classes; {name} holds "
                             f"{len(classes)} class: {classes.tolist()}")
        return classes

    def _check_targets(self, y, X, lengths, training):
        """Labels as class indices (n, 1) or (n, T, 1) of the compute dtype, and y's ndim.
        In training every label must be a class (they are learnt by a fresh fit); in
        validation and scoring an unknown label gets index -1, which no prediction has."""
        labels, valid = check_labels(y, X.shape[0], X.shape[1], self.return_sequences, lengths)
        if not hasattr(self, "classes_"):
            self.classes_ = self._unique(valid, "y")
        try:
            index = np.searchsorted(self.classes_, labels)
        except TypeError as err:
            raise TypeError(f"y's labels cannot be compared with classes_ "
                            f"{self.classes_.tolist()}: {err}") from None
        known = self.classes_[np.minimum(index, len(self.classes_) - 1)] == labels
        index[~known] = -1
        valid_known = known[valid_steps(lengths, X.shape[1]) if self.return_sequences
                            else slice(None)]
        if training and not valid_known.all():
            unknown = np.unique(valid[~valid_known])
            raise ValueError(f"y holds labels that are not among the classes "
                             f"{self.classes_.tolist()}: {unknown[:5].tolist()}")
        return index[..., None].astype(self.dtype if training else np.float64), labels.ndim

    def _network_data(self, X, y, lengths, weights):
        """As given, with the rows weighted by ``class_weight``."""
        X, y, lengths, weights = super()._network_data(X, y, lengths, weights)
        if self.class_weight is None:
            return X, y, lengths, weights
        index = y[..., 0].astype(np.int64)  # (n,) or (n, T)
        valid = (valid_steps(lengths, index.shape[1]) if self.return_sequences
                 else np.ones(index.shape, bool))
        per_class = self._class_weights(index[valid])
        rows = valid * per_class[index]
        rows = rows[:, None] if rows.ndim == 1 else rows
        weights = rows[..., None] if weights is None else weights * rows[..., None]
        if not weights.sum() > 0:
            raise ValueError("class_weight and sample_weight together weigh every training "
                             "sequence zero")
        return X, y, lengths, weights

    def _class_weights(self, index):
        """The weight of each class, from ``class_weight`` and the training labels' class
        indices."""
        if self.class_weight == "balanced":
            counts = np.bincount(index, minlength=len(self.classes_)).astype(np.float64)
            return np.divide(len(index), len(self.classes_) * counts,
                             out=np.zeros_like(counts), where=counts > 0)
        per_class = np.ones(len(self.classes_))
        for label, weight in self.class_weight.items():
            where = np.flatnonzero(self.classes_ == label)
            if where.size == 0:
                raise ValueError(f"class_weight names {label!r}, which is not among the classes "
                                 f"{self.classes_.tolist()}")
            if not (isinstance(weight, Real) and np.isfinite(weight) and weight >= 0):
                raise ValueError(f"class_weight of {label!r} is {weight!r}: weights must be "
                                 "finite, non-negative numbers")
            per_class[where[0]] = weight
        return per_class

    # --- predictions -------------------------------------------------------------------

    def _predicted_index(self, logits):
        """The class index of the largest logit (for two classes: whether the logit is
        positive), (n,) or (n, T)."""
        if logits.shape[-1] == 1:
            return (logits[..., 0] > 0).astype(np.int64)
        return logits.argmax(axis=-1)

    def _validation_score(self, X, y, lengths, weights=None):
        """Accuracy over the valid outputs (labels as class indices), weighted by step
        weights (n, S, 1) if given."""
        pred = self._predicted_index(self._forward(X, lengths))
        pred, y, weights = self._valid_outputs(lengths, pred, y[..., 0], weights)
        return float(np.average(pred == y, weights=weights))

    def predict(self, X, lengths=None):
        """The most likely class of each sequence (or each step, with ``return_sequences``).

        Parameters
        ----------
        X : array-like of shape (n, T, d) or (n, T), or list of arrays
            As for :meth:`fit`; T may differ from the one seen in fit. A dask
            array is predicted lazily, chunk by chunk (:func:`numbarnn.parallel.predict`).
        lengths : array-like of int, shape (n,), optional
            Valid steps per sequence (default: all T, or the lengths of a list).

        Returns
        -------
        ndarray of shape (n,), or (n, T) with ``return_sequences``
            Labels from ``classes_``. Per step, a padded step repeats the label of
            its sequence's last valid step (use ``lengths`` to leave them out).
        """
        if type(X).__module__.startswith("dask.array"):  # checked without importing dask
            from ..parallel import predict
            return predict(self, X, lengths)
        X, lengths = self._checked_input(X, lengths)
        index = self._predicted_index(self._forward(X, lengths))
        if self.network_.return_sequences:
            last = np.take_along_axis(index, (lengths - 1)[:, None], axis=1)
            index = np.where(valid_steps(lengths, X.shape[1]), index, last)
        return self.classes_[index]

    def predict_log_proba(self, X, lengths=None):
        """Log of :meth:`predict_proba`, computed without rounding small probabilities to 0.

        Parameters
        ----------
        X, lengths
            As for :meth:`predict`.

        Returns
        -------
        ndarray of shape (n, n_classes), or (n, T, n_classes) with ``return_sequences``
            NaN at padded steps.
        """
        X, lengths = self._checked_input(X, lengths)
        logits = self._forward(X, lengths).astype(np.float64)
        if logits.shape[-1] == 1:  # classes_[0] has logit 0: softmax of (0, z) is sigmoid
            logits = np.concatenate((np.zeros_like(logits), logits), axis=-1)
        top = logits.max(axis=-1, keepdims=True)
        log_proba = logits - top - np.log(np.exp(logits - top).sum(axis=-1, keepdims=True))
        if self.network_.return_sequences:
            log_proba[~valid_steps(lengths, X.shape[1])] = np.nan
        return log_proba

    def predict_proba(self, X, lengths=None):
        """Probability of each class (in the order of ``classes_``) for each sequence (or
        each step, with ``return_sequences``).

        Parameters
        ----------
        X, lengths
            As for :meth:`predict`.

        Returns
        -------
        ndarray of shape (n, n_classes), or (n, T, n_classes) with ``return_sequences``
            Rows sum to 1; NaN at padded steps.
        """
        return np.exp(self.predict_log_proba(X, lengths))

    def score(self, X, y, sample_weight=None, lengths=None):
        """Accuracy of the predictions (over valid steps).

        Parameters
        ----------
        X : array-like of shape (n, T, d) or (n, T), or list of arrays
            Input sequences, as for :meth:`predict`.
        y : array-like
            True labels, as for :meth:`fit`; labels the estimator never saw count as
            errors.
        sample_weight : array-like of shape (n,), optional
            Weight of each sequence (spread over its steps with ``return_sequences``,
            where (n, T), a weight per step, is also taken).
        lengths : array-like of int, shape (n,), optional
            Valid steps per sequence.

        Returns
        -------
        score : float
            The (weighted) share of valid outputs whose predicted label is right.
        """
        X, lengths = self._checked_input(X, lengths)
        y, _ = self._check_targets(y, X, lengths, training=False)
        return self._validation_score(X, y, lengths, check_sample_weight(
            sample_weight, lengths, X.shape[1], self.network_.return_sequences))

    # --- fitting -------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, lengths=None, *, classes=None, sample_weight=None):
        """Train for one epoch over ``X``, continuing from the current state.

        As the regressors' :meth:`~numbarnn.GRURegressor.partial_fit`, with the
        classes given on the first call, as MLPClassifier's.

        Parameters
        ----------
        X : array-like of shape (n, T, d) or (n, T), or list of arrays
            Input sequences, as for :meth:`fit`.
        y : array-like
            Labels, as for :meth:`fit`; each must be among ``classes``.
        lengths : array-like of int, shape (n,), optional
            Valid steps per sequence.
        classes : array-like of shape (n_classes,), optional
            Every label that any call will see. Required on the first call; later
            calls may leave it out or give the same classes.
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
        return self._fit(X, y, lengths, sample_weight, None, True, classes)

    def _saved_attributes(self):
        labels = self.classes_.tolist()
        if not all(isinstance(c, (str, int, float, bool)) for c in labels):
            raise TypeError("cannot save classes_ "
                            f"{labels!r}: a saved class label is a string, a number or a bool")
        return {"classes_": labels}

    def _network_for(self, shapes):
        network, names = super()._network_for(shapes)
        if network.output_size == 2:
            raise ValueError("a classifier has one output (a logit) for two classes, or one "
                             "per class for more; state_dict's head.weight has 2 rows")
        return network, names

    def load_state_dict(self, state_dict):
        """As the regressors' :meth:`~numbarnn.GRURegressor.load_state_dict`; an unfitted
        classifier takes the classes 0, ..., n - 1 (two for one output)."""
        fitted = hasattr(self, "params_")
        super().load_state_dict(state_dict)
        if not fitted:
            self.classes_ = np.arange(max(2, self.n_outputs_))
        return self


class RNNClassifier(RNNOptions, _SequenceClassifier):
    __doc__ = RNNOptions.describe("Elman recurrent network for sequence classification.",
                                  "classification", """
        Two classes, labelled with strings:

        >>> import numpy as np
        >>> from numbarnn import RNNClassifier
        >>> rng = np.random.default_rng(0)
        >>> X = rng.standard_normal((16, 8, 1))
        >>> y = np.where(X.sum(axis=(1, 2)) > 0, "up", "down")
        >>> clf = RNNClassifier(hidden_size=4, max_iter=3, random_state=0).fit(X, y)
        >>> clf.classes_
        array(['down', 'up'], dtype='<U4')
        >>> clf.predict(X[:4]).shape, clf.predict_proba(X[:4]).shape
        ((4,), (4, 2))
        >>> set(clf.predict(X)) <= {"down", "up"}
        True
        >>> accuracy = clf.score(X, y)
        """)
    _parameter_constraints = {**_SequenceClassifier._parameter_constraints,
                              **RNNOptions.constraints}

    def __init__(self, hidden_size=64, *, nonlinearity="tanh", class_weight=None, vocab_size=None,
                 embedding_dim=None, num_layers=1, bidirectional=False, dropout=0.0,
                 return_sequences=False, solver="adam", learning_rate="constant",
                 learning_rate_init=1e-3, momentum=0.9, nesterov=False, weight_decay=0.0,
                 batch_size=32, max_iter=200, shuffle=True, tol=1e-4, n_iter_no_change=50,
                 early_stopping="auto", validation_fraction=0.1, validation_split="last",
                 standardize=True, clip_norm=1.0, dtype="float32", device="cpu", n_threads=None,
                 random_state=None, verbose=0, warm_start=False):
        vars(self).update((k, v) for k, v in locals().items() if k != "self")


class LSTMClassifier(LSTMOptions, _SequenceClassifier):
    __doc__ = LSTMOptions.describe("Long short-term memory network for sequence "
                                   "classification.", "classification", """
        Three classes: one logit per class and softmax cross-entropy.

        >>> import numpy as np
        >>> from numbarnn import LSTMClassifier
        >>> rng = np.random.default_rng(0)
        >>> X = rng.standard_normal((16, 8, 1))
        >>> y = np.digitize(X.mean(axis=(1, 2)), [-0.2, 0.2])  # classes 0, 1 and 2
        >>> clf = LSTMClassifier(hidden_size=4, max_iter=3, random_state=0).fit(X, y)
        >>> clf.classes_, clf.n_outputs_
        (array([0, 1, 2]), 3)
        >>> proba = clf.predict_proba(X)
        >>> proba.shape, bool(np.allclose(proba.sum(axis=1), 1))
        ((16, 3), True)
        """)
    _parameter_constraints = {**_SequenceClassifier._parameter_constraints,
                              **LSTMOptions.constraints}

    def __init__(self, hidden_size=64, *, peephole=False, coupled=False, forget_bias=1.0,
                 class_weight=None, vocab_size=None, embedding_dim=None, num_layers=1,
                 bidirectional=False, dropout=0.0, return_sequences=False, solver="adam",
                 learning_rate="constant", learning_rate_init=1e-3, momentum=0.9, nesterov=False,
                 weight_decay=0.0, batch_size=32, max_iter=200, shuffle=True, tol=1e-4,
                 n_iter_no_change=50, early_stopping="auto", validation_fraction=0.1,
                 validation_split="last", standardize=True, clip_norm=1.0, dtype="float32",
                 device="cpu", n_threads=None, random_state=None, verbose=0, warm_start=False):
        vars(self).update((k, v) for k, v in locals().items() if k != "self")


class GRUClassifier(GRUOptions, _SequenceClassifier):
    __doc__ = GRUOptions.describe("Gated recurrent unit network for sequence classification.",
                                  "classification", """
        A label at every step (``return_sequences=True``): whether the running sum of
        the inputs is positive.

        >>> import numpy as np
        >>> from numbarnn import GRUClassifier
        >>> rng = np.random.default_rng(0)
        >>> X = rng.standard_normal((16, 8, 1))
        >>> y = (np.cumsum(X[:, :, 0], axis=1) > 0).astype(int)  # (16, 8) labels
        >>> clf = GRUClassifier(hidden_size=4, return_sequences=True, max_iter=3,
        ...                     random_state=0)
        >>> clf.fit(X, y).predict(X).shape
        (16, 8)
        >>> clf.predict_proba(X).shape
        (16, 8, 2)
        """)
    _parameter_constraints = {**_SequenceClassifier._parameter_constraints,
                              **GRUOptions.constraints}

    def __init__(self, hidden_size=64, *, reset_after=True, class_weight=None, vocab_size=None,
                 embedding_dim=None, num_layers=1, bidirectional=False, dropout=0.0,
                 return_sequences=False, solver="adam", learning_rate="constant",
                 learning_rate_init=1e-3, momentum=0.9, nesterov=False, weight_decay=0.0,
                 batch_size=32, max_iter=200, shuffle=True, tol=1e-4, n_iter_no_change=50,
                 early_stopping="auto", validation_fraction=0.1, validation_split="last",
                 standardize=True, clip_norm=1.0, dtype="float32", device="cpu", n_threads=None,
                 random_state=None, verbose=0, warm_start=False):
        vars(self).update((k, v) for k, v in locals().items() if k != "self")
