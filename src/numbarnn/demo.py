"""The comparison demo: RNN, LSTM and GRU on a real series and on the adding problem.

Every cell gets the same hidden size, optimizer and budget (epochs, and optionally
seconds). The table reports what this run measured, next to baselines fitted on the
same split; figures show loss curves, gradient flow over time steps and gate activity.
"""

import dataclasses
import time
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from . import datasets, diagnostics
from .estimators import GRURegressor, LSTMRegressor, RNNRegressor
from .preprocessing import SequenceScaler, make_windows

CELLS = {"RNN": RNNRegressor, "LSTM": LSTMRegressor, "GRU": GRURegressor}


@dataclasses.dataclass
class Settings:
    """What the demo trains and for how long."""

    hidden_size: int = 32
    dataset: str = "sunspots"
    lookback: int = 20
    forecast_epochs: int = 150
    timesteps: int = 100
    adding_train: int = 5000
    adding_test: int = 1000
    adding_epochs: int = 20
    seconds: float | None = None
    learning_rate: float = 5e-3
    batch_size: int = 32
    seed: int = 0
    torch: bool = True
    out: str = "numbarnn-demo"


QUICK = dict(forecast_epochs=30, adding_train=2000, adding_test=500, adding_epochs=3)


@dataclasses.dataclass
class Task:
    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    epochs: int
    y_scale: float = 1.0
    y_mean: float = 0.0


def forecasting_task(settings):
    """Windows of a bundled series, scaled with statistics of the earlier 80 % only."""
    series = getattr(datasets, f"load_{settings.dataset}")()
    X, y = make_windows(series, settings.lookback)
    split = int(0.8 * len(X))  # chronological: test windows come after every training window
    scaler = SequenceScaler().fit(X[:split])
    mean, scale = scaler.mean_[0], scaler.scale_[0]
    return Task(f"{settings.dataset} (lookback {settings.lookback})", scaler.transform(X[:split]),
                (y[:split] - mean) / scale, scaler.transform(X[split:]), (y[split:] - mean) / scale,
                settings.forecast_epochs, scale, mean)


def adding_task(settings):
    X, y = datasets.make_adding_problem(settings.adding_train, settings.timesteps, settings.seed)
    Xt, yt = datasets.make_adding_problem(settings.adding_test, settings.timesteps,
                                          settings.seed + 1)
    return Task(f"adding problem (T={settings.timesteps})", X, y, Xt, yt, settings.adding_epochs)


def _row(task, model, parameters, epochs, seconds, prediction):
    error = (prediction - task.y_test) * task.y_scale
    return {"task": task.name, "model": model, "parameters": parameters, "epochs": epochs,
            "seconds": seconds, "rmse": float(np.sqrt(np.mean(error**2))),
            "mse": float(np.mean(error**2))}


def fit_cells(task, settings):
    """Fit each cell with the same budget; return table rows and the fitted models."""
    rows, models = [], {}
    for name, cls in CELLS.items():
        # the data is scaled above, for every model alike: PyTorch's cells see what these see
        model = cls(hidden_size=settings.hidden_size, learning_rate_init=settings.learning_rate,
                    batch_size=settings.batch_size, random_state=settings.seed,
                    standardize=False)
        # compile (or load from Numba's cache) before the clock starts: fit seconds are training
        clone(model).partial_fit(task.X_train[:2], task.y_train[:2]).predict(task.X_test[:2])
        start = time.perf_counter()
        for _ in range(task.epochs):
            model.partial_fit(task.X_train, task.y_train)
            if settings.seconds is not None and time.perf_counter() - start > settings.seconds:
                break
        seconds = time.perf_counter() - start
        models[name] = model
        rows.append(_row(task, f"numbarnn {name}", model.network_.layout.size, model.n_iter_,
                         seconds, model.predict(task.X_test)))
    return rows, models


def baselines(task, persistence=True):
    """Training mean, RidgeCV on the flattened window and (for forecasting) persistence."""
    rows = [_row(task, "training mean", 1, 0, 0.0, np.full(len(task.y_test), task.y_train.mean()))]
    flat = lambda X: X.reshape(len(X), -1)  # noqa: E731
    start = time.perf_counter()
    ridge = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
    ridge.fit(flat(task.X_train), task.y_train)
    rows.append(_row(task, "RidgeCV (flattened window)", flat(task.X_train).shape[1] + 1, 0,
                     time.perf_counter() - start, ridge.predict(flat(task.X_test))))
    if persistence:
        rows.append(_row(task, "persistence (last value)", 0, 0, 0.0, task.X_test[:, -1, 0]))
    return rows


