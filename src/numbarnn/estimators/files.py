"""Loading a saved estimator: nothing in the file is trusted (the format: :mod:`numbarnn.io`)."""

import numpy as np

from .. import io
from .base import SCALING
from .classifiers import GRUClassifier, LSTMClassifier, RNNClassifier
from .regressors import GRURegressor, LSTMRegressor, RNNRegressor

REGRESSORS = (RNNRegressor, LSTMRegressor, GRURegressor)
CLASSIFIERS = (RNNClassifier, LSTMClassifier, GRUClassifier)


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
    RNNRegressor, LSTMRegressor, GRURegressor, RNNClassifier, LSTMClassifier or GRUClassifier
        Fitted, with its parameters, weights and training history (and classes).

    Raises
    ------
    ValueError
        If the file is not a numbarnn estimator file, is damaged, or holds anything
        the format does not allow; the message names the problem.

    Examples
    --------
    >>> import os
    >>> import tempfile
    >>> import numpy as np
    >>> from numbarnn import LSTMRegressor, load
    >>> X = np.random.default_rng(0).standard_normal((16, 8, 1))
    >>> model = LSTMRegressor(hidden_size=4, max_iter=2, random_state=0).fit(X, X[:, -1, 0])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "model.npz")
    ...     model.save(path)
    ...     loaded = load(path)
    >>> type(loaded).__name__, loaded.hidden_size, loaded.n_iter_
    ('LSTMRegressor', 4, 2)
    >>> bool(np.array_equal(loaded.predict(X), model.predict(X)))
    True
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
    classifier = cls in CLASSIFIERS
    y_ndim = attributes.pop("y_ndim")
    per_step = int(estimator.return_sequences)
    if y_ndim not in ((1 + per_step,) if classifier or network.output_size == 1 else ()) + (
            () if classifier else (2 + per_step,)):
        raise ValueError(f"{path}: y_ndim {y_ndim} does not fit {network.output_size} "
                         f"output(s)")
    estimator._y_ndim = y_ndim
    if classifier:
        estimator.classes_ = _checked_classes(attributes.pop("classes_"), network.output_size,
                                              path)
    for name in SCALING:
        values = attributes.pop(name, None)  # files before version 0.1 have none
        size = network.input_size if name.startswith("input") else network.output_size
        if values is not None and (len(values) != size or not np.all(np.isfinite(values)) or (
                name.endswith("scale_") and min(values) <= 0)):
            raise ValueError(f"{path}: {name} must be {size} finite numbers (positive for a "
                             f"scale); got {values!r}")
        setattr(estimator, name, None if values is None else np.array(values, np.float64))
    for pair in (SCALING[:2], SCALING[2:]):
        if len({getattr(estimator, name) is None for name in pair}) > 1:
            raise ValueError(f"{path}: {pair[0]} and {pair[1]} must be both given or both "
                             "null")
    tokens = estimator.vocab_size is not None
    if tokens and estimator.input_mean_ is not None:
        raise ValueError(f"{path}: token ids are not scaled: input_mean_ and input_scale_ must "
                         "be null with vocab_size")
    if classifier and estimator.target_mean_ is not None:
        raise ValueError(f"{path}: a classifier's target_mean_ and target_scale_ must be null")
    if not (classifier or tokens) and ((estimator.input_mean_ is None)
                                       != (estimator.target_mean_ is None)):
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
    classes = {c.__name__: c for c in REGRESSORS + CLASSIFIERS}
    if meta["class"] not in classes:
        fail(f"unknown estimator class {meta['class']!r}")
    cls = classes[meta["class"]]
    params, attributes = meta["params"], meta["attributes"]
    if not isinstance(params, dict) or not isinstance(attributes, dict):
        fail("params and attributes must be JSON objects")
    known = cls().get_params(deep=False)
    params = dict(params)
    for key, value in params.items():
        if key not in known:
            fail(f"unknown parameter {key!r} of {cls.__name__}")
        if key == "class_weight" and isinstance(value, list):  # a dict, saved as pairs
            if not all(isinstance(p, list) and len(p) == 2 and _is_label(p[0])
                       and _is_number(p[1]) for p in value):
                fail(f"parameter 'class_weight' is {value!r}, not a list of [label, weight] "
                     "pairs")
            params[key] = {label: weight for label, weight in value}
        elif value is not None and not isinstance(value, (bool, int, float, str)):
            fail(f"parameter {key!r} is {value!r}, not a number, a string or null")
    expected = _ATTRIBUTES.keys() - {"classes_"} if cls in REGRESSORS else _ATTRIBUTES.keys()
    if not expected - set(SCALING) <= set(attributes) <= expected:
        fail(f"the attributes must be {sorted(expected)} (the scaling ones optional); got "
             f"{sorted(attributes)}")
    for key, check in _ATTRIBUTES.items():
        if key in attributes and not check(attributes[key]):
            fail(f"attribute {key} is {attributes[key]!r}, which it cannot be")
    n_iter = attributes["n_iter_"]
    if len(attributes["loss_curve_"]) != n_iter or len(attributes["validation_scores_"]
                                                       or ()) > n_iter:
        fail(f"the loss curve and validation scores do not fit n_iter_={n_iter}")
    return cls, params, dict(attributes)


def _checked_classes(classes, n_outputs, path):
    """A file's class labels as an array: unique, sorted, of one kind, as many as the
    outputs give (two for one output)."""
    expected = 2 if n_outputs == 1 else n_outputs
    kinds = {type(c) for c in classes}
    array = np.array(classes)
    if (n_outputs == 2 or len(classes) != expected or len(kinds) != 1 or array.ndim != 1
            or not np.array_equal(np.unique(array), array)):
        raise ValueError(f"{path}: classes_ must be {expected} different labels of one type "
                         f"(strings, integers, numbers or booleans), sorted, for "
                         f"{n_outputs} output(s); got {classes!r}")
    return array


def _is_count(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_label(v):
    return isinstance(v, (str, int, float, bool))


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
    **dict.fromkeys(SCALING, _numbers_or_none),
    "classes_": lambda v: isinstance(v, list) and all(map(_is_label, v)),
}
