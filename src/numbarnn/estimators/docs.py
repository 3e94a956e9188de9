"""The estimators' docstrings: the parameters and attributes all six share, with the parts
that differ between regression and classification filled in by :func:`common`, and each
estimator's Examples section laid out by :func:`examples`."""

import textwrap

COMMON = """
    vocab_size : int or None, default=None
        Take token ids instead of feature vectors: X is (n, T) integers in [0,
        vocab_size), or a list of id sequences, and a learnt table turns each id
        into the first layer's input (``torch.nn.Embedding``). None: X holds
        features.
    embedding_dim : int or None, default=None
        Columns of that table (None: ``hidden_size``); used with ``vocab_size``.
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
<standardize>
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
        Relative improvement below which an epoch counts as no improvement: the
        training loss, or the validation loss (1 - <score>) with ``early_stopping``,
        must fall below (1 - tol) times its best so far. (MLPRegressor's ``tol`` is
        absolute: near a perfect fit, it stopped fits that were still improving.)
    n_iter_no_change : int, default=50
        Stop after this many epochs in a row without improvement (of the
        training loss, or of the validation <score> with ``early_stopping``). Larger
        than MLPRegressor's 10: a mini-batch loss is noisy, and recurrent networks
        sit on plateaus and keep improving slowly for many epochs (measured in
        the user guide's page on training).
    early_stopping : bool or 'auto', default='auto'
        Monitor the <score> of validation sequences (``validation_fraction`` of the
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
        (the ``cuda`` extra): the weights, the optimizer's state and the training
        data stay on the GPU during ``fit``, which reads back each batch's loss and
        gradient norm, and the weights once per epoch. Without numba-cuda or a GPU,
        fitting raises :class:`~numbarnn.exceptions.DeviceUnavailableError`.
    n_threads : int or None, default=None
        Threads for the computation (Numba's thread pool; BLAS is capped to the
        same number). None: Numba's default, one per core.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling, dropout and the validation split. The
        same value and ``n_threads`` give bit-identical weights (on a GPU with
        ``vocab_size``, the embedding's gradient is summed with atomic adds, whose
        order may change the last bits of float32 weights).
    verbose : int, default=0
        Print one line per epoch (loss, validation score, seconds), and progress
        within epochs longer than 10 seconds. Also say on stderr when a call is
        about to compile numbarnn's kernels (the first fit on a machine; said
        through the ``numbarnn`` logger at INFO level in any case).
    warm_start : bool, default=False
        Let ``fit`` continue from the current weights (with a new optimizer).

    Attributes
    ----------
    loss_curve_ : list of float
        Mean training loss (<loss>) of each epoch.
    validation_scores_ : list of float or None
        Validation <score> of each epoch, with ``early_stopping`` or ``validation_data``.
    best_loss_ : float or None
        Lowest training loss seen (None with ``early_stopping``).
    best_validation_score_ : float or None
        Best validation <score> (with ``early_stopping`` or ``validation_data``).
    n_iter_ : int
        Epochs run.
    t_ : int
        Training sequences seen.
    n_features_in_ : int
        Features per time step.
<attributes>
    network_ : RecurrentNetwork
        The fitted network: its cell, shape, parameter layout, loss and device.
    params_ : ndarray
        The weights, one flat vector in ``network_.layout`` (see :meth:`state_dict`
        for them by name).
    input_mean_, input_scale_ : ndarray of shape ``(n_features_in_,)`` or None
        Mean and standard deviation (1 where zero) of each input feature, with
        ``standardize``; None without.
<notes>
"""

_REGRESSION = {
    "standardize": """\
        Standardise each input feature and each target with the mean and standard
        deviation of the training data (over valid steps), learnt when a fit starts
        afresh; ``predict`` and ``score`` work in the target's own units. False: the
        network sees the data as given and ``predict`` is exactly its output. Token
        ids (``vocab_size``) are never scaled.
""",
    "score": "R²",
    "loss": "MSE, in standardised units with ``standardize``",
    "attributes": """\
    n_outputs_ : int
        Targets per sequence (or per step).
""",
    "notes": """\
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
""",
}

_CLASSIFICATION = {
    "standardize": """\
        Standardise each input feature with the mean and standard deviation of the
        training data (over valid steps), learnt when a fit starts afresh. False:
        the network sees the inputs as given. Token ids (``vocab_size``) are never
        scaled.
""",
    "score": "accuracy",
    "loss": "cross-entropy, in nats",
    "attributes": """\
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted.
    n_outputs_ : int
        Outputs of the network: 1 (the logit of ``classes_[1]``) for two classes,
        else one logit per class.
""",
    "notes": """\
    target_mean_, target_scale_ : None
        Labels are not scaled.

    Notes
    -----
    Two classes are learnt with one logit and binary cross-entropy
    (``torch.nn.BCEWithLogitsLoss``), more with one logit per class and softmax
    cross-entropy (``torch.nn.CrossEntropyLoss``), as MLPClassifier does. The loss
    is weighted by ``sample_weight`` times ``class_weight``. If the loss or gradient
    becomes NaN or infinite, training stops, the last weights with a finite loss are
    restored and :class:`numbarnn.TrainingDivergedError` is raised.
""",
}


def common(task):
    """The shared part of an estimator's docstring, for ``task`` 'regression' or
    'classification'."""
    text = COMMON
    for key, value in (_REGRESSION if task == "regression" else _CLASSIFICATION).items():
        text = text.replace(f"<{key}>\n" if value.endswith("\n") else f"<{key}>", value)
    return text


def examples(doctest):
    """The Examples section of an estimator's docstring, from its doctest written without
    indentation (as tests/test_docstring_examples.py runs it)."""
    body = textwrap.indent(textwrap.dedent(doctest).strip("\n") + "\n", "    ")
    return f"    Examples\n    --------\n{body}"
