"""Hostile input, parameters and files: a clear ValueError or TypeError, or correct behaviour,
and a fitted estimator left bit-identical by anything that raised.

One test per way a promise was once broken, then Hypothesis properties over generated
arrays, parameters, state dicts and files.
"""

import copy
import io as stdlib_io
import json
import pickle
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.utils._param_validation import InvalidParameterError

import numbarnn
from numbarnn import GRURegressor, LSTMRegressor, RNNRegressor, TrainingDivergedError
from numbarnn.io import META

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def small(cls=LSTMRegressor, **kw):
    return cls(**{"hidden_size": 3, "max_iter": 2, "batch_size": 4, "random_state": 0, **kw})


def data(n=8, T=4, d=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, T, d)).astype(np.float32)
    return X, X[:, :, 0].sum(axis=1)


def snapshot(model):
    """Everything fitted, as bytes: weights, history, optimizer state, generator state."""
    state = {k: v for k, v in vars(model).items() if k not in model.get_params(deep=False)}
    state.pop("network_", None)
    return pickle.dumps(state), pickle.dumps(model.get_params(deep=False))


@pytest.fixture(scope="module")
def fitted():
    return small().fit(*data())


@pytest.fixture
def model(fitted):
    return copy.deepcopy(fitted)


# --- 1. values finite in float64, not in float32 --------------------------------------


def test_weights_beyond_float32_or_complex_are_refused(model):
    before = snapshot(model)
    sd = model.state_dict()
    for bad, error, message in ((1e39, ValueError, "beyond the range of float32"),
                                (np.nan, ValueError, "NaN"),
                                (1 + 1j, ValueError, "Complex data")):
        broken = dict(sd, **{"rnn.weight_hh_l0": sd["rnn.weight_hh_l0"].astype(float) * bad})
        with pytest.raises(error, match=message):
            model.load_state_dict(broken)
        assert snapshot(model) == before
    model.set_params(dtype="float64").load_state_dict(  # in float64 1e39 is a number
        dict(sd, **{"head.bias": np.full(sd["head.bias"].shape, 1e39)}))
    assert model.params_.dtype == np.float64


def test_a_file_with_weights_beyond_float32_is_refused(model, tmp_path):
    path = tmp_path / "m.npz"
    model.save(path)
    arrays, meta = _unzip(path)
    arrays["head.bias"] = np.full(arrays["head.bias"].shape, 1e39)  # float64 in the file
    _rezip(path, arrays, meta)
    with pytest.raises(ValueError, match="beyond the range of float32"):
        numbarnn.load(path)


# --- 2. load sets only what the format allows -----------------------------------------


@pytest.mark.parametrize("edit,message", [
    (lambda m: m["attributes"].update(_private=1), "the attributes must be"),
    (lambda m: m["attributes"].update(predict=1), "the attributes must be"),
    (lambda m: m["attributes"].update(__dict__={}), "the attributes must be"),
    (lambda m: m["params"].update(n_threads=0), "n_threads"),
    (lambda m: m["params"].update(hidden_size=True), "hidden_size"),
    (lambda m: m["params"].update(unknown=1), "unknown parameter"),
    (lambda m: m["params"].update(hidden_size=[3]), "not a number"),
    (lambda m: m.update(extra=1), "nothing else"),
    (lambda m: m.pop("attributes"), "must hold"),
    (lambda m: m.update(**{"class": "Pipeline"}), "unknown estimator class"),
    (lambda m: m["attributes"].update(n_iter_=-1), "n_iter_"),
    (lambda m: m["attributes"].update(n_iter_=5), "do not fit n_iter_"),
    (lambda m: m["attributes"].update(loss_curve_="ab"), "loss_curve_"),
    (lambda m: m["attributes"].update(y_ndim=3), "y_ndim"),
    (lambda m: m["attributes"].update(input_mean_=[0.0] * 7), "input_mean_ must be"),
    (lambda m: m["attributes"].update(target_scale_=[0.0]), "target_scale_ must be"),
    (lambda m: m["attributes"].update(target_mean_=None), "both given or both null"),
    (lambda m: m["attributes"].update(target_mean_=None, target_scale_=None),
     "all given or all null"),
    (lambda m: m["attributes"].update(input_scale_="ab"), "input_scale_"),
    (lambda m: m.update(format_version=99), "unsupported format"),
], ids=lambda x: x if isinstance(x, str) else "")
def test_load_refuses_metadata_outside_the_format(model, tmp_path, edit, message):
    path = tmp_path / "m.npz"
    model.save(path)
    arrays, meta = _unzip(path)
    edit(meta)
    _rezip(path, arrays, meta)
    with pytest.raises(ValueError, match=message):
        numbarnn.load(path)


