"""Metrics the estimators' ``score`` does not give: perplexity, for language models."""

import numpy as np


def perplexity(y_true, log_proba, classes):
    """exp of the mean negative log-probability of the true labels (per step, over valid steps).

    The usual measure of a language model (next-token prediction): 1 for a model
    certain of every right answer, the vocabulary's size for a uniform guess. It is
    exp of the cross-entropy a classifier trains on.

    Parameters
    ----------
    y_true : array-like of shape (n,) or (n, T), or list of per-sequence arrays
        The true labels (a list may be ragged, as ``fit`` takes it).
    log_proba : ndarray of shape (n, n_classes) or (n, T, n_classes)
        From ``predict_log_proba``; steps that are NaN (padding) are left out.
    classes : array-like of shape (n_classes,)
        The estimator's ``classes_`` (sorted), the order of ``log_proba``'s last axis.

    Returns
    -------
    float
        inf if a true label is not among ``classes`` (its probability is 0).

    Raises
    ------
    ValueError
        If ``y_true`` does not fit ``log_proba``'s steps.

    Examples
    --------
    >>> import numpy as np
    >>> from numbarnn.metrics import perplexity
    >>> perplexity(["a", "b"], np.log([[0.5, 0.5], [0.5, 0.5]]), ["a", "b"])
    2.0
    """
    log_proba = np.asarray(log_proba, np.float64)
    classes = np.asarray(classes)
    valid = ~np.isnan(log_proba[..., 0])
    if isinstance(y_true, (list, tuple)) and log_proba.ndim == 3:
        rows = [np.asarray(labels) for labels in y_true]
        if len(rows) != len(log_proba) or any(len(r) != v.sum() for r, v in zip(rows, valid)):
            raise ValueError("y_true's sequences must have the valid steps of log_proba")
        labels = np.concatenate(rows)
    else:
        labels = np.asarray(y_true)
        if labels.shape != log_proba.shape[:-1]:
            raise ValueError(f"y_true of shape {labels.shape} does not fit log_proba of shape "
                             f"{log_proba.shape}")
        labels = labels[valid]
    index = np.searchsorted(classes, labels)
    known = (index < len(classes)) & (classes[np.minimum(index, len(classes) - 1)] == labels)
    if not known.all():
        return float("inf")
    return float(np.exp(-np.mean(log_proba[valid][np.arange(len(labels)), index])))
