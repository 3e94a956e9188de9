"""The comparison demo: RNN, LSTM and GRU side by side on the classic tasks.

Four tasks, each with its metric: forecasting a bundled real series (test RMSE),
classifying the UCR archive's GunPoint movements (accuracy), next-symbol prediction
on the embedded Reber grammar (perplexity, per-symbol accuracy, and accuracy at the
symbol that needs memory), and the adding problem (test RMSE). Every cell gets the
same hidden size, optimizer and budget (epochs, and optionally seconds); simple
baselines and, when it is installed, PyTorch's same cells with the same budget
share the table. Everything in it is measured in the run; figures show loss curves,
gradient flow over time steps (relative to the last step, at initialisation and
after training) and gate activity.
"""

import dataclasses
import time
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import RidgeClassifierCV, RidgeCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from . import datasets, diagnostics
from .estimators import (
    GRUClassifier,
    GRURegressor,
    LSTMClassifier,
    LSTMRegressor,
    RNNClassifier,
    RNNRegressor,
)
from .metrics import perplexity
from .preprocessing import SequenceScaler, make_windows

CELLS = {"RNN": (RNNRegressor, RNNClassifier), "LSTM": (LSTMRegressor, LSTMClassifier),
         "GRU": (GRURegressor, GRUClassifier)}
VOCAB = len(datasets.REBER_SYMBOLS)


@dataclasses.dataclass
class Settings:
    """What the demo trains and for how long."""

    hidden_size: int = 32
    dataset: str = "sunspots"
    lookback: int = 20
    forecast_epochs: int = 150
    gunpoint_epochs: int = 200
    reber_train: int = 1000
    reber_test: int = 500
    reber_epochs: int = 30
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


QUICK = dict(forecast_epochs=30, gunpoint_epochs=60, reber_train=400, reber_test=200,
             reber_epochs=10, adding_train=2000, adding_test=500, adding_epochs=3)


@dataclasses.dataclass
class Task:
    """A task's data (scaled where the metric allows), its kind and its epochs."""

    name: str
    kind: str  # 'regression', 'classification' or 'language'
    X_train: object
    y_train: object
    X_test: object
    y_test: object
    epochs: int
    y_scale: float = 1.0  #: the target's scale, to report errors in its units


def forecasting_task(settings):
    """Windows of a bundled series, scaled with statistics of the earlier 80 % only."""
    series = getattr(datasets, f"load_{settings.dataset}")()
    X, y = make_windows(series, settings.lookback)
    split = int(0.8 * len(X))  # chronological: test windows come after every training window
    scaler = SequenceScaler().fit(X[:split])
    mean, scale = scaler.mean_[0], scaler.scale_[0]
    return Task(f"{settings.dataset} (lookback {settings.lookback})", "regression",
                scaler.transform(X[:split]), (y[:split] - mean) / scale,
                scaler.transform(X[split:]), (y[split:] - mean) / scale,
                settings.forecast_epochs, scale)


def gunpoint_task(settings):
    """The archive's split of GunPoint, scaled with statistics of the training part."""
    X, y = datasets.load_gunpoint()
    X_test, y_test = datasets.load_gunpoint("test")
    scaler = SequenceScaler().fit(X)
    return Task("GunPoint", "classification", scaler.transform(X), y, scaler.transform(X_test),
                y_test, settings.gunpoint_epochs)


def reber_task(settings):
    X, y = datasets.make_embedded_reber(settings.reber_train, settings.seed)
    X_test, y_test = datasets.make_embedded_reber(settings.reber_test, settings.seed + 1)
    return Task("embedded Reber grammar", "language", X, y, X_test, y_test,
                settings.reber_epochs)


def adding_task(settings):
    X, y = datasets.make_adding_problem(settings.adding_train, settings.timesteps, settings.seed)
    Xt, yt = datasets.make_adding_problem(settings.adding_test, settings.timesteps,
                                          settings.seed + 1)
    return Task(f"adding problem (T={settings.timesteps})", "regression", X, y, Xt, yt,
                settings.adding_epochs)


# --- what a row reports --------------------------------------------------------------


def _row(task, model, parameters, epochs, seconds, loss, **scores):
    return {"task": task.name, "model": model, "parameters": parameters, "epochs": epochs,
            "seconds": seconds, "loss": loss, **scores}


