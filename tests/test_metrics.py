"""Perplexity against its definition."""

import numpy as np
import pytest

from numbarnn.metrics import perplexity


def test_perplexity_is_exp_of_the_mean_negative_log_likelihood():
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(3), (4, 5))
    log_proba = np.log(proba)
    log_proba[1, 3:] = np.nan  # padded steps
    y = rng.integers(0, 3, (4, 5))
    valid = ~np.isnan(log_proba[..., 0])
    expected = np.exp(-np.mean(np.log(np.take_along_axis(proba, y[..., None], -1)[..., 0])[valid]))
    assert perplexity(y, log_proba, [0, 1, 2]) == pytest.approx(expected, rel=1e-12)
    ragged = [row[v] for row, v in zip(y, valid)]
    assert perplexity(ragged, log_proba, [0, 1, 2]) == pytest.approx(expected, rel=1e-12)


def test_uniform_guess_is_the_vocabulary_size_and_unknown_labels_are_infinite():
    log_proba = np.log(np.full((3, 4), 0.25))
    assert perplexity([0, 1, 3], log_proba, np.arange(4)) == pytest.approx(4.0)
    assert perplexity([0, 1, 7], log_proba, np.arange(4)) == np.inf
    with pytest.raises(ValueError, match="does not fit"):
        perplexity([0, 1], log_proba, np.arange(4))
