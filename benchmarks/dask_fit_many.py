"""numbarnn.parallel.fit_many on one machine: 1 worker × all cores against one worker per core.

Fits one small LSTM per forecast horizon (1, 2, ... steps ahead) on windows of the bundled
sunspots series, the "one model per series or target" workload, three ways:

- a sequential loop in this process, each fit on all cores (``n_threads`` = cores);
- ``fit_many`` on ``local_cluster(n_workers=1)``: one fit at a time, on all cores;
- ``fit_many`` on ``local_cluster(n_workers=cores)``: one fit per core, one thread each.

Each way is warmed up first (Numba loads its cache in every process; cluster start-up is
timed apart), then timed ``--repeats`` times; the table shows the median and the speed-up
over the sequential loop. It writes ``benchmarks/results/dask-fit-many-<date>.txt``.
Run it on a quiet machine:

    python benchmarks/dask_fit_many.py [--models 8] [--epochs 50] [--repeats 3] [--quick]
"""

import argparse
import datetime
import platform
import statistics
import time
import warnings
from pathlib import Path


def make_datasets(n_models, lookback=24):
    """Standardised sunspot windows; dataset h predicts the value h steps after the window."""
    from numbarnn.datasets import load_sunspots
    from numbarnn.preprocessing import make_windows

    series = load_sunspots()
    series = (series - series.mean()) / series.std()
    X, y = make_windows(series, lookback, horizon=n_models)
    return [(X, y[:, h]) for h in range(n_models)]


def quiet():
    """Each fit ends at max_iter on purpose: silence scikit-learn's ConvergenceWarning."""
    from sklearn.exceptions import ConvergenceWarning

    warnings.filterwarnings("ignore", category=ConvergenceWarning)


def timed(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true",
                        help="check that the script runs: 4 models, 2 epochs, 1 repeat, no file")
    args = parser.parse_args()
    if args.quick:
        args.models, args.epochs, args.repeats = 4, 2, 1

    import numba
    from dask.system import CPU_COUNT
    from distributed import Client
    from sklearn.base import clone

    import numbarnn
    from numbarnn import LSTMRegressor
    from numbarnn.parallel import fit_many, local_cluster

    datasets = make_datasets(args.models)
    # a fixed number of epochs (no early stop), so every way does the same work
    estimator = LSTMRegressor(hidden_size=args.hidden, max_iter=args.epochs,
                              n_iter_no_change=args.epochs, random_state=0)

    def sequential():
        for X, y in datasets:
            clone(estimator).set_params(n_threads=CPU_COUNT).fit(X, y)

    quiet()
    rows = []
    sequential()  # warm-up
    rows.append(("sequential loop", 0, CPU_COUNT, 0.0, timed(sequential, args.repeats)))
    for n_workers in dict.fromkeys((1, CPU_COUNT)):
        start = time.perf_counter()
        with local_cluster(n_workers=n_workers, dashboard_address=":0") as cluster, \
                Client(cluster) as client:
            client.wait_for_workers(n_workers)
            startup = time.perf_counter() - start
            client.run(quiet)
            fit_many(estimator, datasets, client)  # warm-up
            times = timed(lambda: fit_many(estimator, datasets, client), args.repeats)
        rows.append((f"fit_many, {n_workers} worker(s)", n_workers,
                     max(1, CPU_COUNT // n_workers), startup, times))

    base = statistics.median(rows[0][4])
    n, T, d = datasets[0][0].shape
    lines = [
        f"# numbarnn.parallel.fit_many: {args.models} LSTMs (hidden {args.hidden}, "
        f"{args.epochs} epochs, batch 32) on sunspots windows (n={n}, T={T}, d={d}), "
        f"one per horizon",
        f"# {datetime.date.today().isoformat()}, {platform.processor() or platform.machine()}, "
        f"{CPU_COUNT} cores, numbarnn {numbarnn.__version__}, numba {numba.__version__}, "
        f"median of {args.repeats}; cluster start-up and warm-up not in the times",
        "",
        f"{'way':<26} {'workers':>7} {'threads/fit':>11} {'start-up s':>10} "
        f"{'median s':>9} {'min s':>7} {'speed-up':>8}",
    ]
    for name, workers, threads, startup, times in rows:
        median = statistics.median(times)
        lines.append(f"{name:<26} {workers or '-':>7} {threads:>11} "
                     f"{startup:>10.1f} {median:>9.2f} {min(times):>7.2f} {base / median:>7.2f}x")
    print("\n".join(lines))
    if not args.quick:
        out = (Path(__file__).parent / "results"
               / f"dask-fit-many-{datetime.date.today().isoformat()}.txt")
        out.write_text("\n".join(lines) + "\n")
        print(f"written to {out}")


if __name__ == "__main__":
    main()
