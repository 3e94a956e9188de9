"""device='cuda' end to end under the CUDA simulator, against device='cpu'.

Run by tests/test_cuda_simulator.py with NUMBA_ENABLE_CUDASIM=1; tiny shapes.
"""

import os
import pickle

import numpy as np
import pytest

if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
    pytest.skip("needs NUMBA_ENABLE_CUDASIM=1 (run through tests/test_cuda_simulator.py)",
                allow_module_level=True)

from numbarnn import GRURegressor, LSTMRegressor, RNNRegressor  # noqa: E402
from numbarnn.diagnostics import gate_statistics, gradient_flow  # noqa: E402
from numbarnn.exceptions import TrainingDivergedError  # noqa: E402


def _data(return_sequences, seed=0, n=5, T=3, d=2):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, T, d))
    y = rng.standard_normal((n, T, 2) if return_sequences else (n, 2))
    lengths = np.array([T, 2, 1, T, 2])[:n]
    return X, y, lengths


CASES = {
    "lstm-bidirectional-2-layers-dropout": (LSTMRegressor, dict(num_layers=2, bidirectional=True,
                                                                dropout=0.3, peephole=True)),
    "gru-per-step": (GRURegressor, dict(return_sequences=True, reset_after=False)),
    "rnn-sgd-nesterov": (RNNRegressor, dict(solver="sgd", momentum=0.9, nesterov=True)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_fit_and_predict_match_cpu(case):
    cls, params = CASES[case]
    X, y, lengths = _data(params.get("return_sequences", False))
    common = dict(hidden_size=2, max_iter=2, batch_size=3, dtype="float64", random_state=0,
                  **params)
    cpu = cls(device="cpu", **common).fit(X, y, lengths)
    gpu = cls(device="cuda", **common).fit(X, y, lengths)
    np.testing.assert_allclose(gpu.loss_curve_, cpu.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(gpu.params_, cpu.params_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gpu.predict(X, lengths), cpu.predict(X, lengths), rtol=1e-9,
                               equal_nan=True)
    # the optimizer's state came back to the host: a further epoch matches too
    cpu.partial_fit(X, y, lengths)
    gpu.partial_fit(X, y, lengths)
    np.testing.assert_allclose(gpu.params_, cpu.params_, rtol=1e-9, atol=1e-12)
    # nothing of the device is pickled: the copy predicts on the CPU too
    restored = pickle.loads(pickle.dumps(gpu)).set_params(device="cpu")
    np.testing.assert_allclose(restored.predict(X, lengths), gpu.predict(X, lengths), rtol=1e-9,
                               equal_nan=True)


def test_float32_matches_cpu():
    X, y, lengths = _data(False)
    common = dict(hidden_size=3, max_iter=2, batch_size=3, random_state=1)
    cpu = LSTMRegressor(device="cpu", **common).fit(X, y, lengths)
    gpu = LSTMRegressor(device="cuda", **common).fit(X, y, lengths)
    np.testing.assert_allclose(gpu.predict(X, lengths), cpu.predict(X, lengths), rtol=1e-5,
                               atol=1e-6)


def test_diagnostics_on_the_device():
    X, y, lengths = _data(False)
    common = dict(hidden_size=3, max_iter=1, dtype="float64", random_state=0)
    cpu = GRURegressor(device="cpu", **common).fit(X, y, lengths)
    gpu = GRURegressor(device="cuda", **common).fit(X, y, lengths)
    _assert_same(gradient_flow(gpu, X, y, lengths), gradient_flow(cpu, X, y, lengths))
    _assert_same(gate_statistics(gpu, X, lengths), gate_statistics(cpu, X, lengths))


def test_a_cuda_network_runs_no_cpu_pass(monkeypatch):
    """Every pass of a network on 'cuda' runs on the device's backend."""
    from numbarnn.backends.cpu import driver

    X, y, lengths = _data(False)
    model = GRURegressor(device="cuda", hidden_size=3, max_iter=1, dtype="float64",
                         random_state=0).fit(X, y, lengths)
    network = model.network_
    assert network.device == "cuda" and network.backend.name == "cuda"
    expected = network.loss_and_grad(model.params_, X, y, lengths)

    def no_cpu_pass(*args, **kwargs):
        raise AssertionError("a CPU pass ran")

    monkeypatch.setattr(driver, "direction_forward", no_cpu_pass)
    monkeypatch.setattr(driver, "direction_backward", no_cpu_pass)
    loss, grad = network.loss_and_grad(model.params_, X, y, lengths)
    assert loss == pytest.approx(expected[0], rel=1e-12)
    np.testing.assert_allclose(grad, expected[1], rtol=1e-10)
    assert network.predict(model.params_, X, lengths).shape == (len(X), 2)


def _assert_same(ours, expected):
    if isinstance(expected, dict):
        assert set(ours) == set(expected)
        for key in expected:
            _assert_same(ours[key], expected[key])
    else:
        np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-15)


def test_divergence_restores_the_last_good_weights():
    X, y, lengths = _data(False)
    y = y * 1e30
    reg = RNNRegressor(device="cuda", hidden_size=3, max_iter=5, batch_size=2, dtype="float64",
                       learning_rate_init=1e30, clip_norm=None, random_state=0, solver="sgd")
    with pytest.raises(TrainingDivergedError):
        reg.fit(X, y, lengths)
    assert np.all(np.isfinite(reg.params_))
