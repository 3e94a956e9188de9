"""The estimators' behaviour: shapes, errors that name the problem, state kept on failure,
divergence, early stopping, warm starts, reproducibility, weights in and out."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import numbarnn
from numbarnn import GRURegressor, LSTMRegressor, RNNRegressor, TrainingDivergedError
from numbarnn.exceptions import DeviceUnavailableError
from numbarnn.preprocessing import SequenceScaler

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
CLASSES = [RNNRegressor, LSTMRegressor, GRURegressor]


def small(cls=LSTMRegressor, **kw):
    return cls(**{"hidden_size": 4, "max_iter": 3, "batch_size": 8, "random_state": 0, **kw})


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((24, 5, 2)).astype(np.float32)
    return X, X[:, :, 0].sum(axis=1)


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


# --- shapes -----------------------------------------------------------------------------


@pytest.mark.parametrize("cls", CLASSES)
def test_shapes_per_sequence(cls, data):
    X, y = data
    model = small(cls).fit(X, y)
    assert model.predict(X).shape == (24,)
    assert (model.n_features_in_, model.n_outputs_) == (2, 1)
    assert small(cls).fit(X, np.c_[y, -y]).predict(X).shape == (24, 2)
    assert small(cls).fit(X[:, :, 0], y).predict(X[:, :, 0]).shape == (24,)  # 2D is univariate
    assert model.predict(X[:, :3]).shape == (24,)  # any number of steps


def test_shapes_per_step(data):
    X, _ = data
    y = np.cumsum(X[:, :, 0], axis=1)
    model = small(return_sequences=True).fit(X, y)
    assert model.predict(X).shape == (24, 5)
    y3 = np.stack([y, -y], axis=2)
    assert small(return_sequences=True).fit(X, y3).predict(X).shape == (24, 5, 2)
    lengths = np.r_[np.full(12, 5), np.full(12, 3)]
    pred = model.predict(X, lengths)
    assert np.isnan(pred[12:, 3:]).all() and np.isfinite(pred[:, :3]).all()
    assert np.isfinite(model.score(X, y, lengths=lengths))


def test_ragged_list_is_padded_with_lengths():
    rng = np.random.default_rng(1)
    seqs = [rng.standard_normal((L, 2)) for L in (3, 5, 4, 5, 2, 1)]
    y = np.array([s.sum() for s in seqs])
    model = small(GRURegressor).fit(seqs, y)
    padded = np.zeros((6, 5, 2))
    for i, s in enumerate(seqs):
        padded[i, : len(s)] = s
    lengths = [len(s) for s in seqs]
    np.testing.assert_allclose(model.predict(seqs), model.predict(padded, lengths), rtol=1e-6)
    per_step = small(return_sequences=True).fit(seqs, [np.cumsum(s[:, 0]) for s in seqs])
    assert per_step.predict(seqs).shape == (6, 5)
    with pytest.raises(ValueError, match="lengths does not match"):
        model.predict(seqs, lengths=[5] * 6)


def test_float64_dtype_and_output_dtype(data):
    X, y = data
    model = small(dtype="float64").fit(X, y)
    assert model.params_.dtype == np.float64
    assert small().fit(X, y).predict(X).dtype == np.float32
    assert small().fit(X, y).predict(X.astype(np.float64)).dtype == np.float64


# --- bad input ---------------------------------------------------------------------------

BAD_INPUTS = {
    "1d X": (lambda X, y: (X[:, 0, 0], y, None), ValueError, "must be 3D"),
    "4d X": (lambda X, y: (X[..., None], y, None), ValueError, "must be 3D"),
    "empty X": (lambda X, y: (X[:0], y[:0], None), ValueError, "empty"),
    "no steps": (lambda X, y: (X[:, :0], y, None), ValueError, "0 time steps"),
    "NaN in X": (lambda X, y: (np.where(X > 2, np.nan, X), y, None), ValueError, "NaN"),
    "inf in X": (lambda X, y: (np.where(X > 2, np.inf, X), y, None), ValueError, "infinity"),
    "NaN in y": (lambda X, y: (X, np.where(y > 1, np.nan, y), None), ValueError, "NaN"),
    "n of X and y": (lambda X, y: (X, y[:-1], None), ValueError, "different numbers"),
    "n of lengths": (lambda X, y: (X, y, np.full(3, 5)), ValueError, "one entry per sequence"),
    "lengths too long": (lambda X, y: (X, y, np.full(len(X), 6)), ValueError, r"\[1, 5\]"),
    "zero lengths": (lambda X, y: (X, y, np.zeros(len(X), int)), ValueError, r"\[1, 5\]"),
    "float lengths": (lambda X, y: (X, y, np.full(len(X), 2.5)), TypeError, "integers"),
    "features": (lambda X, y: (X[:, :, :1], y, None), ValueError, "1 features per time step"),
    "text": (lambda X, y: (np.full(X.shape, "a", object), y, None), ValueError, "convert"),
    "string dtype": (lambda X, y: (X.astype(str), y, None), ValueError, "strings"),
    "y 3d per sequence": (lambda X, y: (X, y[:, None, None], None), ValueError, "y must be"),
    # finite in float64, infinite in the model's float32: checked after the cast
    "X beyond float32": (lambda X, y: (np.where(X > 2, 1e39, X.astype(np.float64)), y, None),
                         ValueError, "beyond the range of float32"),
    "y beyond float32": (lambda X, y: (X, np.where(y > 1, -1e39, y.astype(float)), None),
                         ValueError, "beyond the range of float32"),
    "dates": (lambda X, y: (X.astype("datetime64[s]"), y, None), TypeError, "dates"),
    "durations": (lambda X, y: (X.astype("timedelta64[s]"), y, None), TypeError, "dates"),
    "complex": (lambda X, y: (X + 1j, y, None), ValueError, "Complex data not supported"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_names_the_problem_and_changes_nothing(case, data):
    X, y = data
    model = small().fit(X, y)
    before = model.state_dict()
    attrs = (model.n_iter_, list(model.loss_curve_), model.t_)
    make, error, message = BAD_INPUTS[case]
    Xb, yb, lengths = make(X, y)
    calls = [lambda: model.partial_fit(Xb, yb, lengths)]
    if case != "features":  # a new fit may change the number of features; it starts afresh
        calls.append(lambda: model.fit(Xb, yb, lengths))
    for call in calls:
        with pytest.raises(error, match=message):
            call()
        assert_same_state(model.state_dict(), before)
        assert (model.n_iter_, model.loss_curve_, model.t_) == attrs
    if case not in ("NaN in y", "n of X and y", "y 3d per sequence", "y beyond float32"):
        with pytest.raises(error, match=message):
            model.predict(Xb, lengths)


def test_missing_y_and_wrong_targets(data):
    X, y = data
    with pytest.raises(ValueError, match="y is None"):
        small().fit(X, None)
    model = small().fit(X, y)
    with pytest.raises(ValueError, match="2 targets"):
        model.partial_fit(X, np.c_[y, y])
    with pytest.raises(ValueError, match="return_sequences=True, y must be"):
        small(return_sequences=True).fit(X, y)


def test_unfitted_predict_raises(data):
    from sklearn.exceptions import NotFittedError
    with pytest.raises(NotFittedError):
        small().predict(data[0])


# --- divergence --------------------------------------------------------------------------


def test_divergence_restores_last_good_weights(data, device):
    X, y = data
    model = small(RNNRegressor, nonlinearity="relu", solver="sgd", learning_rate_init=1e12,
                  momentum=0.0, clip_norm=None, max_iter=50, device=device)
    with pytest.raises(TrainingDivergedError, match=r"epoch \d+, batch \d+") as info:
        model.fit(X, y * 1e3)
    err = info.value
    assert err.epoch >= 1 and err.batch >= 1
    assert all(np.isfinite(v).all() for v in model.state_dict().values())
    assert model.n_iter_ == err.epoch - 1
    # the restored weights are the last with a finite batch loss: the model still predicts
    assert np.isfinite(model.predict(X)).all()


# --- stopping, continuing, reproducing ---------------------------------------------------


def test_early_stopping_keeps_best_weights(data):
    X, y = data
    model = small(early_stopping=True, validation_fraction=0.25, max_iter=40,
                  n_iter_no_change=2, learning_rate_init=0.05)
    model.fit(X, y)
    assert model.best_loss_ is None
    assert len(model.validation_scores_) == model.n_iter_ == len(model.loss_curve_)
    assert model.best_validation_score_ == max(model.validation_scores_)
    _, valid = model._validation_split(X, y[:, None], np.full(len(X), 5), None)
    assert model._validation_score(*valid) == pytest.approx(model.best_validation_score_, abs=1e-12)


def test_early_stopping_keeps_best_weights_when_max_iter_ends_it(data, device):
    X, y = data
    model = small(early_stopping=True, validation_fraction=0.25, max_iter=6,
                  n_iter_no_change=50, learning_rate_init=0.3, device=device)
    model.fit(X, y)
    assert model.n_iter_ == 6
    _, valid = model._validation_split(X, y[:, None], np.full(len(X), 5), None)
    assert model._validation_score(*valid) == pytest.approx(model.best_validation_score_, abs=1e-12)


def test_tol_stops_training(data):
    X, y = data
    model = small(max_iter=100, n_iter_no_change=2, tol=1e9).fit(X, y)
    # as MLPRegressor: the first epoch improves on inf, the next three do not, and the count
    # must exceed n_iter_no_change
    assert model.n_iter_ == 4
    assert model.validation_scores_ is None and model.best_loss_ == min(model.loss_curve_)


def test_max_iter_warns(data):
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        small(max_iter=1, tol=0.0).fit(*data)


def test_partial_fit_and_warm_start_continue(data, device):
    X, y = data
    model = small(device=device)
    model.partial_fit(X, y)
    first = model.state_dict()
    model.partial_fit(X, y)
    assert model.n_iter_ == 2 and model.t_ == 2 * len(X) and len(model.loss_curve_) == 2
    assert not np.array_equal(first["rnn.weight_hh_l0"], model.state_dict()["rnn.weight_hh_l0"])

    warm = small(warm_start=True, max_iter=2, tol=0.0, device=device).fit(X, y)
    after_first = warm.state_dict()
    warm.fit(X, y)
    assert warm.n_iter_ == 4 and len(warm.loss_curve_) == 4
    cold = small(max_iter=2, tol=0.0, device=device).fit(X, y)
    assert_same_state(cold.state_dict(), after_first)
    cold.fit(X, y)  # without warm_start, fit starts afresh
    assert cold.n_iter_ == 2
    assert_same_state(cold.state_dict(), after_first)


def test_warm_start_rejects_changed_shape(data):
    X, y = data
    model = small(warm_start=True).fit(X, y)
    model.set_params(hidden_size=5)
    with pytest.raises(ValueError, match="warm_start=False"):
        model.fit(X, y)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_same_seed_and_threads_give_identical_weights(data, n_threads):
    X, y = data
    a = small(n_threads=n_threads, dropout=0.3, num_layers=2).fit(X, y).state_dict()
    b = small(n_threads=n_threads, dropout=0.3, num_layers=2).fit(X, y).state_dict()
    assert_same_state(a, b)
    c = small(n_threads=n_threads, random_state=1).fit(X, y).state_dict()
    assert not np.array_equal(a["rnn.weight_ih_l0"], c["rnn.weight_ih_l0"])


def test_verbose_prints_one_line_per_epoch(data, capsys, device):
    small(verbose=1, max_iter=3, tol=0.0, early_stopping=True, device=device).fit(*data)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("Epoch")]
    assert len(lines) == 3
    assert all("loss" in ln and "validation R2" in ln and ln.endswith(" s") for ln in lines)


# --- every device trains as the CPU does ------------------------------------------------

DEVICE_CASES = {
    "lstm-bidirectional-2-layers-dropout": (LSTMRegressor, dict(num_layers=2, bidirectional=True,
                                                                dropout=0.3, peephole=True)),
    "gru-per-step-lengths": (GRURegressor, dict(return_sequences=True, reset_after=False)),
    "rnn-sgd-nesterov-lengths": (RNNRegressor, dict(solver="sgd", momentum=0.9, nesterov=True)),
}


@pytest.mark.parametrize("case", list(DEVICE_CASES))
def test_fit_on_the_device_is_the_fit_on_the_cpu(case, device):
    """The same seed gives, on every device, the CPU's batches, dropout masks, loss curve and
    weights (float64, to rounding); also after a further partial_fit, which needs the
    optimizer state the fit left."""
    cls, params = DEVICE_CASES[case]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 3, 2))
    y = rng.standard_normal((5, 3, 2) if params.get("return_sequences") else (5, 2))
    lengths = np.array([3, 2, 1, 3, 2])
    common = dict(hidden_size=2, max_iter=2, batch_size=3, dtype="float64", random_state=0,
                  **params)
    cpu = cls(device="cpu", **common).fit(X, y, lengths)
    ours = cls(device=device, **common).fit(X, y, lengths)
    np.testing.assert_allclose(ours.loss_curve_, cpu.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(ours.params_, cpu.params_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.predict(X, lengths), cpu.predict(X, lengths), rtol=1e-9,
                               equal_nan=True)
    cpu.partial_fit(X, y, lengths)
    ours.partial_fit(X, y, lengths)
    np.testing.assert_allclose(ours.params_, cpu.params_, rtol=1e-9, atol=1e-12)
    # nothing of the device is pickled: the copy predicts on the CPU too
    restored = pickle.loads(pickle.dumps(ours)).set_params(device="cpu")
    np.testing.assert_allclose(restored.predict(X, lengths), ours.predict(X, lengths),
                               rtol=1e-9, equal_nan=True)


def test_float32_fit_on_the_device_is_the_fit_on_the_cpu(device):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((5, 3, 2)), rng.standard_normal(5)
    common = dict(hidden_size=3, max_iter=2, batch_size=3, random_state=1)
    cpu = LSTMRegressor(device="cpu", **common).fit(X, y)
    ours = LSTMRegressor(device=device, **common).fit(X, y)
    assert ours.params_.dtype == np.float32
    np.testing.assert_allclose(ours.predict(X), cpu.predict(X), rtol=1e-5, atol=1e-6)


# --- weights, saving, pickling, scikit-learn tools -----------------------------------------


def test_state_dict_round_trip_and_checks(data):
    X, y = data
    model = small(GRURegressor, num_layers=2, bidirectional=True, standardize=False).fit(X, y)
    sd = model.state_dict()
    assert list(sd)[:4] == ["rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0",
                            "rnn.bias_hh_l0"]
    assert list(sd)[-2:] == ["head.weight", "head.bias"]
    fresh = small(GRURegressor, num_layers=2, bidirectional=True).load_state_dict(sd)
    assert (fresh.n_features_in_, fresh.n_outputs_, fresh.n_iter_) == (2, 1, 0)
    np.testing.assert_array_equal(fresh.predict(X), model.predict(X))
    with pytest.raises(ValueError, match="missing"):
        small(GRURegressor).load_state_dict(sd)  # one layer, one direction: unexpected names
    broken = dict(sd, **{"rnn.weight_hh_l1": sd["rnn.weight_hh_l1"][:-1]})
    with pytest.raises(ValueError, match="rnn.weight_hh_l1 has shape"):
        model.load_state_dict(broken)
    with pytest.raises(ValueError, match="NaN"):
        model.load_state_dict(dict(sd, **{"head.bias": np.array([np.nan])}))
    assert_same_state(model.state_dict(), sd)  # failed loads left it as it was


def test_save_and_load_without_pickle(tmp_path, data):
    X, y = data
    model = small(LSTMRegressor, peephole=True, coupled=True, early_stopping=True,
                  validation_fraction=0.25).fit(X, y)
    path = tmp_path / "model.npz"
    model.save(path)
    with np.load(path, allow_pickle=False) as f:  # arrays and JSON bytes only
        assert all(f[k].dtype != object for k in f.files)
    loaded = numbarnn.load(path)
    assert type(loaded) is LSTMRegressor and loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    for attr in ("n_iter_", "t_", "loss_curve_", "validation_scores_", "best_validation_score_",
                 "n_features_in_", "n_outputs_"):
        assert getattr(loaded, attr) == getattr(model, attr), attr
    for attr in ("input_mean_", "input_scale_", "target_mean_", "target_scale_"):
        np.testing.assert_array_equal(getattr(loaded, attr), getattr(model, attr), err_msg=attr)
    small(standardize=False).fit(X, y).save(path)  # no scaling: all four null
    assert numbarnn.load(path).input_mean_ is None
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not a numbarnn estimator"):
        numbarnn.load(tmp_path / "other.npz")


def test_pickle_and_clone(data, device):
    X, y = data
    model = small(RNNRegressor, device=device).fit(X, y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))
    restored.partial_fit(X, y)  # and it can go on training
    # nothing of a device is pickled: the copy predicts on the CPU as well
    on_cpu = pickle.loads(pickle.dumps(model)).set_params(device="cpu")
    np.testing.assert_allclose(on_cpu.predict(X), model.predict(X), rtol=1e-5)
    assert clone(model).get_params() == model.get_params()
    assert not hasattr(clone(model), "n_iter_")


def test_pipeline_transformed_target_and_grid_search(data):
    X, y = data
    pipe = make_pipeline(SequenceScaler(), small(GRURegressor))
    reg = TransformedTargetRegressor(pipe, transformer=StandardScaler())
    reg.fit(X, y)
    assert reg.predict(X).shape == (24,)
    grid = GridSearchCV(small(), {"hidden_size": [2, 3]}, cv=2).fit(X, y)
    assert grid.best_params_["hidden_size"] in (2, 3)


def test_invalid_parameter_is_rejected_before_fitting(data):
    from sklearn.utils._param_validation import InvalidParameterError
    for bad in (dict(solver="rmsprop"), dict(hidden_size=0), dict(dropout=1.0),
                dict(device="gpu"), dict(clip_norm=-1.0)):
        with pytest.raises(InvalidParameterError):
            small(**bad).fit(*data)


def test_torch_modules_give_the_same_predictions(data):
    torch = pytest.importorskip("torch")
    X, y = data
    for cls, module in ((LSTMRegressor, torch.nn.LSTM), (GRURegressor, torch.nn.GRU),
                        (RNNRegressor, torch.nn.RNN)):
        model = small(cls, num_layers=2, bidirectional=True, dtype="float64",
                      standardize=False).fit(X, y)  # predict is the network's output

        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                # the class is used in the iteration that defines it
                self.rnn = module(2, 4, num_layers=2, bidirectional=True,  # noqa: B023
                                  batch_first=True, dtype=torch.float64)
                self.head = torch.nn.Linear(8, 1, dtype=torch.float64)

            def forward(self, x):
                h = self.rnn(x)[1]
                h = h[0] if isinstance(h, tuple) else h
                return self.head(torch.cat([h[-2], h[-1]], dim=1))[:, 0]

        net = Net()
        net.load_state_dict({k: torch.tensor(v) for k, v in model.state_dict().items()})
        expected = net(torch.tensor(X, dtype=torch.float64)).detach().numpy()
        np.testing.assert_allclose(model.predict(X.astype(np.float64)), expected, rtol=1e-10)
        # and back: torch weights into a fresh estimator
        back = small(cls, num_layers=2, bidirectional=True, dtype="float64")
        back.load_state_dict(net.state_dict())
        np.testing.assert_allclose(back.predict(X.astype(np.float64)), expected, rtol=1e-10)


def test_score_runs_on_n_threads(data, monkeypatch):
    """predict and score both apply the estimator's n_threads."""
    import numbarnn.threads
    X, y = data
    model = small(n_threads=1).fit(X, y)
    seen = []
    real = numbarnn.threads.limit
    monkeypatch.setattr("numbarnn.estimators.base.threads.limit",
                        lambda n: seen.append(n) or real(n))
    model.predict(X)
    model.score(X, y)
    assert seen == [1, 1]


def test_cuda_without_a_gpu_says_what_is_missing():
    from numba import cuda

    if cuda.is_available():
        pytest.skip("this machine has a usable GPU")
    X, y = np.zeros((4, 3, 1)), np.zeros(4)
    reg = LSTMRegressor(hidden_size=2, device="cuda")
    with pytest.raises(DeviceUnavailableError, match="numba-cuda|GPU"):
        reg.fit(X, y)
    assert not hasattr(reg, "n_iter_")
