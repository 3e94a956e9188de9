"""Gradient flow and gate statistics, checked against finite differences and the reference."""

import subprocess
import sys

import numpy as np
import pytest

import reference
from conftest import CELLS, random_batch
from numbarnn import GRURegressor, LSTMRegressor, RecurrentNetwork, RNNRegressor
from numbarnn.diagnostics import (
    gate_statistics,
    gradient_flow,
    plot_gate_statistics,
    plot_gradient_flow,
    plot_loss_curves,
)


@pytest.mark.parametrize("name", ["rnn-tanh", "lstm-peephole", "lstm-coupled", "gru-reset-after",
                                  "gru-reset-before"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_state_gradients_match_perturbed_states(name, return_sequences, device):
    """dL/dh_t and dL/dc_t from BPTT equal finite differences of the loss when h_t or c_t
    is perturbed, in every layer and direction."""
    net = RecurrentNetwork(CELLS[name], 2, 3, output_size=2, num_layers=2, bidirectional=True,
                           return_sequences=return_sequences, device=device)
    params = net.init_params(0, np.float64)
    X, y, lengths = random_batch(3, B=3, T=5, D=2, k=2, return_sequences=return_sequences)
    y_ref = y.copy()
    states = {}
    net.loss_and_grad(params, X, y, lengths, state_grads=states)
    assert set(states) == {"l0", "l0_reverse", "l1", "l1_reverse"}
    eps = 1e-5
    for key, grads in states.items():
        for state, g in grads.items():
            for t, b in [(0, 0), (2, 1), (int(lengths[2]) - 1, 2), (4, 0)]:
                numerical = np.empty(3)
                for j in range(3):
                    delta = np.zeros(3)
                    delta[j] = eps
                    up = reference.loss(net, params, X, y_ref, lengths, (key, t, b, state, delta))
                    down = reference.loss(net, params, X, y_ref, lengths,
                                          (key, t, b, state, -delta))
                    numerical[j] = (up - down) / (2 * eps)
                np.testing.assert_allclose(g[t, b], numerical, rtol=1e-6, atol=1e-10,
                                           err_msg=f"{key} d{state} t={t} b={b}")
    assert "c" in states["l0"] if name.startswith("lstm") else "c" not in states["l0"]


@pytest.fixture(scope="module")
def fitted(device):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 6, 2))
    y = X[:, 0, 0] + X[:, -1, 1]
    return X, y, {cls: cls(hidden_size=5, max_iter=2, dtype="float64", random_state=0,
                           bidirectional=True, device=device).fit(X, y)
                  for cls in (RNNRegressor, LSTMRegressor, GRURegressor)}


def test_gradient_flow_averages_norms_over_valid_sequences(fitted):
    X, y, models = fitted
    lengths = np.r_[np.full(4, 6), np.full(4, 3)]
    for model in models.values():
        flow = gradient_flow(model, X, y, lengths)
        states = {}  # the network sees the standardised data it was trained on
        Xs = (X - model.input_mean_) / model.input_scale_
        ys = (y[:, None] - model.target_mean_) / model.target_scale_
        model.network_.loss_and_grad(model.params_, Xs, ys, lengths, state_grads=states)
        for key, grads in states.items():
            for state, g in grads.items():
                norms = np.linalg.norm(g, axis=2)
                expected = [norms[t, lengths > t].mean() for t in range(6)]
                np.testing.assert_allclose(flow[key][state], expected, rtol=1e-12)
    assert set(gradient_flow(models[LSTMRegressor], X, y)["l0"]) == {"h", "c"}