def _regression_scores(task, prediction):
    error = (np.asarray(prediction) - task.y_test) * task.y_scale
    return {"rmse": float(np.sqrt(np.mean(error**2))), "mse": float(np.mean(error**2))}


def _language_scores(task, log_proba, classes=None):
    """Perplexity, per-symbol accuracy and accuracy at each string's second-to-last symbol
    (the one that needs memory), from log-probabilities (n, T, V) over ``classes`` (default:
    every symbol), NaN at padded steps."""
    classes = np.arange(VOCAB) if classes is None else classes
    predicted = [classes[np.nanargmax(lp[: len(y)], axis=1)] for lp, y in zip(log_proba,
                                                                               task.y_test)]
    return {"perplexity": perplexity(task.y_test, log_proba, classes),
            "accuracy": float(np.mean(np.concatenate([p == y for p, y in
                                                      zip(predicted, task.y_test)]))),
            "long_range_accuracy": float(np.mean([p[-2] == y[-2] for p, y in
                                                  zip(predicted, task.y_test)]))}


def _scores(task, model):
    """The task's metrics for a fitted numbarnn estimator."""
    if task.kind == "regression":
        return _regression_scores(task, model.predict(task.X_test))
    if task.kind == "classification":
        return {"accuracy": float(model.score(task.X_test, task.y_test))}
    return _language_scores(task, model.predict_log_proba(task.X_test), model.classes_)


def _estimator(cell, task, settings):
    regressor, classifier = CELLS[cell]
    common = dict(hidden_size=settings.hidden_size, learning_rate_init=settings.learning_rate,
                  batch_size=settings.batch_size, random_state=settings.seed, standardize=False)
    if task.kind == "regression":
        return regressor(**common)
    if task.kind == "classification":
        return classifier(**common)
    return classifier(vocab_size=VOCAB, return_sequences=True, **common)


def fit_cells(task, settings):
    """Fit each cell with the same budget; return table rows and the fitted models."""
    rows, models = [], {}
    classes = np.unique(np.concatenate(task.y_train) if task.kind == "language"
                        else task.y_train)
    extra = {} if task.kind == "regression" else {"classes": classes}
    for name in CELLS:
        # the data is scaled above, for every model alike: PyTorch's cells see what these see
        model = _estimator(name, task, settings)
        # compile (or load from Numba's cache) before the clock starts: fit seconds are training
        warm = clone(model).partial_fit(task.X_train[:2], task.y_train[:2], **extra)
        warm.predict(task.X_test[:2])
        start = time.perf_counter()
        for _ in range(task.epochs):
            model.partial_fit(task.X_train, task.y_train, **extra)
            if settings.seconds is not None and time.perf_counter() - start > settings.seconds:
                break
        seconds = time.perf_counter() - start
        models[name] = model
        rows.append(_row(task, f"numbarnn {name}", model.network_.layout.size, model.n_iter_,
                         seconds, model.loss_curve_[-1], **_scores(task, model)))
    return rows, models


# --- baselines ------------------------------------------------------------------------


def baselines(task, persistence=True):
    """Simple models on the same split: for regression the training mean, RidgeCV on the
    flattened window and (for forecasting) persistence; for classification 1-NN and a ridge
    classifier; for language the unigram and bigram models."""
    if task.kind == "classification":
        return _classification_baselines(task)
    if task.kind == "language":
        return _ngram_baselines(task)
    mean = np.full(len(task.y_test), task.y_train.mean())
    rows = [_row(task, "training mean", 1, 0, 0.0, None, **_regression_scores(task, mean))]
    flat = lambda X: X.reshape(len(X), -1)  # noqa: E731
    start = time.perf_counter()
    ridge = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
    ridge.fit(flat(task.X_train), task.y_train)
    rows.append(_row(task, "RidgeCV (flattened window)", flat(task.X_train).shape[1] + 1, 0,
                     time.perf_counter() - start, None,
                     **_regression_scores(task, ridge.predict(flat(task.X_test)))))
    if persistence:
        rows.append(_row(task, "persistence (last value)", 0, 0, 0.0, None,
                         **_regression_scores(task, task.X_test[:, -1, 0])))
    return rows


def _classification_baselines(task):
    flat = lambda X: X.reshape(len(X), -1)  # noqa: E731
    rows = []
    for name, model in (("1-NN (Euclidean)", KNeighborsClassifier(1)),
                        ("RidgeClassifierCV", RidgeClassifierCV(np.logspace(-3, 3, 13)))):
        start = time.perf_counter()
        model.fit(flat(task.X_train), task.y_train)
        rows.append(_row(task, name, 0, 0, time.perf_counter() - start, None,
                         accuracy=float(model.score(flat(task.X_test), task.y_test))))
    return rows


