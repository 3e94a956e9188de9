"""Beyond one machine with Dask: many fits on a cluster, prediction over dask arrays.

Needs the optional extra ``pip install "numbarnn[dask]"``; Dask is imported inside
these functions only, so ``import numbarnn`` never imports it.

Threads: a Dask worker runs tasks on its own threads, and each fit or predict
runs numbarnn's loops on Numba's threads. To keep Dask threads × Numba threads
within the cores, :func:`local_cluster` starts its workers with
``NUMBA_NUM_THREADS`` = cores // (workers × threads per worker), which caps every
task on them (:class:`~sklearn.model_selection.GridSearchCV` under joblib's Dask
backend included), and :func:`fit_many` sets each clone's ``n_threads`` to its
share of the cores on the host where it runs, on any cluster.
"""

import importlib
from collections import Counter

import numpy as np
from sklearn.base import clone

from .exceptions import FitManyError
from .network import PREDICT_CHUNK

__all__ = ["fit_many", "predict", "local_cluster"]


def _import(name):
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ImportError(f'numbarnn.parallel needs Dask ({name}): pip install "numbarnn[dask]"'
                          ) from exc


def _cpu_count():
    """Cores this process may use (affinity and container quotas respected)."""
    return _import("dask.system").CPU_COUNT


def local_cluster(n_workers=None, threads_per_worker=1, **kwargs):
    """A ``LocalCluster`` of worker processes whose Numba threads fit the cores.

    Each worker starts with ``NUMBA_NUM_THREADS`` = max(1, cores // (n_workers ×
    threads_per_worker)), so however many tasks run at once, and whatever their
    estimators' ``n_threads``, the threads never outnumber the cores.

    Parameters
    ----------
    n_workers : int, optional
        Worker processes (default: one per core).
    threads_per_worker : int, default=1
        Tasks each worker runs at once.
    **kwargs
        Passed to :class:`distributed.LocalCluster` (e.g. ``dashboard_address``).

    Returns
    -------
    distributed.LocalCluster
        Close it when done, or use it as a context manager.

    Examples
    --------
    >>> from distributed import Client
    >>> from numbarnn.parallel import local_cluster
    >>> with local_cluster(n_workers=2, dashboard_address=":0") as cluster:
    ...     with Client(cluster) as client:
    ...         print(len(cluster.workers), client.submit(sum, [1, 2, 3]).result())
    2 6

    :func:`fit_many` takes such a client, and starts a cluster like it without one.
    """
    distributed = _import("distributed")
    n_workers = n_workers or _cpu_count()
    numba_threads = max(1, _cpu_count() // (n_workers * threads_per_worker))
    return distributed.LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker,
                                    processes=True, env={"NUMBA_NUM_THREADS": str(numba_threads)},
                                    **kwargs)


def _numba_threads(client):
    """Numba threads per task on each worker: its host's cores over the Dask threads there."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    cores = client.run(_cpu_count)
    dask_threads = Counter()
    for worker in workers.values():
        dask_threads[worker["host"]] += worker["nthreads"]
    return {address: max(1, cores[address] // dask_threads[worker["host"]])
            for address, worker in workers.items() if address in cores}


def _fit_one(estimator, data, numba_threads):
    """On a worker: fit a clone of ``estimator`` on ``data`` with the worker's thread share."""
    threads = numba_threads.get(_import("distributed").get_worker().address, 1)
    estimator = clone(estimator)
    estimator.set_params(**{name: threads if value is None else min(value, threads)
                            for name, value in estimator.get_params().items()
                            if name == "n_threads" or name.endswith("__n_threads")})
    return estimator.fit(*data)


def fit_many(estimator, datasets, client=None):
    """Fit a clone of ``estimator`` on each dataset, in parallel on a Dask cluster.

    The datasets are scattered to the workers and each fit is one task. Every
    clone's ``n_threads`` (also inside a pipeline, ``<step>__n_threads``) is set to
    its share of the cores on the host that runs it, max(1, cores // Dask threads
    on that host), or kept if the estimator asks for fewer; the returned
    estimators keep that value, so refitting one reproduces its weights exactly.

    Parameters
    ----------
    estimator : estimator
        A numbarnn estimator, or any scikit-learn estimator (e.g. a pipeline
        ending in one); it is cloned, never fitted itself.
    datasets : sequence of tuple
        ``(X, y)`` or ``(X, y, lengths)`` for each model, passed to ``fit``.
    client : distributed.Client, optional
        The cluster to use. Default: a :func:`local_cluster` with one worker per
        core (at most one per dataset), closed before returning.

    Returns
    -------
    list of estimator
        The fitted clones, in the order of ``datasets``.

    Raises
    ------
    numbarnn.exceptions.FitManyError
        If any fit failed, once all have finished; its ``errors`` maps the index
        of each failed dataset to its exception, and ``estimators`` holds the
        successful fits (None for the failed ones).
    ValueError
        If a dataset is not a tuple of 2 or 3 items (before anything is fitted).

    Examples
    --------
    Two models, one per series, fitted at once on a cluster of local processes:

    >>> import numpy as np
    >>> from numbarnn import LSTMRegressor
    >>> from numbarnn.parallel import fit_many
    >>> rng = np.random.default_rng(0)
    >>> datasets = [(X, X[:, -1, 0]) for X in rng.standard_normal((2, 16, 8, 1))]
    >>> template = LSTMRegressor(hidden_size=4, max_iter=2, random_state=0)
    >>> models = fit_many(template, datasets)
    >>> [model.n_iter_ for model in models], hasattr(template, "n_iter_")
    ([2, 2], False)

    On a cluster of your own, pass its client: ``fit_many(template, datasets,
    client)``.
    """
    datasets = [tuple(data) for data in datasets]
    for i, data in enumerate(datasets):
        if len(data) not in (2, 3):
            raise ValueError(f"each dataset must be (X, y) or (X, y, lengths); dataset {i} has "
                             f"{len(data)} items")
    if not datasets:
        return []
    if client is None:
        distributed = _import("distributed")
        n_workers = min(len(datasets), _cpu_count())
        with local_cluster(n_workers, dashboard_address=":0") as cluster, \
                distributed.Client(cluster, set_as_default=False) as client:
            return fit_many(estimator, datasets, client)
    numba_threads = _numba_threads(client)
    futures = [client.submit(_fit_one, estimator, data, numba_threads, pure=False)
               for data in client.scatter(datasets)]
    estimators, errors = [], {}
    for i, future in enumerate(futures):
        try:
            estimators.append(future.result())
        except Exception as exc:  # any failure of one fit, reported below with its index
            estimators.append(None)
            errors[i] = exc
    if errors:
        raise FitManyError(errors, estimators)
    return estimators


