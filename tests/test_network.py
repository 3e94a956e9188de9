"""The network's forward pass, parameter layout and initialisation."""

import numpy as np
import pytest

import reference
from conftest import CELLS, random_batch
from numbarnn import GRUCell, LSTMCell, RecurrentNetwork, RNNCell
from numbarnn.backends import get
from numbarnn.backends.cpu import driver

cpu = get("cpu")


@pytest.mark.parametrize("return_sequences", [False, True])
def test_forward_matches_reference(cell, return_sequences, device):
    net = RecurrentNetwork(cell, 3, 4, output_size=2, num_layers=2, bidirectional=True,
                           return_sequences=return_sequences, device=device)
    params = net.init_params(3, np.float64)
    X, _, lengths = random_batch(4, B=4, T=5, D=3, k=2, return_sequences=return_sequences)
    expected = reference.forward(net, params, X, lengths)
    got = net.predict(params, X, lengths)
    valid = ~np.isnan(expected)
    assert valid.sum() > 0
    np.testing.assert_allclose(got[valid], expected[valid], rtol=1e-12, atol=1e-13)


def test_float32_matches_float64(cell, device):
    net = RecurrentNetwork(cell, 2, 8, num_layers=2, bidirectional=True, device=device)
    p64 = net.init_params(0, np.float64)
    X, y, lengths = random_batch(5, B=4, T=6, D=2, k=1, return_sequences=False)
    out64 = net.predict(p64, X, lengths)
    out32 = net.predict(p64.astype(np.float32), X.astype(np.float32), lengths)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, out64, rtol=1e-5, atol=1e-5)
    g64 = net.loss_and_grad(p64, X, y, lengths)[1]
    g32 = net.loss_and_grad(p64.astype(np.float32), X.astype(np.float32), y, lengths)[1]
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("reverse", [False, True])
def test_final_state_alone_is_the_final_state_of_the_full_run(cell, reverse):
    """Inference with final_only: the state after the last valid step (forward) or after
    step 0 (reverse) of every sequence, as the run that keeps every state gives it."""
    net = RecurrentNetwork(cell, 2, 5)
    w = net._direction_weights(net.layout.views(net.init_params(2)), 0, "")
    X, _, lengths = random_batch(7, B=5, T=6, D=2, k=1, return_sequences=False)
    x = np.ascontiguousarray(X.transpose(1, 0, 2), np.float32)
    lengths = lengths.astype(np.int64)
    hs, _ = cpu.direction_forward(cell, x, w, lengths, reverse, keep=False)
    final, cache = cpu.direction_forward(cell, x, w, lengths, reverse, keep=False, final_only=True)
    assert final.shape == (1, 5, 5) and cache is None
    np.testing.assert_array_equal(final[0], hs[0 if reverse else -1])
    with pytest.raises(ValueError, match="keep=False"):
        cpu.direction_forward(cell, x, w, lengths, reverse, final_only=True)


def test_each_pass_reads_the_parameters_it_is_given():
    """Another parameter array, or the same one changed in place, gives the output a fresh
    network computes from it."""
    net, fresh = (RecurrentNetwork(LSTMCell(), 2, 3) for _ in range(2))
    p1, p2 = net.init_params(0), net.init_params(1)
    X = np.random.default_rng(0).standard_normal((2, 4, 2)).astype(np.float32)
    for params in (p1, p2, p1):
        np.testing.assert_array_equal(net.predict(params, X), fresh.predict(params.copy(), X))
    p1 *= 0.5
    np.testing.assert_array_equal(net.predict(p1, X), fresh.predict(p1.copy(), X))
    with pytest.raises(ValueError, match="flat vector"):
        net.predict(p1[:-1], X)


