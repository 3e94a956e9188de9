"""The comparison demo and its command line, on settings far smaller than --quick."""

import subprocess
import sys

import numpy as np
import pytest

from numbarnn import cli, demo

TINY = ["--quick", "--epochs", "1", "--timesteps", "8", "--hidden-size", "3", "--no-torch"]


@pytest.fixture(scope="module")
def tiny_settings(tmp_path_factory):
    return demo.Settings(hidden_size=3, lookback=5, forecast_epochs=2, gunpoint_epochs=2,
                         reber_train=20, reber_test=10, reber_epochs=2, timesteps=8,
                         adding_train=64, adding_test=32, adding_epochs=2, torch=False,
                         out=str(tmp_path_factory.mktemp("demo")))


@pytest.fixture(scope="module")
def rows(tiny_settings):
    return demo.run(tiny_settings, echo=lambda *a: None)


def test_run_reports_what_it_measured(rows, tiny_settings):
    models = [r["model"] for r in rows]
    for cell in ("RNN", "LSTM", "GRU"):
        assert models.count(f"numbarnn {cell}") == 4  # every task
    assert models.count("persistence (last value)") == 1  # forecasting only
    assert models.count("training mean") == models.count("RidgeCV (flattened window)") == 2
    assert models.count("1-NN (Euclidean)") == models.count("bigram model") == 1
    for r in rows:
        if "rmse" in r:
            assert r["rmse"] == pytest.approx(np.sqrt(r["mse"]))
    assert all(r["epochs"] == 2 and np.isfinite(r["loss"]) for r in rows
               if r["model"].startswith("numbarnn"))

    # the training-mean row is recomputed from the same split, in the series' units
    task = demo.forecasting_task(tiny_settings)
    expected = np.sqrt(np.mean(((task.y_train.mean() - task.y_test) * task.y_scale) ** 2))
    assert rows[models.index("training mean")]["rmse"] == pytest.approx(expected)


def test_language_and_classification_rows_are_their_metrics(rows, tiny_settings):
    by_task = {}
    for r in rows:
        by_task.setdefault(r["task"], []).append(r)
    for r in by_task["GunPoint"]:
        assert 0 <= r["accuracy"] <= 1 and "rmse" not in r
    reber = by_task["embedded Reber grammar"]
    for r in reber:
        assert r["perplexity"] >= 1 and 0 <= r["long_range_accuracy"] <= 1
    # the bigram model knows the local grammar but never the long-range symbol better than
    # by its frequency; it beats the unigram model's perplexity
    unigram, bigram = (next(r for r in reber if r["model"] == f"{n} model")
                       for n in ("unigram", "bigram"))
    assert bigram["perplexity"] < unigram["perplexity"]
    task = demo.reber_task(tiny_settings)
    uniform = np.log(np.full((len(task.X_test), max(map(len, task.X_test)), demo.VOCAB),
                             1 / demo.VOCAB))
    uniform[np.arange(uniform.shape[1])[None, :] >= np.array([len(x) for x in
                                                               task.X_test])[:, None]] = np.nan
    assert demo._language_scores(task, uniform)["perplexity"] == pytest.approx(demo.VOCAB)


def test_rows_change_with_the_seed(tiny_settings):
    import dataclasses
    a = demo.fit_cells(demo.adding_task(tiny_settings), tiny_settings)[0]
    b = demo.fit_cells(demo.adding_task(dataclasses.replace(tiny_settings, seed=1)),
                       tiny_settings)[0]
    assert [r["mse"] for r in a] != [r["mse"] for r in b]


def test_torch_rows_train_the_same_tasks(tiny_settings):
    pytest.importorskip("torch")
    for task in (demo.gunpoint_task(tiny_settings), demo.reber_task(tiny_settings)):
        rows = demo.torch_rows(task, tiny_settings)
        assert [r["model"] for r in rows] == ["PyTorch RNN", "PyTorch LSTM", "PyTorch GRU"]
        assert all(r["epochs"] == 2 and np.isfinite(r["loss"]) for r in rows)


def test_cli_prints_the_table_and_writes_figures(tmp_path, capsys):
    assert cli.main(["demo", *TINY, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "test metric" in out and "numbarnn LSTM" in out and "adding problem (T=8)" in out
    assert "perplexity" in out and "accuracy" in out
    if "Figures skipped" not in out:
        names = {"loss_curves.png", "gradient_flow.png", "gate_statistics.png"}
        assert names <= {p.name for p in tmp_path.iterdir()}
        assert all((tmp_path / n).stat().st_size > 1000 for n in names)


def test_python_dash_m_entry_point():
    result = subprocess.run([sys.executable, "-m", "numbarnn", "demo", "--help"],
                            capture_output=True, text=True, check=True)
    assert "--quick" in result.stdout and "--seconds" in result.stdout