def torch_rows(task, settings):
    """The same cells in PyTorch, with the same size, optimizer and budget (if installed)."""
    try:
        import torch
    except ImportError:
        return []
    rows = []
    X, y = torch.tensor(task.X_train, dtype=torch.float32), torch.tensor(task.y_train,
                                                                        dtype=torch.float32)
    for name, module in (("RNN", torch.nn.RNN), ("LSTM", torch.nn.LSTM), ("GRU", torch.nn.GRU)):
        torch.manual_seed(settings.seed)
        rnn = module(X.shape[2], settings.hidden_size, batch_first=True)
        head = torch.nn.Linear(settings.hidden_size, 1)
        params = list(rnn.parameters()) + list(head.parameters())
        optimizer = torch.optim.Adam(params, lr=settings.learning_rate)
        generator = torch.Generator().manual_seed(settings.seed)

        def predict(inputs, rnn=rnn, head=head):
            h = rnn(inputs)[1]
            return head((h[0] if isinstance(h, tuple) else h)[-1])[:, 0]

        start, epochs = time.perf_counter(), 0
        for epochs in range(1, task.epochs + 1):  # noqa: B007 (the count is read after)
            for idx in torch.randperm(len(X), generator=generator).split(settings.batch_size):
                optimizer.zero_grad()
                loss = torch.mean((predict(X[idx]) - y[idx]) ** 2)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
            if settings.seconds is not None and time.perf_counter() - start > settings.seconds:
                break
        seconds = time.perf_counter() - start
        with torch.no_grad():
            prediction = predict(torch.tensor(task.X_test, dtype=torch.float32)).numpy()
        rows.append(_row(task, f"PyTorch {name}", sum(p.numel() for p in params), epochs, seconds,
                         prediction))
    return rows


def format_table(rows):
    """The rows as one aligned text table."""
    header = ["task", "model", "parameters", "epochs", "fit s", "test RMSE", "test MSE"]
    cells = [[r["task"], r["model"], str(r["parameters"]), str(r["epochs"]), f"{r['seconds']:.1f}",
              f"{r['rmse']:.4g}", f"{r['mse']:.4g}"] for r in rows]
    widths = [max(len(c[i]) for c in [header] + cells) for i in range(len(header))]
    line = lambda c: "  ".join(s.ljust(w) for s, w in zip(c, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(c) for c in cells])


def figures(out, forecast_models, adding_models, adding):
    """Write loss curves, gradient flow and gate statistics as PNG files; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    diagnostics.plot_loss_curves(forecast_models, ax=axes[0]).set_title("forecasting (scaled)")
    diagnostics.plot_loss_curves(adding_models, ax=axes[1]).set_title(adding.name)
    paths.append(_save(fig, out / "loss_curves.png"))

    batch = slice(0, 256)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for ax, weights in zip(axes, ("initial", "fitted")):
        for name, model in adding_models.items():
            flow = diagnostics.gradient_flow(model, adding.X_test[batch], adding.y_test[batch],
                                             weights=weights, relative=True)
            diagnostics.plot_gradient_flow(flow, ax=ax, label=name)
        ax.set_title(f"{'at initialisation' if weights == 'initial' else 'after training'}, "
                     f"{adding.name}")
        ax.set_ylabel("||dL/dh_t|| / ||dL/dh_T||")
    paths.append(_save(fig, out / "gradient_flow.png"))

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, name in zip(axes, ("LSTM", "GRU")):
        stats = diagnostics.gate_statistics(adding_models[name], adding.X_test[batch])
        diagnostics.plot_gate_statistics(stats, ax=ax, label=name).set_title(f"{name} gates")
    paths.append(_save(fig, out / "gate_statistics.png"))
    return paths


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def run(settings, echo=print):
    """Run the demo; print the table and write the figures. Returns the table rows."""
    rows = []
    forecast = forecasting_task(settings)
    echo(f"Fitting RNN, LSTM and GRU (hidden size {settings.hidden_size}) on {forecast.name} ...")
    cell_rows, forecast_models = fit_cells(forecast, settings)
    rows += cell_rows + (torch_rows(forecast, settings) if settings.torch else [])
    rows += baselines(forecast)
    adding = adding_task(settings)
    echo(f"Fitting RNN, LSTM and GRU on the {adding.name} ...")
    cell_rows, adding_models = fit_cells(adding, settings)
    rows += cell_rows + (torch_rows(adding, settings) if settings.torch else [])
    rows += baselines(adding, persistence=False)
    echo("")
    echo(format_table(rows))
    try:
        paths = figures(Path(settings.out), forecast_models, adding_models, adding)
        echo(f"\nFigures: {', '.join(str(p) for p in paths)}")
    except ImportError:
        echo("\nFigures skipped: install matplotlib (pip install numbarnn[plot]).")
    return rows