def _ngram_baselines(task):
    """Unigram and bigram models of the next symbol, with add-one smoothing."""
    counts = np.ones((VOCAB, VOCAB))
    for x, y in zip(task.X_train, task.y_train):
        np.add.at(counts, (x, y), 1)
    unigram = np.log(counts.sum(axis=0) / counts.sum())
    bigram = np.log(counts / counts.sum(axis=1, keepdims=True))
    rows = []
    for name, table in (("unigram", None), ("bigram", bigram)):
        log_proba = [np.tile(unigram, (len(x), 1)) if table is None else table[x]
                     for x in task.X_test]
        padded = np.full((len(log_proba), max(map(len, log_proba)), VOCAB), np.nan)
        for i, lp in enumerate(log_proba):
            padded[i, : len(lp)] = lp
        rows.append(_row(task, f"{name} model", VOCAB * (1 if table is None else VOCAB), 0, 0.0,
                         None, **_language_scores(task, padded)))
    return rows


# --- PyTorch ----------------------------------------------------------------------------


def torch_rows(task, settings):
    """The same cells in PyTorch, with the same size, optimizer and budget (if installed)."""
    try:
        import torch
    except ImportError:
        return []
    from ._torch_twins import fit_twin

    return [_row(task, f"PyTorch {name}", parameters, epochs, seconds, loss, **scores)
            for name, (parameters, epochs, seconds, loss, scores)
            in fit_twin(torch, task, settings, _regression_scores, _language_scores).items()]


METRICS = (("rmse", "RMSE {:.4g}"), ("accuracy", "accuracy {:.3f}"),
           ("perplexity", "perplexity {:.3f}"), ("long_range_accuracy", "long-range {:.2f}"))


def _metric(row):
    """A row's test metrics as text: RMSE for regression, accuracy for classification,
    perplexity, per-symbol and long-range accuracy for language."""
    keys = ("perplexity", "accuracy", "long_range_accuracy") if "perplexity" in row else (
        "rmse",) if "rmse" in row else ("accuracy",)
    return ", ".join(dict(METRICS)[k].format(row[k]) for k in keys)


def format_table(rows):
    """The rows as one aligned text table."""
    header = ["task", "model", "parameters", "epochs", "fit s", "final loss", "test metric"]
    cells = [[r["task"], r["model"], str(r["parameters"]), str(r["epochs"]), f"{r['seconds']:.1f}",
              "" if r["loss"] is None else f"{r['loss']:.4g}", _metric(r)] for r in rows]
    widths = [max(len(c[i]) for c in [header] + cells) for i in range(len(header))]
    line = lambda c: "  ".join(s.ljust(w) for s, w in zip(c, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(c) for c in cells])


def figures(out, models, adding):
    """Write loss curves, gradient flow and gate statistics as PNG files; return their paths.

    ``models`` maps each task's name to its fitted cells; the gradient flow and the gates
    are those of the adding problem's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    fig, axes = plt.subplots(1, len(models), figsize=(4 * len(models), 3.6))
    for ax, (name, fitted) in zip(np.atleast_1d(axes), models.items()):
        diagnostics.plot_loss_curves(fitted, ax=ax).set_title(name, fontsize="medium")
    paths.append(_save(fig, out / "loss_curves.png"))

    adding_models = models[adding.name]
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
    rows, models = [], {}
    tasks = [forecasting_task(settings), gunpoint_task(settings), reber_task(settings),
             adding_task(settings)]
    for task in tasks:
        echo(f"Fitting RNN, LSTM and GRU (hidden size {settings.hidden_size}) on {task.name} ...")
        cell_rows, models[task.name] = fit_cells(task, settings)
        rows += cell_rows + (torch_rows(task, settings) if settings.torch else [])
        rows += baselines(task, persistence=task is tasks[0])
    echo("")
    echo(format_table(rows))
    try:
        paths = figures(Path(settings.out), models, tasks[-1])
        echo(f"\nFigures: {', '.join(str(p) for p in paths)}")
    except ImportError:
        echo("\nFigures skipped: install matplotlib (pip install numbarnn[plot]).")
    return rows
