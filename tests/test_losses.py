"""The classification losses: gradients against finite differences in float64, the formulas,
extreme logits, and bad class indices. (Against PyTorch: tests/test_torch.py.)"""

import numpy as np
import pytest

from conftest import random_batch
from gradcheck import max_relative_error, numerical_gradient
from numbarnn import GRUCell, LSTMCell, RecurrentNetwork

CLASSES = 3


def classification_batch(loss, seed, B, T, return_sequences):
    """Inputs, targets and lengths for ``loss``: class indices (B[, T], 1) for
    cross-entropy, values in [0, 1] (B[, T], k) for binary cross-entropy."""
    X, _, lengths = random_batch(seed, B=B, T=T, D=2, k=1, return_sequences=False)
    rng = np.random.default_rng(seed + 100)
    shape = (B, T) if return_sequences else (B,)
    if loss == "cross_entropy":
        y = rng.integers(0, CLASSES, shape + (1,)).astype(float)
    else:
        y = rng.uniform(0, 1, shape + (CLASSES,))
    return X, y, lengths


def log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def expected_loss(loss, output, y, weight):
    """The weighted mean loss over rows of weight ``weight`` (..., 1), in NumPy."""
    if loss == "cross_entropy":
        rows = -np.take_along_axis(log_softmax(output), y.astype(int), axis=-1)
        return float(np.sum(weight * rows) / weight.sum())
    values = np.logaddexp(0, output) - output * y
    return float(np.sum(weight * values) / (weight.sum() * output.shape[-1]))


@pytest.mark.parametrize("loss", ["cross_entropy", "binary_cross_entropy"])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_classification_loss_gradient_matches_finite_differences(loss, return_sequences,
                                                                 weighted, device):
    net = RecurrentNetwork(GRUCell(), 2, 3, output_size=CLASSES, bidirectional=True,
                           return_sequences=return_sequences, device=device, loss=loss)
    on_cpu = net.to("cpu")
    params = net.init_params(0, np.float64)
    X, y, lengths = classification_batch(loss, 1, B=4, T=5, return_sequences=return_sequences)
    w = np.random.default_rng(2).uniform(0, 2, (4, 5) if return_sequences else 4)
    w = w if weighted else None

    loss_value, grad = net.loss_and_grad(params, X, y, lengths, sample_weight=w)
    cpu_loss, _ = on_cpu.loss_and_grad(params, X, y, lengths, sample_weight=w)
    output = on_cpu.predict(params, X, lengths)
    weight = np.ones(output.shape[:-1] + (1,)) if w is None else w[..., None]
    if return_sequences:
        weight = weight * (np.arange(5)[None, :] < lengths[:, None])[..., None]
    assert loss_value == pytest.approx(expected_loss(loss, output, y, weight), rel=1e-12)
    assert loss_value == pytest.approx(cpu_loss, rel=1e-12)
    numerical = numerical_gradient(
        lambda p: on_cpu.loss_and_grad(p, X, y, lengths, sample_weight=w)[0], params, 1e-3)
    assert np.abs(grad).max() > 1e-3
    assert max_relative_error(grad, numerical) <= 1e-6


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", ["cross_entropy", "binary_cross_entropy"])
def test_extreme_logits_give_finite_losses_and_gradients(loss, dtype):
    """Logits of ±1e4 (exp would overflow) give the exact limits, not inf or NaN."""
    net = RecurrentNetwork(LSTMCell(), 2, 3, output_size=CLASSES, loss=loss)
    params = net.init_params(0, dtype)
    views = net.layout.views(params)
    views["head.weight"][...] = 0
    views["head.bias"][...] = [1e4, -1e4, 0]
    X = np.zeros((2, 3, 2))
    y = np.array([[0.0], [1.0]]) if loss == "cross_entropy" else np.array([[1.0, 0, 0.5]] * 2)
    value, grad = net.loss_and_grad(params, X, y)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    # cross-entropy: class 0 costs 0, class 1 costs 2e4; BCE: 0, 0 and log 2 over 3 values
    expected = 1e4 if loss == "cross_entropy" else np.log(2) / 3
    assert value == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("bad", [3.0, -1.0, 0.5, np.nan])
def test_cross_entropy_rejects_targets_that_are_not_class_indices(bad):
    net = RecurrentNetwork(GRUCell(), 2, 3, output_size=CLASSES, loss="cross_entropy")
    params = net.init_params(0, np.float64)
    X = np.zeros((2, 3, 2))
    with pytest.raises(ValueError, match=r"integers in \[0, 3\)"):
        net.loss_and_grad(params, X, np.array([[0.0], [bad]]))


def test_padded_steps_may_hold_any_target():
    """Per step, a padded step's target is never read: NaN or out of range changes nothing."""
    net = RecurrentNetwork(GRUCell(), 2, 3, output_size=CLASSES, loss="cross_entropy",
                           return_sequences=True)
    params = net.init_params(0, np.float64)
    X, y, _ = classification_batch("cross_entropy", 3, B=2, T=4, return_sequences=True)
    lengths = np.array([4, 2])
    junk = y.copy()
    junk[1, 2:] = np.nan
    a = net.loss_and_grad(params, X, y, lengths)
    b = net.loss_and_grad(params, X, junk, lengths)
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])


def test_unknown_loss_is_a_value_error():
    with pytest.raises(ValueError, match="loss must be one of"):
        RecurrentNetwork(GRUCell(), 2, 3, loss="hinge")
