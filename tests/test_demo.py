"""The comparison demo and its command line, on settings far smaller than --quick."""

import subprocess
import sys

import numpy as np
import pytest

from numbarnn import cli, demo

TINY = ["--quick", "--epochs", "1", "--timesteps", "8", "--hidden-size", "3", "--no-torch"]


@pytest.fixture(scope="module")
def tiny_settings(tmp_path_factory):
    return demo.Settings(hidden_size=3, lookback=5, forecast_epochs=2, timesteps=8,
                         adding_train=64, adding_test=32, adding_epochs=2, torch=False,
                         out=str(tmp_path_factory.mktemp("demo")))


def test_run_reports_what_it_measured(tiny_settings):
    rows = demo.run(tiny_settings, echo=lambda *a: None)
    models = [r["model"] for r in rows]
    for cell in ("RNN", "LSTM", "GRU"):
        assert models.count(f"numbarnn {cell}") == 2  # both tasks
    assert models.count("persistence (last value)") == 1  # forecasting only
    assert models.count("training mean") == models.count("RidgeCV (flattened window)") == 2
    for r in rows:
        assert r["rmse"] == pytest.approx(np.sqrt(r["mse"]))
    assert all(r["epochs"] == 2 for r in rows if r["model"].startswith("numbarnn"))

    # the training-mean row is recomputed from the same split, in the series' units
    task = demo.forecasting_task(tiny_settings)
    expected = np.sqrt(np.mean(((task.y_train.mean() - task.y_test) * task.y_scale) ** 2))
    assert rows[models.index("training mean")]["rmse"] == pytest.approx(expected)


def test_rows_change_with_the_seed(tiny_settings):
    import dataclasses
    a = demo.fit_cells(demo.adding_task(tiny_settings), tiny_settings)[0]
    b = demo.fit_cells(demo.adding_task(dataclasses.replace(tiny_settings, seed=1)),
                       tiny_settings)[0]
    assert [r["mse"] for r in a] != [r["mse"] for r in b]


def test_cli_prints_the_table_and_writes_figures(tmp_path, capsys):
    assert cli.main(["demo", *TINY, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "test RMSE" in out and "numbarnn LSTM" in out and "adding problem (T=8)" in out
    if "Figures skipped" not in out:
        names = {"loss_curves.png", "gradient_flow.png", "gate_statistics.png"}
        assert names <= {p.name for p in tmp_path.iterdir()}
        assert all((tmp_path / n).stat().st_size > 1000 for n in names)


def test_python_dash_m_entry_point():
    result = subprocess.run([sys.executable, "-m", "numbarnn", "demo", "--help"],
                            capture_output=True, text=True, check=True)
    assert "--quick" in result.stdout and "--seconds" in result.stdout
