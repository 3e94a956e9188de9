"""The CUDA backend's own paths against the CPU backend, under the CUDA simulator.

Run by tests/test_cuda_simulator.py in a separate process with NUMBA_ENABLE_CUDASIM=1
(it must be set before numba is imported), with every test that takes the ``device``
fixture; tiny shapes, since the simulator runs a Python thread per GPU thread. On a machine
with an NVIDIA GPU, ``NUMBARNN_TEST_CUDA=1 pytest -m device tests`` runs them on the GPU.
"""

import os

import numpy as np
import pytest

if "1" not in (os.environ.get("NUMBA_ENABLE_CUDASIM"), os.environ.get("NUMBARNN_TEST_CUDA")):
    pytest.skip("needs NUMBA_ENABLE_CUDASIM=1 (run through tests/test_cuda_simulator.py) or, "
                "on a GPU, NUMBARNN_TEST_CUDA=1", allow_module_level=True)

from numba import cuda  # noqa: E402

from numbarnn import GRUCell, GRURegressor, LSTMCell, RecurrentNetwork, RNNCell  # noqa: E402
from numbarnn.backends import get  # noqa: E402
from numbarnn.backends.cuda import products, recurrence  # noqa: E402

pytestmark = pytest.mark.device
cpu, gpu = get("cpu"), get("cuda")

CELLS = {
    "rnn-tanh": RNNCell("tanh"),
    "rnn-relu": RNNCell("relu"),
    "lstm": LSTMCell(),
    "lstm-peephole-coupled": LSTMCell(peephole=True, coupled=True),
    "lstm-peephole": LSTMCell(peephole=True),
    "gru-reset-after": GRUCell(reset_after=True),
    "gru-reset-before": GRUCell(reset_after=False),
}
TOLERANCE = {np.float64: 1e-10, np.float32: 1e-5}


def _direction_inputs(cell, dtype, seed, T=4, B=3, D=2, H=3):
    net = RecurrentNetwork(cell, D, H)
    views = net.layout.views(net.init_params(seed, dtype))
    w = {key: np.ascontiguousarray(views[f"{key}_l0"])
         for key in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_ch")
         if f"{key}_l0" in views}
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, B, D)).astype(dtype)
    dhs = rng.standard_normal((T, B, H)).astype(dtype)
    lengths = np.array([T, 2, 1][:B], np.int64)
    return x, w, dhs, lengths


def _close(ours, expected, dtype, what):
    scale = max(1.0, float(np.max(np.abs(expected))))
    err = float(np.max(np.abs(np.asarray(ours, np.float64) - expected))) / scale
    assert err < TOLERANCE[dtype], f"{what}: relative error {err:.3g}"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("name", list(CELLS))
def test_direction_matches_cpu(name, reverse, dtype):
    _check_direction(CELLS[name], name, reverse, dtype)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("name", list(CELLS))
def test_per_step_path_matches_cpu(name, reverse, monkeypatch):
    """The path for large H (a product for all rows, then one launch per step), forced."""
    monkeypatch.setattr(recurrence, "PER_STEP_HIDDEN", 1)
    _check_direction(CELLS[name], name, reverse, np.float64)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("name", list(CELLS))
def test_weights_from_global_memory_match_cpu(name, reverse, monkeypatch):
    """The persistent path without W_hh in shared memory (too large to fit), forced."""
    monkeypatch.setattr(recurrence, "SHARED_WEIGHTS_BYTES", 0)
    _check_direction(CELLS[name], name, reverse, np.float64)


def _check_direction(cell, name, reverse, dtype):
    x, w, dhs, lengths = _direction_inputs(cell, dtype, seed=len(name) + reverse)
    hs, cache = cpu.direction_forward(cell, x, w, lengths, reverse)
    dx, grads, states = cpu.direction_backward(cell, x, w, cache, dhs.copy(), lengths, reverse)

    dev = {key: cuda.to_device(value) for key, value in w.items()}
    d_lengths = cuda.to_device(lengths)
    d_x = cuda.to_device(x)
    d_hs, d_cache = gpu.direction_forward(cell, d_x, dev, d_lengths, reverse)
    _close(d_hs.copy_to_host(), hs, dtype, "hs")
    for gate, acts in gpu.gate_activations(cell, d_cache).items():
        _close(np.asarray(acts), cpu.gate_activations(cell, cache)[gate], dtype, f"gate {gate}")
    d_dx, d_grads, d_states = gpu.direction_backward(cell, d_x, dev, d_cache, cuda.to_device(dhs),
                                                     d_lengths, reverse)
    _close(d_dx.copy_to_host(), dx, dtype, "dx")
    assert set(d_grads) == set(grads)
    for key, g in grads.items():
        _close(d_grads[key].copy_to_host(), g, dtype, key)
    for key, g in states.items():
        _close(d_states[key].copy_to_host(), g, dtype, f"dL/d{key}")