# --- 3. NumPy scalars and generators as parameters --------------------------------------


def test_numpy_scalar_parameters_save_and_load(tmp_path):
    X, y = data()
    model = small(hidden_size=np.int64(3), learning_rate_init=np.float32(0.01),
                  early_stopping=np.bool_(False)).fit(X, y)
    model.save(tmp_path / "m.npz")
    loaded = numbarnn.load(tmp_path / "m.npz")
    assert loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_a_generator_random_state_is_saved_as_none_with_a_warning(tmp_path):
    model = small(random_state=np.random.RandomState(0)).fit(*data())
    with pytest.warns(UserWarning, match="random_state is a RandomState"):
        model.save(tmp_path / "m.npz")
    assert numbarnn.load(tmp_path / "m.npz").random_state is None


def test_a_parameter_json_cannot_hold_is_refused_before_writing(tmp_path):
    model = small().fit(*data())
    model.hidden_size = object()  # past set_params, as a user could
    with pytest.raises(TypeError, match="hidden_size"):
        model.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


# --- 4. a fit that fails after validation ---------------------------------------------


def test_a_failed_fit_leaves_the_fitted_estimator_as_it_was(model, monkeypatch):
    X, y = data()
    before, expected = snapshot(model), model.predict(X)
    with pytest.raises(InvalidParameterError, match="must be an int, not a bool"):
        model.set_params(hidden_size=True).fit(X, y)
    model.set_params(hidden_size=3)

    def out_of_memory(*args, **kwargs):
        raise MemoryError("no memory for the new weights")

    monkeypatch.setattr("numbarnn.network.RecurrentNetwork.init_params", out_of_memory)
    with pytest.raises(MemoryError):
        model.set_params(hidden_size=10**4).fit(X, y)
    with pytest.raises(ValueError, match="parameters, more than numbarnn's limit"):
        model.set_params(hidden_size=10**6).fit(X, y)
    model.set_params(hidden_size=3)
    assert snapshot(model) == before
    np.testing.assert_array_equal(model.predict(X), expected)


def test_an_error_inside_training_leaves_the_estimator_as_it_was(model, monkeypatch):
    X, y = data()
    before = snapshot(model)

    def fail(*args, **kwargs):
        raise RuntimeError("interrupted")

    monkeypatch.setattr("numbarnn.estimators.base._SequenceEstimator._update_no_improvement_count",
                        fail)
    with pytest.raises(RuntimeError, match="interrupted"):
        model.set_params(warm_start=True).fit(X, y)  # after one whole epoch
    assert snapshot(model)[0] == before[0]


# --- 5. forget_bias -------------------------------------------------------------------


@pytest.mark.parametrize("value,dtype", [(np.nan, "float32"), (np.inf, "float64"),
                                         (1e39, "float32")])
def test_forget_bias_must_be_finite_in_the_dtype(model, value, dtype):
    before = snapshot(model)
    with pytest.raises(InvalidParameterError, match="forget_bias"):
        model.set_params(forget_bias=value, dtype=dtype).fit(*data())
    assert snapshot(model)[0] == before[0]


# --- 6. ragged per-step targets -------------------------------------------------------


