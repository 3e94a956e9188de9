"""The classifiers: labels, probabilities, class weights, partial_fit's classes, per-step
labels with padding, saving, and the fit on every device."""

import warnings

import numpy as np
import pytest

from numbarnn import GRUClassifier, LSTMClassifier, RNNClassifier, load

CLASSIFIERS = [RNNClassifier, LSTMClassifier, GRUClassifier]


def small(cls=GRUClassifier, **kw):
    return cls(**{"hidden_size": 4, "max_iter": 3, "batch_size": 8, "random_state": 0, **kw})


def sequences(n=24, T=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, T, 2))


def labels(X, classes):
    """One label per sequence: the bin of the first feature's sum."""
    edges = np.quantile(X[:, :, 0].sum(1), np.linspace(0, 1, len(classes) + 1)[1:-1])
    return np.asarray(classes)[np.digitize(X[:, :, 0].sum(1), edges)]


@pytest.mark.parametrize("cls", CLASSIFIERS)
@pytest.mark.parametrize("classes", [["down", "up"], [3, 7, 11]])
def test_probabilities_are_a_distribution_whose_argmax_is_predict(cls, classes):
    X = sequences()
    y = labels(X, classes)
    model = small(cls).fit(X, y)
    np.testing.assert_array_equal(model.classes_, sorted(classes))
    assert model.n_outputs_ == (1 if len(classes) == 2 else len(classes))
    assert model.network_.loss == ("binary_cross_entropy" if len(classes) == 2
                                   else "cross_entropy")
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), len(classes))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(model.predict(X), model.classes_[proba.argmax(axis=1)])
    np.testing.assert_allclose(model.predict_log_proba(X), np.log(proba), rtol=1e-10)
    assert model.score(X, y) == np.mean(model.predict(X) == y)


def test_learns_a_separable_task():
    X = sequences(200, 8, seed=1)
    y = np.where(X[:, :, 0].sum(1) > 0, "pos", "neg")
    model = GRUClassifier(hidden_size=8, random_state=0).fit(X[:150], y[:150])
    assert model.score(X[150:], y[150:]) >= 0.85
    assert all(0 <= s <= 1 for s in model.validation_scores_)


def test_log_probabilities_stay_finite_where_probabilities_round_to_zero():
    X = sequences()
    model = small().fit(X, labels(X, [0, 1, 2]))
    views = model.network_.layout.views(model.params_)
    views["head.bias"][...] = [200.0, 0.0, -200.0]
    log_proba = model.predict_log_proba(X)
    assert np.all(np.isfinite(log_proba))
    assert np.all(log_proba[:, 2] < -300)


def test_continuous_targets_are_refused():
    X = sequences()
    with pytest.raises(ValueError, match="Unknown label type"):
        small().fit(X, X[:, :, 0].sum(1))


def test_one_class_is_refused():
    X = sequences()
    with pytest.raises(ValueError, match="1 class"):
        small().fit(X, np.full(len(X), "a"))


def test_a_column_of_labels_warns_and_is_read_as_labels():
    from sklearn.exceptions import DataConversionWarning

    X = sequences()
    y = labels(X, [0, 1])
    with pytest.warns(DataConversionWarning):
        column = small().fit(X, y[:, None])
    np.testing.assert_array_equal(column.params_, small().fit(X, y).params_)


def test_class_weight_is_sample_weight_of_each_class_in_the_loss():
    """(Without scaling: sample weights weigh the scaling statistics too, class weights only
    the loss.)"""
    X = sequences()
    y = labels(X, ["a", "b", "c"])
    weighted = small(class_weight={"b": 3.0}, standardize=False).fit(X, y)
    by_sample = small(standardize=False).fit(X, y, sample_weight=np.where(y == "b", 3.0, 1.0))
    np.testing.assert_array_equal(weighted.params_, by_sample.params_)
    counts = {c: np.sum(y[:-2] == c) for c in "abc"}  # early stopping is off at 24 sequences
    balanced = small(class_weight="balanced", standardize=False).fit(X[:-2], y[:-2])
    expected = np.array([(len(y) - 2) / (3 * counts[c]) for c in y[:-2]])
    by_sample = small(standardize=False).fit(X[:-2], y[:-2], sample_weight=expected)
    np.testing.assert_array_equal(balanced.params_, by_sample.params_)


