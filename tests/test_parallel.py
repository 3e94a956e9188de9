"""numbarnn.parallel on a real Dask cluster of two worker processes: fit_many, its failures and
threads, GridSearchCV on joblib's Dask backend, prediction over dask arrays, pickling.

Tiny LSTMs in float32, a configuration the other tests compile already, so the workers load
Numba's cache instead of compiling."""

import io
import pickle
import subprocess
import sys

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from numbarnn import LSTMRegressor, TrainingDivergedError, parallel
from numbarnn.exceptions import FitManyError
from numbarnn.parallel import fit_many
from numbarnn.preprocessing import SequenceScaler

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")
CPU_COUNT = pytest.importorskip("dask.system").CPU_COUNT

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
THREADS_PER_TASK = max(1, CPU_COUNT // 2)  # two workers, one task each


def small(**kw):
    return LSTMRegressor(**{"hidden_size": 4, "max_iter": 2, "batch_size": 8, "random_state": 0,
                            **kw})


def dataset(seed):
    X = np.random.default_rng(seed).standard_normal((16, 5, 1)).astype(np.float32)
    return X, X[:, :, 0].sum(axis=1)


@pytest.fixture(scope="module")
def client():
    with parallel.local_cluster(n_workers=2, dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        yield client


def test_import_numbarnn_does_not_import_dask():
    code = ("import sys, numbarnn, numbarnn.parallel; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_fit_many_matches_sequential_fits_in_order(client):
    datasets = [dataset(seed) for seed in range(4)]
    models = fit_many(small(), datasets, client)
    assert len(models) == 4
    for model, (X, y) in zip(models, datasets):
        reference = small(n_threads=THREADS_PER_TASK).fit(X, y)
        np.testing.assert_array_equal(model.predict(X), reference.predict(X))
        assert model.n_iter_ == 2


def test_fit_many_takes_lengths_and_rejects_malformed_datasets(client):
    X, y = dataset(0)
    lengths = np.r_[np.full(8, 5), np.full(8, 3)]
    [model] = fit_many(small(), [(X, y, lengths)], client)
    reference = small(n_threads=THREADS_PER_TASK).fit(X, y, lengths)
    np.testing.assert_array_equal(model.predict(X, lengths), reference.predict(X, lengths))
    with pytest.raises(ValueError, match="dataset 1 has 1 items"):
        fit_many(small(), [(X, y), (X,)], client)
    assert fit_many(small(), [], client) == []


def test_failures_are_reported_per_dataset_after_the_others_succeed(client):
    datasets = [dataset(seed) for seed in range(4)]
    datasets[1] = (np.full((16, 5, 1), np.nan), datasets[1][1])  # invalid input
    datasets[2] = (datasets[2][0], datasets[2][1] * 1e20)  # the float32 loss overflows
    with pytest.raises(FitManyError, match="2 of 4 fits failed: dataset 1: ValueError") as info:
        fit_many(small(standardize=False), datasets, client)  # unscaled, 1e20 overflows
    errors, models = info.value.errors, info.value.estimators
    assert sorted(errors) == [1, 2]
    assert isinstance(errors[1], ValueError) and "NaN" in str(errors[1])
    assert isinstance(errors[2], TrainingDivergedError) and errors[2].epoch == 1
    assert models[1] is None and models[2] is None
    for i in (0, 3):
        X, y = datasets[i]
        alone = small(n_threads=THREADS_PER_TASK, standardize=False).fit(X, y)
        np.testing.assert_array_equal(models[i].predict(X), alone.predict(X))


def test_exceptions_pickle():
    diverged = pickle.loads(pickle.dumps(TrainingDivergedError(3, 4, float("inf"))))
    assert (diverged.epoch, diverged.batch, diverged.loss) == (3, 4, float("inf"))
    error = pickle.loads(pickle.dumps(FitManyError({1: ValueError("bad")}, ["model", None])))
    assert error.estimators == ["model", None] and str(error).startswith("1 of 2 fits failed")


def test_threads_never_oversubscribe_the_cores(client):
    def numba_threads_in_a_task():
        import numba
        return numba.config.NUMBA_NUM_THREADS, numba.get_num_threads()

    assert set(client.run(numba_threads_in_a_task).values()) == {(THREADS_PER_TASK,) * 2}
    assert client.submit(numba_threads_in_a_task, pure=False).result() == (THREADS_PER_TASK,) * 2
    # an explicit n_threads above the share is lowered to it, also inside a pipeline
    pipe = make_pipeline(SequenceScaler(), small(n_threads=64))
    [fitted] = fit_many(pipe, [dataset(0)], client)
    assert fitted[-1].n_threads == THREADS_PER_TASK
    assert pipe[-1].n_threads == 64 and not hasattr(pipe[-1], "n_iter_")  # the template untouched


def test_fit_many_without_client_starts_and_closes_its_own_cluster(monkeypatch):
    clusters, local_cluster = [], parallel.local_cluster

    def recording_local_cluster(*args, **kwargs):
        clusters.append(local_cluster(*args, **kwargs))
        return clusters[-1]

    monkeypatch.setattr(parallel, "local_cluster", recording_local_cluster)
    datasets = [dataset(seed) for seed in range(2)]
    models = fit_many(small(), datasets)
    assert len(clusters) == 1 and len(clusters[0].workers) == 0
    assert clusters[0].status.name == "closed"
    for model, (X, y) in zip(models, datasets):
        np.testing.assert_array_equal(model.predict(X),
                                      small(n_threads=model.n_threads).fit(X, y).predict(X))


def test_grid_search_on_joblibs_dask_backend_matches_sequential(client):
    X, y = dataset(0)
    grid = GridSearchCV(small(n_threads=1), {"learning_rate_init": [1e-3, 1e-2]}, cv=2)
    sequential = clone(grid).fit(X, y)
    with joblib.parallel_backend("dask"):
        grid.fit(X, y)
    assert grid.best_params_ == sequential.best_params_
    np.testing.assert_array_equal(grid.cv_results_["mean_test_score"],
                                  sequential.cv_results_["mean_test_score"])


@pytest.mark.parametrize("target", ["sequence", "step", "step-2-outputs"])
def test_dask_array_predict_equals_in_memory_predict(client, target):
    X, y = dataset(0)
    steps = np.cumsum(X[:, :, 0], axis=1)
    y = {"sequence": y, "step": steps, "step-2-outputs": np.stack([steps, -steps], axis=2)}[target]
    model = small(return_sequences=target != "sequence", n_threads=1).fit(X, y)  # as the workers
    rng = np.random.default_rng(1)
    X = rng.standard_normal((2100, 5, 1)).astype(np.float32)  # more than one predict batch
    lengths = rng.integers(1, 6, len(X))
    for Xd, Xn in ((da.from_array(X, chunks=(700, 2, 1)), X),  # chunks along T are merged
                   (da.from_array(X[:, :, 0], chunks=500), X[:, :, 0])):  # 2D: univariate
        for lens in (None, lengths, da.from_array(lengths, chunks=300)):
            pred = model.predict(Xd, lens)  # dispatches to numbarnn.parallel.predict
            expected = model.predict(Xn, None if lens is None else lengths)
            assert isinstance(pred, da.Array) and len(pred.chunks[0]) > 1
            assert pred.shape == expected.shape and pred.dtype == expected.dtype
            np.testing.assert_array_equal(pred.compute(), expected)  # local threads
            np.testing.assert_array_equal(client.compute(pred).result(), expected)  # the cluster
    with pytest.raises(ValueError, match="3D"):
        parallel.predict(model, da.zeros((4, 5, 1, 1)))
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        model.predict(da.from_array(X, chunks=700)[da.from_array(lengths, chunks=700) > 2])


class _RecordingUnpickler(pickle.Unpickler):
    def __init__(self, data):
        super().__init__(io.BytesIO(data))
        self.modules = set()

    def find_class(self, module, name):
        self.modules.add(module)
        return super().find_class(module, name)


def test_fitted_estimator_pickles_without_compiled_code(client):
    X, y = dataset(0)
    model = small(n_threads=1).fit(X, y)  # the workers' threads, for the same bits
    blob = pickle.dumps(model)
    unpickler = _RecordingUnpickler(blob)
    restored = unpickler.load()
    # weights, optimizer state and plain objects: no Numba dispatchers, no device arrays
    assert {m.split(".")[0] for m in unpickler.modules} <= {"numbarnn", "numpy", "builtins",
                                                           "collections", "copyreg"}
    assert len(blob) < 10_000
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))
    np.testing.assert_array_equal(client.submit(model.predict, X).result(), model.predict(X))