def test_ragged_y_must_have_the_lengths_of_x():
    rng = np.random.default_rng(0)
    seqs = [rng.standard_normal((L, 1)) for L in (3, 2, 4)]
    targets = [s[:, 0] for s in seqs]
    model = small(return_sequences=True, max_iter=1)
    model.fit(seqs, targets)  # the same lengths: fine
    with pytest.raises(ValueError, match=r"y\[1\] has 3 steps, X\[1\] 2"):
        model.fit(seqs, [targets[0], np.r_[targets[1], 0.0], targets[2]])
    X = np.zeros((3, 6, 1))  # X padded further than y's longest sequence
    assert model.fit(X, targets, [3, 2, 4]).predict(X, [3, 2, 4]).shape == (3, 6)


# --- 8. malformed files ---------------------------------------------------------------


def _unzip(path):
    with zipfile.ZipFile(path) as z:
        arrays = {n[:-4]: np.load(stdlib_io.BytesIO(z.read(n))) for n in z.namelist()}
    meta = json.loads(bytes(arrays.pop(META)).decode())
    return arrays, meta


def _rezip(path, arrays, meta):
    text = json.dumps(meta).encode()
    np.savez(path, **arrays, **{META: np.frombuffer(text, np.uint8)})


def _npy_header(shape, descr="<f4"):
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}"
    header = header.ljust(118) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode()


@pytest.mark.parametrize("content,message", [
    (b"", "not a zip archive"),
    (b"hello, I am a text file\n", "not a zip archive"),
    ("truncated", "not a zip archive|cannot be read|more than the file holds"),
    ("json list", "not a JSON object"),
    ("json broken", "not valid JSON"),
    ("8 TB member", "declares"),
    ("compressed", "is compressed"),
    ("pickled", "dtype object"),
    ("no metadata", "no __numbarnn__"),
])
def test_malformed_files_raise_value_error(model, tmp_path, content, message):
    path = tmp_path / "m.npz"
    model.save(path)
    raw = path.read_bytes()
    if content == "truncated":
        content = raw[: len(raw) // 2]
    elif content in ("json list", "json broken"):
        text = b"[1, 2]" if content == "json list" else b'{"format": '
        buffer = stdlib_io.BytesIO()
        np.savez(buffer, **{META: np.frombuffer(text, np.uint8)})
        content = buffer.getvalue()
    elif content == "8 TB member":
        buffer = stdlib_io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as z:
            z.writestr(f"{META}.npy", _npy_header((8 * 2**40,), "|u1"))
        content = buffer.getvalue()
    elif content == "compressed":
        arrays, meta = _unzip(path)
        buffer = stdlib_io.BytesIO()
        np.savez_compressed(buffer, **arrays, **{META: np.frombuffer(json.dumps(meta).encode(),
                                                                     np.uint8)})
        content = buffer.getvalue()
    elif content == "pickled":
        arrays, meta = _unzip(path)
        arrays["head.bias"] = np.array([None], object)
        buffer = stdlib_io.BytesIO()
        np.savez(buffer, **arrays, **{META: np.frombuffer(json.dumps(meta).encode(), np.uint8)})
        content = buffer.getvalue()
    elif content == "no metadata":
        buffer = stdlib_io.BytesIO()
        np.savez(buffer, a=np.zeros(3))
        content = buffer.getvalue()
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        numbarnn.load(path)


def test_load_reads_no_array_before_the_shapes_are_checked(model, tmp_path, monkeypatch):
    """A member whose header declares a shape the parameters do not give is refused from
    its header: its data is never decompressed."""
    path = tmp_path / "m.npz"
    model.save(path)
    arrays, meta = _unzip(path)
    arrays["rnn.weight_hh_l0"] = np.zeros((12, 300_000), np.float32)
    _rezip(path, arrays, meta)
    read = []
    real = numbarnn.io.Reader._data
    monkeypatch.setattr(numbarnn.io.Reader, "_data",
                        lambda self, name: read.append(name) or real(self, name))
    with pytest.raises(ValueError, match=r"rnn.weight_hh_l0 has shape \(12, 300000\)"):
        numbarnn.load(path)
    assert read == [META]


# --- 9. divergence in mid-epoch -------------------------------------------------------


def test_divergence_in_an_estimator_restores_its_optimizer(model):
    X, y = data()
    before_t = model._optimizer.t
    y = y.copy()
    y[4:] = 3e38  # finite, but the second batch's squared error is not
    with pytest.raises(TrainingDivergedError):
        model.set_params(shuffle=False).partial_fit(X, y)
    # the first batch's step was taken back with the weights it led to
    assert model._optimizer.t == before_t


# --- 10. parameters set after fit -----------------------------------------------------


def test_parameters_set_after_fit_are_checked_where_used(model):
    X, y = data()
    expected = model.predict(X)
    model.set_params(n_threads=1).predict(X)  # valid values are remembered; 1 is not True
    for name, value in (("n_threads", 0), ("device", "tpu"), ("n_threads", True),
                        ("device", ["cpu"]), ("n_threads", 1.0)):
        with pytest.raises(InvalidParameterError, match=name):
            model.set_params(**{name: value}).predict(X)
        model.set_params(**{name: small().get_params()[name]})
    model.set_params(hidden_size=True)  # used by the next fit, not by predict
    np.testing.assert_array_equal(model.predict(X), expected)
    model.set_params(hidden_size=3)
    # predict keeps the fitted network's output; continuing training needs the same network
    model.set_params(return_sequences=True)
    np.testing.assert_array_equal(model.predict(X), expected)
    with pytest.raises(ValueError, match="return_sequences changed since"):
        model.partial_fit(X, np.repeat(y[:, None], 4, axis=1))
    np.testing.assert_array_equal(model.predict(X), expected)


# --- properties -----------------------------------------------------------------------

FAST = settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture],
                deadline=None)
