"""Optimizers and clipping against the update rules written out in NumPy."""

import numpy as np
import pytest

from numbarnn import SGD, Adam, AdamW, clip_grad_norm


def adam_reference(p, grads, lr, b1, b2, eps, wd, decoupled):
    m = v = 0.0
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return p


def sgd_reference(p, grads, lr, momentum, nesterov, wd):
    buf = 0.0
    for g in grads:
        g = g + wd * p
        buf = momentum * buf + g
        p = p - lr * (g + momentum * buf if nesterov else buf)
    return p


@pytest.fixture
def problem():
    rng = np.random.default_rng(3)
    return rng.standard_normal(20), [rng.standard_normal(20) for _ in range(5)]


@pytest.mark.parametrize("optimizer,decoupled", [(Adam, False), (AdamW, True)])
def test_adam(problem, optimizer, decoupled):
    p0, grads = problem
    opt = optimizer(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.2)
    p = p0.copy()
    for g in grads:
        opt.step(p, g)
    expected = adam_reference(p0, grads, 0.05, 0.8, 0.99, 1e-6, 0.2, decoupled)
    np.testing.assert_allclose(p, expected, rtol=1e-12)
    assert opt.t == len(grads)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd(problem, nesterov):
    p0, grads = problem
    opt = SGD(lr=0.1, momentum=0.9, nesterov=nesterov, weight_decay=0.01)
    p = p0.copy()
    for g in grads:
        opt.step(p, g)
    np.testing.assert_allclose(p, sgd_reference(p0, grads, 0.1, 0.9, nesterov, 0.01), rtol=1e-12)


def test_float32_update_stays_float32(problem):
    p0, grads = problem
    p = p0.astype(np.float32)
    Adam().step(p, grads[0].astype(np.float32))
    assert p.dtype == np.float32 and not np.array_equal(p, p0.astype(np.float32))


def test_nesterov_needs_momentum():
    with pytest.raises(ValueError, match="momentum"):
        SGD(nesterov=True)


def test_clip_grad_norm():
    g = np.array([3.0, 4.0])
    assert clip_grad_norm(g, 10.0) == pytest.approx(5.0)
    np.testing.assert_array_equal(g, [3.0, 4.0])
    assert clip_grad_norm(g, 1.0) == pytest.approx(5.0)
    assert np.linalg.norm(g) == pytest.approx(1.0, rel=1e-6)
    g32 = np.array([30.0, 40.0], np.float32)
    clip_grad_norm(g32, 5.0)
    assert g32.dtype == np.float32 and np.linalg.norm(g32) == pytest.approx(5.0, rel=1e-5)
