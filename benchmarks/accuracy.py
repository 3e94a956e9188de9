"""Test accuracy on real data and long-range tasks: numbarnn's estimators with their
defaults against simple baselines and the same networks in a plain PyTorch loop.

Tasks: each bundled series as one-step-ahead forecasting from a window (the last 20 % of
the windows, in time order, are the test set), the adding problem and delayed recall.
A trending series (CO2) is forecast from its changes, ``make_windows(...,
difference=True)``, for every model alike; a one-step change's error equals the level's.
Models: RNN, LSTM and GRU with default parameters; RidgeCV and a random forest on the
flattened window, and the training mean; PyTorch's
``nn.RNN``/``nn.LSTM``/``nn.GRU`` with the same hidden size, Adam, learning rate, batch
size, clipping and ``max_iter`` epochs (no stopping), when torch is installed. numbarnn
gets the data as it is (its estimators standardise it, ``standardize=True``); PyTorch gets
inputs and targets standardised with training statistics. RMSE is reported in the target's units, as
mean ± sd over seeds, with fit seconds.

    python benchmarks/accuracy.py [--seeds 5] [--tasks sunspots adding ...]
        [--params '{"n_iter_no_change": 10}'] [--no-torch] [--json FILE]
"""

import argparse
import json
import time
import warnings

import numpy as np
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from numbarnn import GRURegressor, LSTMRegressor, RNNRegressor, datasets
from numbarnn.preprocessing import SequenceScaler, make_windows

CELLS = {"RNN": RNNRegressor, "LSTM": LSTMRegressor, "GRU": GRURegressor}
SERIES = {"sunspots": (20, False), "co2": (24, True), "elnino": (24, False),
          "nile": (10, False)}  # name: (lookback, forecast the changes)
LONG_RANGE = ("adding", "recall")


def make_task(name, seed):
    """(X_train, y_train, X_test, y_test) of a task; per-step targets for 'recall'."""
    if name in SERIES:
        lookback, difference = SERIES[name]
        X, y = make_windows(getattr(datasets, f"load_{name}")(), lookback,
                            difference=difference)
        split = int(0.8 * len(X))
        return X[:split], y[:split], X[split:], y[split:]
    if name == "adding":
        return (*datasets.make_adding_problem(1000, 50, seed),
                *datasets.make_adding_problem(500, 50, seed + 1000))
    return (*datasets.make_delayed_recall(1000, 30, 10, seed),
            *datasets.make_delayed_recall(500, 30, 10, seed + 1000))


def standardise(X_train, y_train, X_test):
    """Inputs scaled per feature and targets by the training statistics, and the inverse."""
    scaler = SequenceScaler().fit(X_train)
    mean, sd = float(np.mean(y_train)), float(np.std(y_train)) or 1.0
    return (scaler.transform(X_train), (y_train - mean) / sd, scaler.transform(X_test),
            lambda p: p * sd + mean)


def rmse(prediction, y):
    return float(np.sqrt(np.nanmean((np.asarray(prediction) - y) ** 2)))


def numbarnn_fits(task, seed, params):
    X, y, Xt, yt = task
    per_step = y.ndim == 2 and X.shape[1] == y.shape[1]
    rows = {}
    for name, cls in CELLS.items():
        model = cls(random_state=seed, return_sequences=per_step, **params)
        model.partial_fit(X[:2], y[:2]).predict(Xt[:2])  # compile (cached) off the clock
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, y)
        seconds = time.perf_counter() - start
        rows[f"numbarnn {name}"] = (rmse(model.predict(Xt), yt), seconds, model.n_iter_)
    return rows


def baseline_fits(task, seed):
    X, y, Xt, yt = task
    rows = {"training mean": (rmse(np.full_like(yt, y.mean()), yt), 0.0, 0)}
    if y.ndim == 2 and X.shape[1] == y.shape[1]:  # per step: no window baseline
        return rows
    flat = lambda a: a.reshape(len(a), -1)  # noqa: E731
    for name, model in (
            ("RidgeCV", make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))),
            ("random forest", RandomForestRegressor(random_state=seed, n_jobs=1))):
        start = time.perf_counter()
        model.fit(flat(X), y)
        rows[name] = (rmse(model.predict(flat(Xt)), yt), time.perf_counter() - start, 0)
    return rows