HOSTILE_FLOATS = st.sampled_from([0.0, -1.5, 1e-45, 3e38, 1e39, -1e39, 1e308, np.nan, np.inf,
                                  -np.inf])
DTYPES = st.sampled_from(["float16", "float32", "float64", "int8", "int64", "uint8", "bool",
                          "complex64", "datetime64[s]", "timedelta64[ms]", "U3", "object"])


@st.composite
def hostile_arrays(draw):
    ndim = draw(st.integers(0, 4))
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=ndim, max_size=ndim)))
    values = np.array(draw(st.lists(HOSTILE_FLOATS, min_size=int(np.prod(shape)),
                                    max_size=int(np.prod(shape)))), np.float64).reshape(shape)
    dtype = draw(DTYPES)
    with np.errstate(all="ignore"):
        if dtype == "object":
            a = values.astype(object)
            if a.size and draw(st.booleans()):
                a.flat[0] = "a"
        else:
            try:
                a = values.astype(dtype)
            except (ValueError, TypeError, OverflowError):
                a = values
    layout = draw(st.sampled_from(["C", "F", "reversed", "strided"]))
    if layout == "F":
        a = np.asfortranarray(a)
    elif layout == "reversed" and a.ndim:
        a = a[::-1]
    elif layout == "strided" and a.ndim:
        a = np.repeat(a, 2, axis=0)[::2]
    return a


ACCEPTED = (ValueError, TypeError)


@FAST
@given(X=hostile_arrays(), y=hostile_arrays(), lengths=st.none() | hostile_arrays())
def test_hostile_arrays(fitted, X, y, lengths):
    model = copy.deepcopy(fitted)
    before = snapshot(model)
    # inputs near float32's largest value may overflow inside the network: garbage in
    extreme = _has_extreme(X) or _has_extreme(y)
    try:
        out = model.predict(X, lengths)
    except ACCEPTED as err:
        assert str(err)
        assert snapshot(model) == before
    else:
        assert extreme or np.isfinite(out).all()
    try:
        model.partial_fit(X, y, lengths)
    except ACCEPTED as err:
        assert str(err)
        assert snapshot(model) == before
    except TrainingDivergedError:
        assert extreme
        assert np.isfinite(model.params_).all()