def test_padded_steps_change_nothing(cell, device):
    """Values at padded steps affect neither the output nor the gradient."""
    net = RecurrentNetwork(cell, 2, 3, num_layers=2, bidirectional=True, return_sequences=True,
                           device=device)
    params = net.init_params(1, np.float64)
    X, y, lengths = random_batch(6, B=4, T=6, D=2, k=1, return_sequences=True)
    lengths[:] = [6, 2, 4, 1]
    X2, y2 = X.copy(), y.copy()
    for b, L in enumerate(lengths):
        X2[b, L:] = 1e3
        y2[b, L:] = -1e3
    loss, grad = net.loss_and_grad(params, X, y, lengths)
    loss2, grad2 = net.loss_and_grad(params, X2, y2, lengths)
    assert loss == pytest.approx(loss2, rel=1e-14)
    np.testing.assert_allclose(grad, grad2, rtol=1e-12, atol=1e-15)


def test_reusing_memory_gives_the_same_gradients(cell, device):
    """Inside reusing_memory a pass reuses the last pass's arrays, with the same results,
    also when the batch shape changes between passes; outside it nothing is kept."""
    net = RecurrentNetwork(cell, 2, 3, num_layers=2, bidirectional=True, device=device)
    params = net.init_params(1, np.float64)
    batches = [random_batch(seed, B=B, T=5, D=2, k=1, return_sequences=False)
               for seed, B in ((6, 4), (7, 4), (8, 3))]
    expected = [net.loss_and_grad(params, X, y, lengths) for X, y, lengths in batches]
    with net.reusing_memory():
        got = [net.loss_and_grad(params, X, y, lengths) for X, y, lengths in batches]
        states = [net.forward(params, *batches[0][::2])[1]["layers"][0].runs[0][0]
                  for _ in range(2)]
        assert states[0] is states[1]
    assert net._workspace is None
    for (loss, grad), (loss_r, grad_r) in zip(expected, got):
        assert loss_r == loss
        np.testing.assert_array_equal(grad_r, grad)


@pytest.mark.parametrize("n_blocks", [2, 3])
def test_rows_split_into_blocks_give_the_same_results(cell, n_blocks, monkeypatch):
    """The time loops split the batch into blocks of rows, one per thread; the outputs,
    gradients, state gradients and gate activations do not depend on the split (ragged
    lengths put padded and valid rows in one block)."""
    net = RecurrentNetwork(cell, 2, 3, num_layers=2, bidirectional=True)
    params = net.init_params(2, np.float64)
    X, y, lengths = random_batch(9, B=5, T=6, D=2, k=1, return_sequences=False)

    def run():
        states = {}
        loss, grad = net.loss_and_grad(params, X, y, lengths, state_grads=states)
        gates = net.gate_activations(net.forward(params, X, lengths)[1])
        return loss, grad, net.predict(params, X, lengths), states, gates

    monkeypatch.setattr(driver, "row_blocks", lambda n_rows: 1)
    expected = run()
    monkeypatch.setattr(driver, "row_blocks", lambda n_rows: min(n_blocks, n_rows))
    got = run()
    for a, b in zip(expected[:3], got[:3]):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-15)
    for part, want, have in (("states", expected[3], got[3]), ("gates", expected[4], got[4])):
        assert want.keys() == have.keys()
        for key in want:
            assert want[key].keys() == have[key].keys()
            for name in want[key]:
                np.testing.assert_allclose(have[key][name], want[key][name], rtol=1e-12,
                                           atol=1e-15, err_msg=f"{part} {key} {name}")


def test_parameter_names_and_shapes():
    net = RecurrentNetwork(LSTMCell(peephole=True), 5, 7, output_size=3, num_layers=2,
                           bidirectional=True)
    shapes = net.layout.shapes
    assert list(shapes)[:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                                "weight_ch_l0"]
    assert shapes["weight_ih_l0"] == (28, 5)
    assert shapes["weight_ih_l1_reverse"] == (28, 14)
    assert shapes["weight_ch_l1_reverse"] == (3, 7)
    assert shapes["head.weight"] == (3, 14)
    assert shapes["head.bias"] == (3,)
    assert net.layout.size == sum(int(np.prod(s)) for s in shapes.values())
    assert RecurrentNetwork(LSTMCell(coupled=True), 5, 7).layout.shapes["weight_hh_l0"] == (21, 7)
    assert RecurrentNetwork(LSTMCell(True, True), 5, 7).layout.shapes["weight_ch_l0"] == (2, 7)
    assert RecurrentNetwork(GRUCell(), 5, 7).layout.shapes["weight_ih_l0"] == (21, 5)
    assert RecurrentNetwork(RNNCell(), 5, 7).layout.shapes["weight_ih_l0"] == (7, 5)


