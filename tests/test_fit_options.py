"""Training options: the stopping rule on plateaus, learning-rate schedules, validation
splits and data, sample weights, and the warning for a transposed panel."""

import math
import warnings

import numpy as np
import pytest

from numbarnn import GRURegressor, LSTMRegressor, RNNRegressor
from numbarnn.exceptions import LayoutWarning

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def small(cls=GRURegressor, **kw):
    return cls(**{"hidden_size": 4, "max_iter": 3, "batch_size": 8, "random_state": 0, **kw})


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((24, 5, 2))
    return X, X[:, :, 0].sum(axis=1)


def assert_unchanged(model, before):
    after = vars(model)
    assert after.keys() == before.keys()
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(after[key], value, err_msg=key)


# --- the stopping rule ------------------------------------------------------------------


@pytest.mark.parametrize("patience", [1, 4, 9])
def test_a_plateau_no_longer_than_n_iter_no_change_never_stops_training(data, patience):
    """With a learning rate too small to move the loss, every epoch after the first is a
    plateau epoch: training must run exactly ``n_iter_no_change`` of them and stop at the
    next one, never earlier."""
    X, y = data
    model = small(learning_rate_init=1e-12, n_iter_no_change=patience, max_iter=100).fit(X, y)
    assert model.n_iter_ == 1 + patience + 1
    assert np.ptp(model.loss_curve_) < 1e-6


def test_early_stopping_auto_holds_out_the_last_sequences_when_there_are_enough():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4, 1))
    y = X[:, -1, 0]
    model = small(max_iter=2).fit(X, y)  # 6 held out: early stopping on
    assert model.t_ == 2 * 54 and len(model.validation_scores_) == 2 and model.best_loss_ is None
    best = model.params_.copy()
    assert model.score(X[54:], y[54:]) == pytest.approx(model.best_validation_score_, rel=1e-6)
    few = small(max_iter=2).fit(X[:44], y[:44])  # 4 would be held out: off, trains on all
    assert few.t_ == 2 * 44 and few.validation_scores_ is None and few.best_loss_ is not None
    given = small(max_iter=2).fit(X[:44], y[:44], validation_data=(X[44:], y[44:]))
    assert given.t_ == 2 * 44 and len(given.validation_scores_) == 2
    off = small(max_iter=2, early_stopping=False).fit(X, y)
    assert off.t_ == 2 * 60 and not np.array_equal(off.params_, best)


def test_the_default_patience_outlasts_a_long_plateau(data):
    X, y = data
    model = small(learning_rate_init=1e-12, max_iter=1000).fit(X, y)
    assert model.n_iter_ == model.n_iter_no_change + 2
    assert model.n_iter_no_change >= 30


def test_adaptive_lowers_the_rate_on_each_plateau_and_stops_below_1e_6(data):
    """As MLPRegressor: a stall divides the rate by 5 instead of stopping, until the
    rate is at most 1e-6."""
    X, y = data
    patience = 2
    model = small(learning_rate="adaptive", learning_rate_init=1e-5, n_iter_no_change=patience,
                  max_iter=100, tol=1.0)  # tol=1: no epoch counts as an improvement
    model.fit(X, y)
    # 1e-5 -> 2e-6 -> 4e-7 (<= 1e-6): three stalls of patience + 1 epochs after the first
    assert model.n_iter_ == 1 + 3 * (patience + 1)
    assert model._optimizer.lr == pytest.approx(4e-7)
    constant = small(learning_rate_init=1e-5, n_iter_no_change=patience, max_iter=100, tol=1.0)
    assert constant.fit(X, y).n_iter_ == 1 + patience + 1


def test_cosine_follows_half_a_cosine_over_max_iter(data):
    X, y = data
    model = small(learning_rate="cosine", learning_rate_init=0.01, max_iter=4)
    rates = []
    for _ in range(6):  # partial_fit: by n_iter_, then held at the last epoch's rate
        model.partial_fit(X, y)
        rates.append(model._optimizer.lr)
    expected = [0.005 * (1 + math.cos(math.pi * min(e, 3) / 4)) for e in range(6)]
    np.testing.assert_allclose(rates, expected, rtol=1e-12)
    fitted = small(learning_rate="cosine", learning_rate_init=0.01, max_iter=4,
                   n_iter_no_change=100).fit(X, y)
    assert fitted._optimizer.lr == pytest.approx(expected[3])