def _has_extreme(a):
    try:
        return bool(np.any(np.abs(np.asarray(a).astype(np.complex128)) > 1e30))
    except (TypeError, ValueError):
        return False


PARAMETERS = ["hidden_size", "num_layers", "batch_size", "max_iter", "learning_rate_init",
              "momentum", "weight_decay", "clip_norm", "tol", "n_iter_no_change", "dropout",
              "validation_fraction", "forget_bias", "n_threads", "device", "dtype", "solver",
              "early_stopping", "random_state", "shuffle"]
PARAMETER_VALUES = st.sampled_from([-1, 0, 1, 2, True, np.int64(2), np.float32(0.5), 0.5, 2.5,
                                    1e39, np.nan, np.inf, "2", "cpu", "float64", "sgd", None,
                                    [1], 10**12])


@FAST
@given(changes=st.dictionaries(st.sampled_from(PARAMETERS), PARAMETER_VALUES, max_size=3))
def test_hostile_parameters(fitted, changes):
    X, y = data()
    model = copy.deepcopy(fitted)
    before = snapshot(model)
    if changes.get("max_iter") == 10**12:
        del changes["max_iter"]  # a valid count of 10**12 epochs is no error, only long
    model.set_params(**changes)
    try:
        model.fit(X, y)
    except ACCEPTED as err:
        assert str(err)
        assert snapshot(model)[0] == before[0]
        return
    except TrainingDivergedError:  # a huge learning rate: the last good weights are kept
        pass
    assert np.isfinite(model.params_).all()
    assert np.isfinite(model.predict(X)).all()


@FAST
@given(state=st.dictionaries(st.sampled_from(["rnn.weight_ih_l0", "rnn.weight_hh_l0",
                                              "rnn.bias_ih_l0", "head.weight", "head.bias",
                                              "other", 3]),
                             hostile_arrays(), max_size=6))
def test_hostile_state_dicts(fitted, state):
    model = copy.deepcopy(fitted)
    before = snapshot(model)
    full = {**model.state_dict(), **state}
    for candidate in (state, full):
        try:
            model.load_state_dict(candidate)
        except ACCEPTED as err:
            assert str(err)
            assert snapshot(model) == before
        else:
            assert np.isfinite(model.params_).all()
            model = copy.deepcopy(fitted)


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "m.npz"
    fitted.save(path)
    return path.read_bytes()


@FAST
@given(data=st.data())
def test_hostile_files(fitted, saved, tmp_path, data):
    raw = bytearray(saved)
    for _ in range(data.draw(st.integers(1, 3))):
        kind = data.draw(st.sampled_from(["flip", "truncate", "insert", "meta"]))
        at = data.draw(st.integers(0, len(raw) - 1))
        if kind == "flip":
            raw[at] ^= data.draw(st.integers(1, 255))
        elif kind == "truncate":
            del raw[at:]
            if not raw:
                break
        elif kind == "insert":
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=8))
        else:
            arrays, meta = _unzip_bytes(saved)
            meta = data.draw(st.recursive(
                st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                lambda inner: st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=8)
                | st.just(dict(meta, attributes=dict(meta["attributes"], n_iter_=True))))
            buffer = stdlib_io.BytesIO()
            np.savez(buffer, **arrays, **{META: np.frombuffer(json.dumps(meta).encode(),
                                                              np.uint8)})
            raw = bytearray(buffer.getvalue())
    path = tmp_path / "h.npz"
    path.write_bytes(bytes(raw))
    try:
        loaded = numbarnn.load(path)
    except ValueError as err:
        assert str(err)
        return
    # a change the checksums and checks let through touched nothing that matters
    assert type(loaded) is type(fitted)
    for key, value in fitted.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[key], value)


def _unzip_bytes(raw):
    with zipfile.ZipFile(stdlib_io.BytesIO(raw)) as z:
        arrays = {n[:-4]: np.load(stdlib_io.BytesIO(z.read(n))) for n in z.namelist()}
    meta = json.loads(bytes(arrays.pop(META)).decode())
    return arrays, meta