@pytest.mark.parametrize("class_weight, message", [
    ({"z": 2.0}, "not among the classes"),
    ({"a": -1.0}, "non-negative"),
    ({"a": 0.0, "b": 0.0, "c": 0.0}, "zero"),
])
def test_bad_class_weights_are_named(class_weight, message):
    X = sequences()
    with pytest.raises(ValueError, match=message):
        small(class_weight=class_weight).fit(X, labels(X, ["a", "b", "c"]))


def test_partial_fit_needs_the_classes_first_and_keeps_them():
    X = sequences()
    y = labels(X, [0, 1])
    with pytest.raises(ValueError, match="classes must be passed"):
        small().partial_fit(X, y)
    model = small().partial_fit(X, y, classes=[0, 1, 2])  # 2 comes later
    assert model.n_outputs_ == 3
    model.partial_fit(X[:4], np.array([2, 2, 0, 1]))
    before = model.params_.copy()
    with pytest.raises(ValueError, match="not among the classes"):
        model.partial_fit(X[:2], np.array([5, 0]))
    with pytest.raises(ValueError, match="not the same as the classes_"):
        model.partial_fit(X, y, classes=[0, 1])
    np.testing.assert_array_equal(model.params_, before)
    with pytest.raises(ValueError, match="balanced"):
        small(class_weight="balanced").partial_fit(X, y, classes=[0, 1])


def test_labels_never_seen_count_as_errors_in_score():
    X = sequences()
    y = labels(X, ["a", "b"])
    model = small().fit(X, y)
    right = model.predict(X) == y
    assert model.score(X, np.where(right, "z", y)) == 0.0


def test_per_step_labels_ignore_padded_steps():
    """Ragged label lists and padded arrays with junk at padded steps give the same fit;
    predictions per step repeat the last valid label at padded steps, probabilities are NaN."""
    X = sequences(12, 6)
    lengths = np.array([6, 4, 2, 5, 6, 3] * 2)
    steps = np.where(np.cumsum(X[:, :, 0], axis=1) > 0, "up", "down")
    ragged_X = [x[:n] for x, n in zip(X, lengths)]
    ragged_y = [s[:n] for s, n in zip(steps, lengths)]
    junk = steps.copy()
    junk[np.arange(6)[None, :] >= lengths[:, None]] = "never"
    a = small(return_sequences=True).fit(ragged_X, ragged_y)
    b = small(return_sequences=True).fit(X, junk, lengths)
    np.testing.assert_array_equal(a.classes_, ["down", "up"])
    np.testing.assert_array_equal(a.params_, b.params_)
    pred = b.predict(X, lengths)
    assert pred.shape == (12, 6)
    for i, n in enumerate(lengths):
        assert set(pred[i, n:]) <= {pred[i, n - 1]}
    proba = b.predict_proba(X, lengths)
    padded = np.arange(6)[None, :] >= lengths[:, None]
    assert np.isnan(proba[padded]).all() and not np.isnan(proba[~padded]).any()
    assert b.score(X, junk, lengths=lengths) == np.mean(pred[~padded] == steps[~padded])


def test_save_and_load_keep_the_classes(tmp_path):
    X = sequences()
    y = labels(X, ["cat", "dog", "emu"])
    model = small().fit(X, y)
    model.save(tmp_path / "m.npz")
    loaded = load(tmp_path / "m.npz")
    assert isinstance(loaded, GRUClassifier)
    np.testing.assert_array_equal(loaded.classes_, model.classes_)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_load_state_dict_on_an_unfitted_classifier_numbers_the_classes():
    X = sequences()
    fitted = small(standardize=False).fit(X, labels(X, ["a", "b", "c"]))
    fresh = small(standardize=False).load_state_dict(fitted.state_dict())
    np.testing.assert_array_equal(fresh.classes_, [0, 1, 2])
    np.testing.assert_array_equal(fresh.predict_proba(X), fitted.predict_proba(X))