@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_matmul_tiles_and_edges(trans_a, trans_b):
    rng = np.random.default_rng(0)
    M, K, N = 6, 9, 5  # not multiples of the tile
    a = rng.standard_normal((K, M) if trans_a else (M, K))
    b = rng.standard_normal((N, K) if trans_b else (K, N))
    out = products.matmul(cuda.to_device(a), cuda.to_device(b), trans_a, trans_b).copy_to_host()
    np.testing.assert_allclose(out, (a.T if trans_a else a) @ (b.T if trans_b else b), rtol=1e-12)


def test_column_sums_weighted():
    rng = np.random.default_rng(1)
    a, w = rng.standard_normal((7, 20)), rng.standard_normal((7, 20))
    np.testing.assert_allclose(products.column_sums(cuda.to_device(a)).copy_to_host(), a.sum(0))
    np.testing.assert_allclose(
        products.column_sums(cuda.to_device(a), cuda.to_device(w)).copy_to_host(), (a * w).sum(0))


def test_a_cuda_network_runs_no_cpu_pass(monkeypatch):
    """Every pass of a network on 'cuda' runs on the device's backend."""
    from numbarnn.backends.cpu import driver

    rng = np.random.default_rng(0)
    X, y, lengths = rng.standard_normal((5, 3, 2)), rng.standard_normal((5, 2)), [3, 2, 1, 3, 2]
    model = GRURegressor(device="cuda", hidden_size=3, max_iter=1, dtype="float64",
                         random_state=0).fit(X, y, lengths)
    network = model.network_
    assert network.device == "cuda" and network.backend.name == "cuda"
    expected = network.to("cpu").loss_and_grad(model.params_, X, y, lengths)

    def no_cpu_pass(*args, **kwargs):
        raise AssertionError("a CPU pass ran")

    monkeypatch.setattr(driver, "direction_forward", no_cpu_pass)
    monkeypatch.setattr(driver, "direction_backward", no_cpu_pass)
    loss, grad = network.loss_and_grad(model.params_, X, y, lengths)
    assert loss == pytest.approx(expected[0], rel=1e-12)
    np.testing.assert_allclose(grad, expected[1], rtol=1e-10)
    assert network.predict(model.params_, X, lengths).shape == (len(X), 2)


@pytest.mark.parametrize("name", ["lstm-peephole", "gru-reset-before", "rnn-relu"])
def test_no_kernel_reads_memory_it_did_not_write(name, monkeypatch):
    """Every new device array starts as NaN (uninitialised memory may hold any bits): the
    loss, gradient and output still match the CPU's."""
    real = cuda.device_array

    def poisoned(shape, dtype=np.float64, *args, **kwargs):
        a = real(shape, dtype, *args, **kwargs)
        if np.dtype(dtype).kind == "f":
            a.copy_to_device(np.full(a.shape, np.nan, dtype))
        return a

    monkeypatch.setattr(cuda, "device_array", poisoned)
    monkeypatch.setattr(cuda, "device_array_like", lambda a, *r, **k: poisoned(a.shape, a.dtype))
    net = RecurrentNetwork(CELLS[name], 2, 3, output_size=2, bidirectional=True,
                           return_sequences=True, device="cuda")
    params = net.init_params(0, np.float64)
    rng = np.random.default_rng(0)
    X, y, lengths = rng.standard_normal((3, 4, 2)), rng.standard_normal((3, 4, 2)), [4, 2, 1]
    expected = net.to("cpu").loss_and_grad(params, X, y, lengths)
    with net.reusing_memory():
        for _ in range(2):  # the second pass reuses the first one's arrays
            loss, grad = net.loss_and_grad(params, X, y, lengths)
            assert loss == pytest.approx(expected[0], rel=1e-12)
            np.testing.assert_allclose(grad, expected[1], rtol=1e-10, atol=1e-14)
    valid = np.arange(4)[None, :] < np.array(lengths)[:, None]
    np.testing.assert_allclose(net.predict(params, X, lengths)[valid],
                               net.to("cpu").predict(params, X, lengths)[valid], rtol=1e-10)