def test_all_three_estimators_round_trip(tmp_path):
    X, y = data()
    for cls in (RNNRegressor, GRURegressor):
        model = small(cls, max_iter=1).fit(X, y)
        model.save(tmp_path / "m.npz")
        np.testing.assert_array_equal(numbarnn.load(tmp_path / "m.npz").predict(X),
                                      model.predict(X))


# --- a classifier's file ------------------------------------------------------------------


@pytest.mark.parametrize("edit, message", [
    (lambda a: a.pop("classes_"), "the attributes must be"),
    (lambda a: a.update(classes_=["a", "b"]), "3 different labels"),
    (lambda a: a.update(classes_=["c", "b", "a"]), "sorted"),
    (lambda a: a.update(classes_=["a", 1, "c"]), "of one type"),
    (lambda a: a.update(classes_=[[1], [2], [3]]), "classes_"),
    (lambda a: a.update(y_ndim=2), "y_ndim"),
    (lambda a: a.update(target_mean_=[0.0, 0.0, 0.0], target_scale_=[1.0, 1.0, 1.0]),
     "must be null"),
])
def test_load_refuses_a_classifier_file_with_bad_classes(tmp_path, edit, message):
    X = data()[0]
    y = np.array(["a", "b", "c"])[np.arange(len(X)) % 3]
    path = tmp_path / "c.npz"
    numbarnn.GRUClassifier(hidden_size=3, max_iter=2, random_state=0).fit(X, y).save(path)
    arrays, meta = _unzip(path)
    edit(meta["attributes"])
    _rezip(path, arrays, meta)
    with pytest.raises(ValueError, match=message):
        numbarnn.load(path)


def test_a_regressor_file_with_classes_is_refused(model, tmp_path):
    path = tmp_path / "m.npz"
    model.save(path)
    arrays, meta = _unzip(path)
    meta["attributes"]["classes_"] = [0, 1]
    _rezip(path, arrays, meta)
    with pytest.raises(ValueError, match="the attributes must be"):
        numbarnn.load(path)


def test_a_token_file_claiming_input_statistics_is_refused(tmp_path):
    X = np.arange(60).reshape(20, 3) % 5
    model = numbarnn.GRURegressor(vocab_size=5, hidden_size=3, max_iter=2, random_state=0)
    path = tmp_path / "t.npz"
    model.fit(X, np.arange(20.0)).save(path)
    arrays, meta = _unzip(path)
    meta["attributes"].update(input_mean_=[0.0] * 3, input_scale_=[1.0] * 3)
    _rezip(path, arrays, meta)
    with pytest.raises(ValueError, match="token ids are not scaled"):
        numbarnn.load(path)


def test_class_weight_dicts_are_saved_as_pairs_and_checked(tmp_path):
    X = data()[0]
    y = np.array([1, 2, 3])[np.arange(len(X)) % 3]
    path = tmp_path / "c.npz"
    model = numbarnn.GRUClassifier(hidden_size=3, max_iter=2, random_state=0,
                                   class_weight={2: 3.0, np.int64(3): 0.5}).fit(X, y)
    model.save(path)
    loaded = numbarnn.load(path)
    assert loaded.class_weight == {2: 3.0, 3: 0.5}
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    arrays, meta = _unzip(path)
    meta["params"]["class_weight"] = [[2, "heavy"]]
    _rezip(path, arrays, meta)
    with pytest.raises(ValueError, match=r"not a list of \[label, weight\] pairs"):
        numbarnn.load(path)


def test_a_classifier_state_dict_with_two_outputs_is_refused():
    state = numbarnn.GRUClassifier(hidden_size=3, max_iter=1, random_state=0).fit(
        data()[0], np.arange(len(data()[0])) % 3).state_dict()
    state["head.weight"], state["head.bias"] = state["head.weight"][:2], state["head.bias"][:2]
    with pytest.raises(ValueError, match="one output"):
        numbarnn.GRUClassifier(hidden_size=3).load_state_dict(state)