def test_learning_rate_init_set_between_partial_fits_takes_effect(data):
    X, y = data
    model = small(learning_rate_init=1e-3).partial_fit(X, y)
    steps = model._optimizer.t
    model.set_params(learning_rate_init=0.05, weight_decay=0.1).partial_fit(X, y)
    assert model._optimizer.lr == 0.05 and model._optimizer.weight_decay == 0.1
    assert model._optimizer.t == 2 * steps  # Adam's state went on
    same = small(learning_rate_init=1e-3).partial_fit(X, y).partial_fit(X, y)
    assert not np.allclose(model.params_, same.params_)
    model.set_params(solver="sgd").partial_fit(X, y)  # another solver: a fresh state
    assert model._optimizer.t == steps


# --- validation -----------------------------------------------------------------------


def test_last_split_holds_out_the_last_sequences_and_trains_on_the_rest_only(data):
    X, y = data
    model = small(early_stopping=True, validation_split="last", validation_fraction=0.25,
                  max_iter=1).fit(X, y)
    assert model.t_ == 18  # 24 - 6 held out
    assert model.validation_scores_[0] == pytest.approx(model.score(X[18:], y[18:]), rel=1e-6)
    future = y.copy()
    future[18:] = 1e6  # whatever the held-out future says, training does not see it
    other = small(early_stopping=True, validation_split="last", validation_fraction=0.25,
                  max_iter=1).fit(X, future)
    np.testing.assert_array_equal(other.params_, model.params_)
    shuffled = small(early_stopping=True, validation_split="random", validation_fraction=0.25,
                     max_iter=1).fit(X, future)
    assert not np.array_equal(shuffled.params_, model.params_)  # 'random' mixes them


@pytest.mark.parametrize("early_stopping", [False, True])
def test_validation_data_is_scored_every_epoch_and_not_trained_on(data, early_stopping):
    X, y = data
    Xv, yv = X[:6] + 0.5, y[:6] - 1
    model = small(early_stopping=early_stopping, max_iter=3, n_iter_no_change=100)
    model.fit(X, y, validation_data=(Xv, yv))
    assert model.t_ == 3 * 24  # no split of X
    assert len(model.validation_scores_) == 3
    assert model.best_validation_score_ == max(model.validation_scores_)
    if early_stopping:  # the best epoch's weights are kept
        assert model.score(Xv, yv) == pytest.approx(model.best_validation_score_, rel=1e-6)
    else:
        assert model.score(Xv, yv) == pytest.approx(model.validation_scores_[-1], rel=1e-6)
    lengths = np.full(6, 5)
    weights = np.arange(1.0, 7.0)
    weighted = small(max_iter=1).fit(X, y, validation_data=(Xv, yv, lengths, weights))
    assert weighted.validation_scores_[0] == pytest.approx(
        weighted.score(Xv, yv, sample_weight=weights), rel=1e-6)


@pytest.mark.parametrize("bad, match", [
    ("not a tuple", "validation_data must be a tuple"),
    ((1,), "of 1 items"),
    (("X", "y"), "validation_data: X must be 3D"),
    ((np.zeros((4, 5, 3)), np.zeros(4)), "validation_data: X has 3 features per time step"),
    ((np.zeros((4, 5, 2)), np.zeros((4, 2))), "validation_data: y has 2 targets"),
    ((np.zeros((4, 5, 2)), np.zeros(4), None, -np.ones(4)), "validation_data: Negative"),
])
def test_bad_validation_data_names_the_problem_and_changes_nothing(data, bad, match):
    X, y = data
    model = small(max_iter=1).fit(X, y)
    before = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in vars(model).items()}
    with pytest.raises(ValueError, match=match):
        model.fit(X, y, validation_data=bad)
    assert_unchanged(model, before)


# --- sample weights -------------------------------------------------------------------