def _aligned(chunks):
    """Chunks along n, near the given ones, whose bounds are multiples of ``PREDICT_CHUNK``.

    ``predict`` runs ``PREDICT_CHUNK`` sequences at a time, and BLAS may round a
    sequence's output differently in a batch of another size; blocks that start
    where in-memory ``predict``'s batches do give the same bits.
    """
    n = sum(chunks)
    bounds = np.round(np.cumsum(chunks) / PREDICT_CHUNK).astype(int) * PREDICT_CHUNK
    bounds = np.unique(np.r_[bounds[(bounds > 0) & (bounds < n)], n])
    return tuple(np.diff(bounds, prepend=0).tolist())


def predict(estimator, X, lengths=None):
    """Predict over a dask array, block by block along the sequences (``map_blocks``).

    Each block of sequences is predicted with ``estimator.predict`` where its
    chunk lives, so X never needs to fit in memory. The result is bit-identical
    to ``estimator.predict`` on the whole array in memory when both run on the
    same number of threads (set ``n_threads``; the workers of a
    :func:`local_cluster` may have fewer); otherwise a value can differ in the
    last bit, as in-memory predictions with different ``n_threads`` do. A
    fitted numbarnn estimator's own ``predict`` calls this for a dask array.

    Parameters
    ----------
    estimator : fitted estimator
        A numbarnn estimator, or a pipeline ending in one.
    X : dask.array.Array of shape (n, T, d) or (n, T)
        Sequences, chunked along n. Chunks along T and d are merged, and chunk
        bounds along n moved to the nearest multiple of 1024 (the batches of
        in-memory ``predict``).
    lengths : array-like or dask array of int, shape (n,), optional
        Valid steps per sequence.

    Returns
    -------
    dask.array.Array
        Lazy predictions of the shape and dtype ``estimator.predict`` gives,
        chunked along n as X after the move above; ``.compute()`` or store it.

    Raises
    ------
    ValueError
        If X is not 2D or 3D, or its chunk sizes are unknown.

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> from numbarnn import LSTMRegressor
    >>> from numbarnn.parallel import predict
    >>> X = np.random.default_rng(0).standard_normal((16, 8, 1))
    >>> model = LSTMRegressor(hidden_size=4, max_iter=2, random_state=0).fit(X, X[:, -1, 0])
    >>> windows = np.random.default_rng(1).standard_normal((3000, 8, 1))
    >>> lazy = predict(model, da.from_array(windows, chunks=(1000, -1, -1)))
    >>> lazy.shape, lazy.chunks[0]  # chunk bounds moved to multiples of 1024
    ((3000,), (1024, 1024, 952))
    >>> pred = lazy.compute(scheduler="synchronous")  # in this thread, block by block
    >>> bool(np.allclose(pred, model.predict(windows)))
    True

    A numbarnn estimator's ``predict`` does the same for a dask array:
    ``model.predict(da.from_array(windows, chunks=(1000, -1, -1)))``.
    """
    da = _import("dask.array")
    X = da.asarray(X)
    if X.ndim not in (2, 3):
        raise ValueError(f"X must be 3D (n, T, d) or 2D (n, T); got shape {X.shape}")
    if np.isnan(X.shape).any():
        raise ValueError("X has unknown chunk sizes; call X.compute_chunk_sizes() first")
    X = X.rechunk({0: _aligned(X.chunks[0]), **{axis: -1 for axis in range(1, X.ndim)}})
    blocks = [X]
    if lengths is not None:  # shaped (n, 1[, 1]) so its blocks line up with X's along n
        lengths = da.asarray(lengths).rechunk((X.chunks[0],))
        blocks.append(lengths.reshape((-1,) + (1,) * (X.ndim - 1)))

    def predict_block(X, lengths=None):
        if lengths is None:
            return estimator.predict(X)
        return estimator.predict(X, lengths=lengths.reshape(-1))

    # one zero sequence gives the shape after n and the dtype of the predictions
    sample = predict_block(np.zeros((1,) + X.shape[1:], X.dtype),
                           None if lengths is None else np.full(1, X.shape[1]))
    return da.map_blocks(predict_block, *blocks, dtype=sample.dtype,
                         chunks=(X.chunks[0],) + sample.shape[1:],
                         drop_axis=list(range(sample.ndim, X.ndim)),
                         new_axis=list(range(X.ndim, sample.ndim)),
                         meta=np.empty((0,) * sample.ndim, sample.dtype))