def test_views_share_memory_with_flat_vector():
    net = RecurrentNetwork(GRUCell(), 2, 3)
    flat = net.init_params(0)
    views = net.layout.views(flat)
    views["bias_hh_l0"][...] = 42.0
    start = net.layout.offsets["bias_hh_l0"]
    assert np.all(flat[start : start + 9] == 42.0)
    assert flat.flags.c_contiguous and flat.dtype == np.float32
    with pytest.raises(ValueError, match="flat vector of"):
        net.layout.views(flat[:-1])


def test_init_is_seeded_and_uniform():
    net = RecurrentNetwork(LSTMCell(), 3, 16, num_layers=2)
    a, b = net.init_params(5), net.init_params(5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, net.init_params(6))
    for name, view in net.layout.views(a).items():
        if not name.startswith("head"):
            assert np.abs(view).max() <= 1 / np.sqrt(16) + 1e-7
            assert np.abs(view).max() > 0.5 / np.sqrt(16)


def test_orthogonal_recurrent_init():
    H = 6
    net = RecurrentNetwork(GRUCell(), 2, H, bidirectional=True)
    views = net.layout.views(net.init_params(0, np.float64, orthogonal=True))
    for name in ("weight_hh_l0", "weight_hh_l0_reverse"):
        for g in range(3):
            block = views[name][g * H : (g + 1) * H]
            np.testing.assert_allclose(block @ block.T, np.eye(H), atol=1e-12)


def test_forget_bias():
    H = 4
    net = RecurrentNetwork(LSTMCell(), 2, H)
    views = net.layout.views(net.init_params(0, forget_bias=1.0))
    np.testing.assert_array_equal(views["bias_ih_l0"][H : 2 * H], 1.0)
    np.testing.assert_array_equal(views["bias_hh_l0"][H : 2 * H], 0.0)
    assert np.all(views["bias_ih_l0"][:H] != 1.0)
    coupled = RecurrentNetwork(LSTMCell(coupled=True), 2, H)
    np.testing.assert_array_equal(
        coupled.layout.views(coupled.init_params(0, forget_bias=2.0))["bias_ih_l0"][:H], 2.0)
    with pytest.raises(ValueError, match="LSTM"):
        RecurrentNetwork(GRUCell(), 2, H).init_params(0, forget_bias=1.0)


def test_dropout_only_in_training_and_seeded():
    net = RecurrentNetwork(CELLS["lstm"], 2, 8, num_layers=2, dropout=0.5)
    params = net.init_params(0, np.float64)
    X, y, _ = random_batch(0, B=4, T=5, D=2, k=1, return_sequences=False)
    train = [net.forward(params, X, dropout_rng=np.random.default_rng(s))[0] for s in (1, 1, 2)]
    np.testing.assert_array_equal(train[0], train[1])
    assert not np.allclose(train[0], train[2])
    np.testing.assert_array_equal(net.predict(params, X), net.forward(params, X)[0])
    single = RecurrentNetwork(CELLS["lstm"], 2, 8, num_layers=1, dropout=0.5)
    p1 = single.init_params(0, np.float64)
    np.testing.assert_array_equal(single.predict(p1, X),
                                  single.forward(p1, X, dropout_rng=np.random.default_rng(1))[0])


def test_bad_lengths_are_rejected():
    net = RecurrentNetwork(RNNCell(), 1, 2)
    params = net.init_params(0)
    X = np.zeros((2, 3, 1), np.float32)
    with pytest.raises(ValueError, match=r"expected shape \(2,\)"):
        net.predict(params, X, [3])
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 3\]"):
        net.predict(params, X, [0, 3])
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 3\]"):
        net.predict(params, X, [4, 3])


def test_invalid_cell_options():
    with pytest.raises(ValueError, match="nonlinearity"):
        RNNCell("sigmoid")
