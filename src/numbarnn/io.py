"""Saving and loading estimators without pickle: one ``.npz`` of arrays plus JSON.

The file holds the weights under their ``state_dict`` names and one entry,
``__numbarnn__``, with the estimator's class, parameters and fitted attributes as
UTF-8 JSON. Loading reads it with ``allow_pickle=False``: no code from the file runs.
"""

import json

import numpy as np

FORMAT = "numbarnn-estimator"
VERSION = 1
META = "__numbarnn__"
FITTED = ("n_iter_", "t_", "loss_curve_", "validation_scores_", "best_loss_",
          "best_validation_score_")


def _jsonable(value):
    return value if isinstance(value, (bool, int, float, str, type(None))) else None


def save(estimator, path):
    """Write a fitted estimator to ``path`` (``.npz``); see :func:`load`.

    ``estimator.save(path)`` calls this.

    Parameters
    ----------
    estimator : fitted RNNRegressor, LSTMRegressor or GRURegressor
        The estimator to save.
    path : str or path-like
        File to write, used as given (``.npz`` is the usual suffix).
    """
    params = {k: _jsonable(v) for k, v in estimator.get_params(deep=False).items()}
    attributes = {k: getattr(estimator, k) for k in FITTED}
    attributes["y_ndim"] = estimator._y_ndim
    meta = {"format": FORMAT, "version": VERSION, "class": type(estimator).__name__,
            "params": params, "attributes": attributes}
    text = json.dumps(meta, allow_nan=True).encode("utf-8")
    with open(path, "wb") as f:
        np.savez(f, **estimator.state_dict(), **{META: np.frombuffer(text, np.uint8)})


def load(path):
    """Load an estimator written by ``estimator.save(path)``.

    Only arrays and JSON are read (``allow_pickle=False``).

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
        If the file is not a numbarnn estimator file, or of an unknown format
        version or class.
    """
    from . import estimators

    with np.load(path, allow_pickle=False) as data:
        if META not in data.files:
            raise ValueError(f"{path} is not a numbarnn estimator file (no {META} entry)")
        meta = json.loads(bytes(data[META]).decode("utf-8"))
        arrays = {k: data[k] for k in data.files if k != META}
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise ValueError(f"{path}: unsupported format {meta.get('format')} "
                         f"version {meta.get('version')}")
    classes = {c.__name__: c for c in (estimators.RNNRegressor, estimators.LSTMRegressor,
                                       estimators.GRURegressor)}
    if meta["class"] not in classes:
        raise ValueError(f"{path}: unknown estimator class {meta['class']!r}")
    estimator = classes[meta["class"]](**meta["params"]).load_state_dict(arrays)
    attributes = dict(meta["attributes"])
    estimator._y_ndim = attributes.pop("y_ndim")
    for key, value in attributes.items():
        setattr(estimator, key, value)
    return estimator
