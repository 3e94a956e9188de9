"""Backprop through time against finite differences, in float64, for every cell and variant.

The differences are taken of the CPU network's loss, which must equal the loss on the
device under test: one device pass checks the device's gradient, however slow the device
(the CUDA simulator runs a Python thread per GPU thread)."""

import numpy as np
import pytest

from conftest import random_batch
from gradcheck import max_relative_error, numerical_gradient, step_for
from numbarnn import GRUCell, RecurrentNetwork

CONFIGS = {
    "one-layer": dict(num_layers=1, bidirectional=False, return_sequences=False, ragged=False),
    "stacked-bidirectional-lengths": dict(num_layers=2, bidirectional=True,
                                          return_sequences=False, ragged=True),
    "per-step-bidirectional-lengths": dict(num_layers=1, bidirectional=True,
                                           return_sequences=True, ragged=True),
    "per-step-stacked-lengths": dict(num_layers=2, bidirectional=False,
                                     return_sequences=True, ragged=True),
}


@pytest.mark.parametrize("config", list(CONFIGS), ids=list(CONFIGS))
def test_gradient_matches_finite_differences(cell, config, device):
    options = dict(CONFIGS[config])
    ragged = options.pop("ragged")
    net = RecurrentNetwork(cell, input_size=2, hidden_size=3, output_size=2, device=device,
                           **options)
    on_cpu = net.to("cpu")
    params = net.init_params(0, np.float64)
    X, y, lengths = random_batch(1, B=3, T=4, D=2, k=2,
                                 return_sequences=net.return_sequences, ragged=ragged)
    loss, grad = net.loss_and_grad(params, X, y, lengths)
    numerical = numerical_gradient(lambda p: on_cpu.loss_and_grad(p, X, y, lengths)[0], params,
                                   step_for(cell))
    assert np.isfinite(loss)
    assert loss == pytest.approx(on_cpu.loss_and_grad(params, X, y, lengths)[0], rel=1e-12)
    assert np.abs(grad).max() > 1e-3  # the check is not vacuous
    assert max_relative_error(grad, numerical) <= 1e-6


def test_gradient_with_dropout_matches_finite_differences(cell, device):
    """Between-layer dropout: the same seed gives the same masks, so the loss is differentiable."""
    net = RecurrentNetwork(cell, 2, 3, num_layers=3, dropout=0.4, device=device)
    on_cpu = net.to("cpu")
    params = net.init_params(0, np.float64)
    X, y, lengths = random_batch(2, B=3, T=4, D=2, k=1, return_sequences=False)

    def loss_and_grad(p, net=on_cpu):
        return net.loss_and_grad(p, X, y, lengths, dropout_rng=np.random.default_rng(7))

    loss, grad = loss_and_grad(params, net)
    assert loss == pytest.approx(loss_and_grad(params)[0], rel=1e-12)
    numerical = numerical_gradient(lambda p: loss_and_grad(p)[0], params, step_for(cell))
    assert max_relative_error(grad, numerical) <= 1e-6
    assert loss_and_grad(params)[0] != net.loss_and_grad(params, X, y, lengths)[0]


@pytest.mark.parametrize("return_sequences", [False, True])
def test_weighted_loss_gradient_matches_finite_differences(return_sequences, device):
    """Sample weights (per sequence, or per step) scale each output's share of the loss."""
    net = RecurrentNetwork(GRUCell(), 2, 3, output_size=2, bidirectional=True,
                           return_sequences=return_sequences, device=device)
    on_cpu = net.to("cpu")
    params = net.init_params(0, np.float64)
    X, y, lengths = random_batch(3, B=4, T=5, D=2, k=2, return_sequences=return_sequences)
    rng = np.random.default_rng(4)
    w = rng.uniform(0, 2, (4, 5) if return_sequences else 4)

    def loss_and_grad(p, net=on_cpu):
        return net.loss_and_grad(p, X, y, lengths, sample_weight=w)

    loss, grad = loss_and_grad(params, net)
    output = on_cpu.predict(params, X, lengths)
    if return_sequences:
        valid = np.arange(5)[None, :] < lengths[:, None]
        step = w * valid
        expected = np.sum(step[..., None] * (output - y) ** 2) / (step.sum() * 2)
    else:
        expected = np.sum(w[:, None] * (output - y) ** 2) / (w.sum() * 2)
    assert loss == pytest.approx(expected, rel=1e-12)
    assert loss != pytest.approx(on_cpu.loss_and_grad(params, X, y, lengths)[0], rel=1e-3)
    numerical = numerical_gradient(lambda p: loss_and_grad(p)[0], params, step_for(net.cell))
    assert max_relative_error(grad, numerical) <= 1e-6
