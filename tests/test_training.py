"""The epoch loop: batches, mean loss, and the divergence rule."""

import numpy as np
import pytest

from numbarnn import SGD, Adam, LSTMCell, RecurrentNetwork, TrainingDivergedError, training


def train_epoch(net, params, optimizer, data, *args, **kwargs):
    """One epoch of a fit, with the data on the network's backend for it."""
    with training.epochs(net, params, optimizer, data) as run_epoch:
        return run_epoch(*args, **kwargs)


@pytest.fixture
def setup(device):
    net = RecurrentNetwork(LSTMCell(), 1, 3, device=device)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 4, 1)).astype(np.float32)
    return net, (X, X.sum(axis=1), np.full(10, 4), None)  # X, y, lengths, weights


def test_mean_loss_is_weighted_by_batch_size(setup):
    net, data = setup
    params = net.init_params(0)
    before = params.copy()
    loss = train_epoch(net, params, SGD(lr=0.0), data, 4, np.random.default_rng(0), None, 1,
                       shuffle=False)
    X, y, lengths, _ = data
    expected = np.mean((net.predict(before, X, lengths) - y) ** 2)
    assert loss == pytest.approx(expected, rel=1e-5)
    np.testing.assert_array_equal(params, before)


def test_step_to_infinite_weights_restores_the_weights_before_it(setup):
    net, data = setup
    params = net.init_params(0)
    initial = params.copy()
    with pytest.raises(TrainingDivergedError, match="epoch 3, batch 1") as info:
        train_epoch(net, params, SGD(lr=1e300), data, 4, np.random.default_rng(0), None, 3)
    assert info.value.batch == 1
    np.testing.assert_array_equal(params, initial)


def test_nan_loss_restores_the_last_weights_with_a_finite_loss(setup):
    net, (X, y, lengths, _) = setup
    y = y.copy()
    y[5:] = np.nan  # with shuffle off, batch 1 (rows 0-4) is fine, batch 2 is not
    params = net.init_params(0)
    with pytest.raises(TrainingDivergedError, match="batch 2"):
        train_epoch(net, params, Adam(lr=0.1), (X, y, lengths, None), 5, np.random.default_rng(0),
                    1.0, 1, shuffle=False)
    # the weights after batch 1's step gave the NaN loss; those before it are restored
    np.testing.assert_array_equal(params, net.init_params(0))


def test_progress_is_reported_within_long_epochs(setup, monkeypatch):
    net, data = setup
    clock = iter(range(0, 10_000, 11))  # every reading is 11 s after the last
    monkeypatch.setattr("numbarnn.training.time.perf_counter", lambda: next(clock))
    calls = []
    train_epoch(net, net.init_params(0), Adam(), data, 2, np.random.default_rng(0), 1.0, 1,
                progress=lambda *a: calls.append(a))
    assert [c[:2] for c in calls] == [(b, 5) for b in range(1, 6)]
    assert all(np.isfinite(c[2]) for c in calls)


@pytest.mark.parametrize("solver", [Adam, SGD])
def test_divergence_sets_the_optimizer_back_with_the_weights(setup, solver):
    """After divergence the optimizer's state (Adam's m, v and t; SGD's momentum) is the
    one it had with the restored weights: training can go on as if the failing step had
    never been taken."""
    net, (X, y, lengths, _) = setup
    optimizer = solver(lr=0.01, momentum=0.9) if solver is SGD else solver(lr=0.01)
    params = net.init_params(0)
    train_epoch(net, params, optimizer, (X, y, lengths, None), 5, np.random.default_rng(0), 1.0, 1,
                shuffle=False)
    before = params.copy(), optimizer.t, [getattr(optimizer, n).copy()
                                          for n in optimizer.state_names]
    y = y.copy()
    y[5:] = np.nan  # batch 1 steps, then batch 2's loss is NaN: batch 1's step is undone
    with pytest.raises(TrainingDivergedError, match="epoch 2, batch 2"):
        train_epoch(net, params, optimizer, (X, y, lengths, None), 5, np.random.default_rng(0), 1.0,
                    2, shuffle=False)
    np.testing.assert_array_equal(params, before[0])
    assert optimizer.t == before[1] == 2
    for name, kept in zip(optimizer.state_names, before[2]):
        assert np.any(kept != 0)
        np.testing.assert_array_equal(getattr(optimizer, name), kept, err_msg=name)