@pytest.mark.parametrize("cls", [RNNRegressor, LSTMRegressor, GRURegressor])
def test_integer_sample_weights_are_repeated_sequences(data, cls):
    """One batch per epoch: weighting a sequence by k is training on k copies of it."""
    X, y = data
    w = np.tile([0, 1, 2, 3], 6)
    options = dict(dtype="float64", batch_size=100, max_iter=4, n_iter_no_change=100)
    weighted = small(cls, **options).fit(X, y, sample_weight=w)
    repeated = small(cls, **options).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(weighted.params_, repeated.params_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(
        weighted.score(X, y, sample_weight=w),
        weighted.score(np.repeat(X, w, axis=0), np.repeat(y, w)), rtol=1e-9)


def test_per_step_weights_weight_the_per_step_loss(data):
    X, _ = data
    Y = np.cumsum(X[:, :, 0], axis=1)
    w = np.random.default_rng(1).integers(0, 3, Y.shape).astype(float)
    w[:, 0] = 1  # no sequence all zero
    model = small(LSTMRegressor, return_sequences=True, dtype="float64", max_iter=1,
                  standardize=False)  # predict is the network's output
    model.fit(X, Y, sample_weight=w)
    pred = model.predict(X)
    net, params = model.network_, model.params_
    loss, _ = net.loss_and_grad(params, X, Y[..., None], sample_weight=w)
    assert loss == pytest.approx(np.sum(w * (pred - Y) ** 2) / w.sum(), rel=1e-10)
    ones = small(LSTMRegressor, return_sequences=True, dtype="float64", max_iter=1)
    np.testing.assert_array_equal(ones.fit(X, Y, sample_weight=np.ones_like(w)).params_,
                                  ones.fit(X, Y).params_)


@pytest.mark.parametrize("weights, match", [
    (-np.ones(24), "Negative"),
    (np.zeros(24), "sums to zero"),
    (np.ones(23), r"shape \(24,\)"),
    (np.ones((24, 5)), r"shape \(24,\)"),  # per step needs return_sequences
    (np.r_[np.nan, np.ones(23)], "NaN"),
    (["a"] * 24, "could not convert|numbers|numeric"),
])
def test_bad_sample_weight_names_the_problem_and_changes_nothing(data, weights, match):
    X, y = data
    model = small(max_iter=1).fit(X, y)
    before = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in vars(model).items()}
    for call in (model.fit, model.partial_fit):
        with pytest.raises(ValueError, match=match):
            call(X, y, sample_weight=weights)
        assert_unchanged(model, before)


# --- layout ---------------------------------------------------------------------------


def test_a_panel_in_aeon_layout_warns_and_names_the_transpose():
    rng = np.random.default_rng(0)
    panel = rng.standard_normal((16, 3, 20))  # (n, channels, steps)
    with pytest.warns(LayoutWarning, match=r"transpose\(0, 2, 1\)") as record:
        small(max_iter=1).fit(panel, panel[:, 0, -1])
    assert "3 time step(s) with 20 features" in str(record[0].message)
    assert record[0].filename == __file__  # points at the user's call
    with warnings.catch_warnings():
        warnings.simplefilter("error", LayoutWarning)
        small(max_iter=1).fit(panel.transpose(0, 2, 1), panel[:, 0, -1])


# --- scaling --------------------------------------------------------------------------


@pytest.mark.parametrize("per_step", [False, True])
def test_standardize_makes_the_fit_independent_of_the_data_units(data, per_step):
    """The network sees the same standardised data whatever the units: the fit on data
    in other units predicts the same in those units."""
    X, y = data
    if per_step:
        y = np.cumsum(X[:, :, 0], axis=1)
    options = dict(dtype="float64", max_iter=3, return_sequences=per_step)
    model = small(**options).fit(X, y)
    shifted = small(**options).fit(X * [100.0, 0.01] + [5.0, -3.0], y * 1e3 + 400)
    np.testing.assert_allclose(shifted.predict(X * [100.0, 0.01] + [5.0, -3.0]),
                               model.predict(X) * 1e3 + 400, rtol=1e-6)
    np.testing.assert_allclose(shifted.target_mean_, model.target_mean_ * 1e3 + 400)
    assert model.score(X, y) == pytest.approx(shifted.score(X * [100.0, 0.01] + [5.0, -3.0],
                                                            y * 1e3 + 400), rel=1e-6)
    raw = small(standardize=False, **options).fit(X, y)
    assert raw.input_mean_ is None
    np.testing.assert_array_equal(raw.predict(X), raw.network_.predict(raw.params_, X)[..., 0])