def torch_fits(task, seed, params):
    """The same networks in a plain PyTorch loop, for max_iter epochs."""
    import torch

    torch.set_num_threads(2)
    X, y, Xt, yt = task
    per_step = y.ndim == 2 and X.shape[1] == y.shape[1]
    Xs, ys, Xts, back = standardise(X, y, Xt)
    defaults = GRURegressor(**params)
    hidden, epochs, batch = defaults.hidden_size, defaults.max_iter, defaults.batch_size
    Xs, ys = torch.tensor(Xs, dtype=torch.float32), torch.tensor(ys, dtype=torch.float32)
    rows = {}
    for name, module in (("RNN", torch.nn.RNN), ("LSTM", torch.nn.LSTM), ("GRU", torch.nn.GRU)):
        torch.manual_seed(seed)
        rnn = module(X.shape[2], hidden, batch_first=True)
        head = torch.nn.Linear(hidden, 1)
        parameters = list(rnn.parameters()) + list(head.parameters())
        optimizer = torch.optim.Adam(parameters, lr=defaults.learning_rate_init)
        generator = torch.Generator().manual_seed(seed)

        def predict(inputs, rnn=rnn, head=head):
            out, h = rnn(inputs)
            if per_step:
                return head(out)[..., 0]
            return head((h[0] if isinstance(h, tuple) else h)[-1])[:, 0]

        start = time.perf_counter()
        for _ in range(epochs):
            for idx in torch.randperm(len(Xs), generator=generator).split(batch):
                optimizer.zero_grad()
                loss = torch.mean((predict(Xs[idx]) - ys[idx]) ** 2)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(parameters, 1.0)
                optimizer.step()
        seconds = time.perf_counter() - start
        with torch.no_grad():
            prediction = predict(torch.tensor(Xts, dtype=torch.float32)).numpy()
        rows[f"PyTorch {name}"] = (rmse(back(prediction), yt), seconds, epochs)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--tasks", nargs="+", default=[*SERIES, *LONG_RANGE])
    parser.add_argument("--params", default="{}", help="numbarnn parameters, as JSON")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--json", help="write every run's figures here")
    args = parser.parse_args()
    params = {"n_threads": 2, **json.loads(args.params)}
    try:
        import torch  # noqa: F401
        use_torch = not args.no_torch
    except ImportError:
        use_torch = False
    runs = []
    for task_name in args.tasks:
        for seed in range(args.seeds):
            task = make_task(task_name, seed)
            rows = {**numbarnn_fits(task, seed, params), **baseline_fits(task, seed)}
            if use_torch:
                rows.update(torch_fits(task, seed, params))
            runs += [dict(task=task_name, seed=seed, model=m, rmse=r, seconds=s, epochs=e)
                     for m, (r, s, e) in rows.items()]
            print(f"{task_name} seed {seed}: " + ", ".join(
                f"{m} {r:.4g}" for m, (r, _, _) in rows.items()), flush=True)
    print(f"\nnumbarnn parameters: {params}; {args.seeds} seeds\n")
    print("| task | model | test RMSE (mean ± sd) | fit s | epochs |")
    print("|---|---|---|---|---|")
    for task_name in args.tasks:
        models = dict.fromkeys(r["model"] for r in runs if r["task"] == task_name)
        for model in models:
            mine = [r for r in runs if r["task"] == task_name and r["model"] == model]
            errors = [r["rmse"] for r in mine]
            print(f"| {task_name} | {model} | {np.mean(errors):.4g} ± {np.std(errors):.2g} | "
                  f"{np.mean([r['seconds'] for r in mine]):.2f} | "
                  f"{np.mean([r['epochs'] for r in mine]):.0f} |")
    if args.json:
        import datetime
        import platform

        import numba

        import numbarnn
        meta = {"date": datetime.date.today().isoformat(), "machine": platform.processor()
                or platform.machine(), "numbarnn": numbarnn.__version__,
                "numba": numba.__version__, "seeds": args.seeds, "params": params,
                "torch": _torch_version() if use_torch else None}
        with open(args.json, "w") as f:
            json.dump({**meta, "runs": runs}, f, indent=1)


def _torch_version():
    import torch

    return torch.__version__


if __name__ == "__main__":
    main()