CASES = {"binary": (LSTMClassifier, dict(bidirectional=True), 2),
         "multiclass-per-step": (GRUClassifier, dict(return_sequences=True), 3)}


@pytest.mark.parametrize("case", list(CASES))
def test_classifier_fit_on_the_device_is_the_fit_on_the_cpu(case, device):
    cls, params, n_classes = CASES[case]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 3, 2))
    shape = (5, 3) if params.get("return_sequences") else (5,)
    y = np.arange(15)[: np.prod(shape)].reshape(shape) % n_classes
    lengths = np.array([3, 2, 1, 3, 2])
    common = dict(hidden_size=2, max_iter=2, batch_size=3, dtype="float64", random_state=0,
                  **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cpu = cls(device="cpu", **common).fit(X, y, lengths)
        ours = cls(device=device, **common).fit(X, y, lengths)
    np.testing.assert_allclose(ours.loss_curve_, cpu.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(ours.params_, cpu.params_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.predict_proba(X, lengths), cpu.predict_proba(X, lengths),
                               rtol=1e-9, equal_nan=True)


@pytest.mark.parametrize("call, error, message", [
    (lambda m, X, y: m.fit(X * np.nan, y), ValueError, "NaN"),
    (lambda m, X, y: m.partial_fit(X[:, :, :1], y), ValueError, "features per time step"),
    (lambda m, X, y: m.partial_fit(X, y[:-1]), ValueError, "different numbers of sequences"),
    (lambda m, X, y: m.partial_fit(X, y, sample_weight=-np.ones(len(y))), ValueError,
     "Negative"),
    (lambda m, X, y: m.partial_fit(X, y, lengths=np.zeros(len(y), int)), ValueError,
     "lengths must lie"),
    (lambda m, X, y: m.partial_fit(X, np.full(len(y), 0.5)), ValueError, "Unknown label type"),
    (lambda m, X, y: m.fit(X, y, validation_data=(X, np.full(len(y), 0.5))), ValueError,
     "validation_data: Unknown label type"),
    (lambda m, X, y: m.set_params(class_weight="heavy").fit(X, y), ValueError, "class_weight"),
])
def test_bad_input_leaves_a_fitted_classifier_unchanged(call, error, message):
    import pickle

    X = sequences()
    y = labels(X, ["a", "b", "c"])
    model = small().fit(X, y)
    before = pickle.dumps({k: v for k, v in vars(model).items() if k != "network_"})
    with pytest.raises(error, match=message):
        call(model, X, y)
    model.set_params(class_weight=None)
    assert pickle.dumps({k: v for k, v in vars(model).items() if k != "network_"}) == before


def test_per_step_labels_at_padded_steps_are_never_read():
    """An object array with None at padded steps (as pandas gives) trains as the same labels
    with anything else there."""
    X = sequences(6, 4)
    lengths = np.array([4, 2, 3, 4, 1, 4])
    steps = np.where(np.cumsum(X[:, :, 0], axis=1) > 0, "up", "down").astype(object)
    holes = steps.copy()
    holes[np.arange(4)[None, :] >= lengths[:, None]] = None
    a = small(return_sequences=True).fit(X, steps, lengths)
    b = small(return_sequences=True).fit(X, holes, lengths)
    np.testing.assert_array_equal(a.params_, b.params_)


def test_gradient_flow_of_a_classifier_names_unknown_labels():
    from numbarnn.diagnostics import gradient_flow

    X = sequences()
    y = labels(X, ["a", "b", "c"])
    model = small(class_weight="balanced").fit(X, y)
    assert gradient_flow(model, X, y)["l0"]["h"].shape == (5,)
    with pytest.raises(ValueError, match="not among the classes"):
        gradient_flow(model, X, np.where(y == "a", "z", y))


def test_binary_cross_entropy_targets_must_be_probabilities():
    from numbarnn import GRUCell, RecurrentNetwork

    net = RecurrentNetwork(GRUCell(), 2, 3, loss="binary_cross_entropy")
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        net.loss_and_grad(net.init_params(0, np.float64), np.zeros((2, 3, 2)),
                          np.array([[0.5], [1.5]]))
