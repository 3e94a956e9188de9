"""Property tests over random shapes: batch, steps, features, units, layers, lengths, variants."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import reference
from conftest import CELLS
from gradcheck import numerical_gradient, relative_errors, step_for
from numbarnn import RecurrentNetwork


@st.composite
def problems(draw, max_layers=2):
    cell = CELLS[draw(st.sampled_from(sorted(CELLS)))]
    B, T = draw(st.integers(1, 4)), draw(st.integers(1, 6))
    D, H, k = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 2))
    net = RecurrentNetwork(cell, D, H, output_size=k, num_layers=draw(st.integers(1, max_layers)),
                           bidirectional=draw(st.booleans()),
                           return_sequences=draw(st.booleans()))
    lengths = np.array(draw(st.lists(st.integers(1, T), min_size=B, max_size=B)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((B, T, D))
    y = rng.standard_normal((B, T, k) if net.return_sequences else (B, k))
    return net, net.init_params(seed, np.float64), X, y, lengths


@given(problems(max_layers=3))
def test_forward_matches_reference(problem):
    net, params, X, _, lengths = problem
    expected = reference.forward(net, params, X, lengths)
    valid = ~np.isnan(expected)
    np.testing.assert_allclose(net.predict(params, X, lengths)[valid], expected[valid],
                               rtol=1e-11, atol=1e-12)


@settings(max_examples=15)
@given(problems())
def test_gradient_matches_finite_differences(problem):
    net, params, X, y, lengths = problem
    grad = net.loss_and_grad(params, X, y, lengths)[1]
    step = step_for(net.cell)
    # a relu pre-activation within the stencil's reach of 0 (a kink) spoils the difference
    # quotient there, not the gradient: a relu network's components pass at either of two steps
    steps = (step, step / 10) if getattr(net.cell, "nonlinearity", None) == "relu" else (step,)
    errors = [relative_errors(grad, numerical_gradient(
        lambda p: net.loss_and_grad(p, X, y, lengths)[0], params, eps)) for eps in steps]
    assert np.min(errors, axis=0).max() <= 1e-6


@given(problems(), st.integers(0, 3))
def test_sequences_are_independent_and_order_free(problem, pick):
    """A sequence's output does not depend on the rest of the batch or its position in it."""
    net, params, X, _, lengths = problem
    b = pick % len(X)
    alone = net.predict(params, X[b : b + 1], lengths[b : b + 1])[0]
    order = np.random.default_rng(pick).permutation(len(X))
    shuffled = net.predict(params, X[order], lengths[order])[np.argsort(order)]
    full = net.predict(params, X, lengths)
    L = lengths[b]
    if net.return_sequences:
        alone, full, shuffled = alone[:L], full[:, :L], shuffled[:, :L]
    np.testing.assert_allclose(full[b], alone, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(shuffled, full, rtol=1e-12, atol=1e-14)


@st.composite
def arrays_of_any_shape(draw):
    shape = tuple(draw(st.lists(st.integers(0, 3), min_size=0, max_size=4)))
    dtype = draw(st.sampled_from([np.float32, np.float64, np.int64, np.uint8, np.bool_,
                                  np.complex64, object]))
    a = np.ones(shape, dtype)
    return a.T if draw(st.booleans()) else a


@given(arrays_of_any_shape(), st.booleans(), st.integers(0, 1), st.integers(0, 1))
@settings(max_examples=300)
def test_numeric_fast_path_agrees_with_check_array(a, ensure_2d, min_samples, min_features):
    """The shortcut for plain arrays returns what scikit-learn's check_array returns, and
    every other input still goes through it (its errors included)."""
    from sklearn.utils.validation import check_array

    from numbarnn.validation import _numeric, _plain

    options = dict(ensure_2d=ensure_2d, ensure_min_samples=min_samples,
                   ensure_min_features=min_features)
    try:
        expected = check_array(a, allow_nd=True, dtype="numeric", ensure_all_finite=False,
                               input_name="X", **options)
    except (TypeError, ValueError):
        assert not _plain(a, **options)
        return
    if _plain(a, **options):
        got = _numeric(a, "X", **options)
        assert got is a and got.dtype == expected.dtype and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)