def test_plain_rnn_gradient_vanishes_over_time():
    """The textbook picture: with small recurrent weights a tanh RNN's gradient decays
    geometrically going back in time."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, 60, 1))
    model = RNNRegressor(hidden_size=8, max_iter=1, random_state=0).fit(X, X[:, -1, 0])
    flow = gradient_flow(model, X, X[:, -1, 0])["l0"]["h"]
    assert flow[0] < 1e-6 * flow[-1]
    assert np.all(np.diff(np.log(flow[:-5])) > 0)  # shrinking step after step going back


def test_gate_statistics_match_reference_gates(fitted):
    X, _, models = fitted
    stats = gate_statistics(models[LSTMRegressor], X)
    assert set(stats) == {"l0", "l0_reverse"} and set(stats["l0"]) == {"i", "f", "o"}
    assert set(gate_statistics(models[GRURegressor], X)["l0"]) == {"r", "z"}
    net, params = models[LSTMRegressor].network_, models[LSTMRegressor].params_
    views = net.layout.views(params)
    H = 5
    Xs = (X - models[LSTMRegressor].input_mean_) / models[LSTMRegressor].input_scale_
    a = (Xs @ views["weight_ih_l0"].T + views["bias_ih_l0"] + views["bias_hh_l0"])
    # at t = 0 h_{-1} = 0, so the forward gates are sigmoid(W_ih x_0 + b)
    f0 = reference.sigmoid(a[:, 0, H : 2 * H])
    assert stats["l0"]["f"]["mean"][0] == pytest.approx(f0.mean(), rel=1e-12)
    assert stats["l0"]["f"]["saturated"][0] == pytest.approx(((f0 < 0.05) | (f0 > 0.95)).mean())
    for gate in stats["l0"].values():
        assert gate["mean"].shape == (6,)
        assert np.all((0 <= gate["saturated"]) & (gate["saturated"] <= 1))
    with pytest.raises(ValueError, match="no gates"):
        gate_statistics(models[RNNRegressor], X)


def test_plots(fitted, tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    X, y, models = fitted
    ax = None
    for cls, model in models.items():
        ax = plot_gradient_flow(gradient_flow(model, X, y), ax=ax, label=cls.__name__)
    assert len(ax.lines) == 2 + 4 + 2  # RNN h x2 directions, LSTM h and c x2, GRU h x2
    ax2 = plot_gate_statistics(gate_statistics(models[LSTMRegressor], X), label="LSTM")
    assert len(ax2.lines) == 6
    ax3 = plot_loss_curves({c.__name__: m for c, m in models.items()})
    assert len(ax3.lines) == 3
    ax.figure.savefig(tmp_path / "flow.png")
    assert (tmp_path / "flow.png").stat().st_size > 1000


def test_importing_numbarnn_does_not_import_matplotlib():
    code = "import sys, numbarnn, numbarnn.diagnostics; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_relative_flow_at_initialisation_shows_which_cell_keeps_the_gradient():
    """On the adding problem (T = 100), before training: going back from the last step, the
    plain RNN's gradient fades fastest and the LSTM's cell state keeps the most, in that order
    (the picture the theory predicts); the curves end at 1."""
    from numbarnn.datasets import make_adding_problem

    X, y = make_adding_problem(64, 100, random_state=0)
    back = {}
    for cls in (RNNRegressor, LSTMRegressor, GRURegressor):
        model = cls(hidden_size=16, max_iter=1, random_state=0).fit(X, y)
        flow = gradient_flow(model, X, y, weights="initial", relative=True)["l0"]
        assert flow["h"][-1] == pytest.approx(1.0)
        back[cls] = flow["c" if cls is LSTMRegressor else "h"][-51]  # 50 steps back
        trained = gradient_flow(model, X, y, relative=True)["l0"]["h"]
        assert not np.allclose(trained, flow["h"])  # the fitted weights differ from the start
    assert back[RNNRegressor] < back[GRURegressor] < back[LSTMRegressor]
    assert back[RNNRegressor] < 1e-6


def test_initial_weights_are_those_the_fit_started_from():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 6, 2))
    y = X[:, 0, 0]
    start = LSTMRegressor(hidden_size=3, max_iter=1, random_state=0, learning_rate_init=1e-12,
                          clip_norm=None, solver="sgd", momentum=0.0).fit(X, y)
    moved = LSTMRegressor(hidden_size=3, max_iter=5, random_state=0).fit(X, y)
    np.testing.assert_allclose(gradient_flow(moved, X, y, weights="initial")["l0"]["c"],
                               gradient_flow(start, X, y)["l0"]["c"], rtol=1e-5)
    with pytest.raises(ValueError, match="weights must be"):
        gradient_flow(moved, X, y, weights="best")


def test_gate_statistics_per_unit(fitted):
    X, _, models = fitted
    stats = gate_statistics(models[GRURegressor], X)["l0"]["z"]
    assert stats["unit_mean"].shape == (5,)
    assert stats["above_0.9"] == np.mean(stats["unit_mean"] > 0.9)
    assert np.mean(stats["unit_mean"]) == pytest.approx(np.nanmean(stats["mean"]), rel=1e-12)


def test_diagnostics_take_classifiers_and_tokens():
    from numbarnn import LSTMClassifier

    rng = np.random.default_rng(0)
    X = rng.integers(0, 5, (12, 7))
    y = np.where(X[:, 0] > 2, "a", "b")
    model = LSTMClassifier(vocab_size=5, hidden_size=4, max_iter=2, random_state=0).fit(X, y)
    flow = gradient_flow(model, X, y, relative=True)["l0"]
    assert flow["c"].shape == (7,) and flow["c"][-1] == pytest.approx(1.0)
    assert gate_statistics(model, X)["l0"]["f"]["unit_mean"].shape == (4,)


def test_relative_flow_of_a_reverse_direction_starts_at_one(fitted):
    X, y, models = fitted
    lengths = np.full(len(X), 4)  # no sequence reaches the last step
    flow = gradient_flow(models[GRURegressor], X, y, lengths, relative=True)
    assert flow["l0_reverse"]["h"][0] == pytest.approx(1.0)
    assert flow["l0"]["h"][3] == pytest.approx(1.0) and np.isnan(flow["l0"]["h"][4:]).all()
