"""Equivalence with PyTorch in float64: same weights by name, same outputs and gradients.

Skipped when torch is absent; torch is never a runtime dependency.
"""

import numpy as np
import pytest

from conftest import CELLS, random_batch
from numbarnn import RecurrentNetwork

torch = pytest.importorskip("torch")
nn = torch.nn
rnn_utils = torch.nn.utils.rnn

TORCH_CELLS = {
    "rnn-tanh": lambda **kw: nn.RNN(nonlinearity="tanh", **kw),
    "rnn-relu": lambda **kw: nn.RNN(nonlinearity="relu", **kw),
    "lstm": nn.LSTM,
    "gru-reset-after": nn.GRU,
}


def torch_twin(net, params):
    """nn.RNN/LSTM/GRU + nn.Linear holding the network's parameters, by name."""
    rnn = TORCH_CELLS[next(k for k, c in CELLS.items() if c == net.cell and k in TORCH_CELLS)](
        input_size=net.input_size, hidden_size=net.hidden_size, num_layers=net.num_layers,
        bidirectional=net.bidirectional, batch_first=True, dtype=torch.float64)
    head = nn.Linear(net.hidden_size * len(net.directions), net.output_size, dtype=torch.float64)
    modules = {"": rnn, "head.": head}
    for name, value in net.layout.views(params).items():
        prefix = "head." if name.startswith("head.") else ""
        getattr(modules[prefix], name[len(prefix):]).data = torch.tensor(value)
    return rnn, head


def torch_criterion(net, pred, y, mask=None, class_weight=None):
    """PyTorch's loss of the network's kind on (N, k) outputs, rows selected by ``mask``."""
    y = torch.tensor(y)
    if mask is not None:
        pred, y = pred[mask], y[mask]
    if net.loss == "cross_entropy":
        weight = None if class_weight is None else torch.tensor(class_weight)
        return nn.CrossEntropyLoss(weight=weight)(pred, y[:, 0].long())
    if net.loss == "binary_cross_entropy":
        return nn.BCEWithLogitsLoss()(pred, y)
    return nn.MSELoss()(pred, y)


def torch_loss(net, rnn, head, X, y, lengths, class_weight=None):
    B, T, _ = X.shape
    packed = rnn_utils.pack_padded_sequence(torch.tensor(X), torch.tensor(lengths),
                                            batch_first=True, enforce_sorted=False)
    out, h_n = rnn(packed)
    h_n = h_n[0] if isinstance(rnn, nn.LSTM) else h_n
    if net.return_sequences:
        out, _ = rnn_utils.pad_packed_sequence(out, batch_first=True, total_length=T)
        pred = head(out)
        mask = torch.tensor(np.arange(T)[None, :] < lengths[:, None])
        return pred, torch_criterion(net, pred, y, mask, class_weight)
    final = torch.cat([h_n[-2], h_n[-1]], dim=1) if net.bidirectional else h_n[-1]
    pred = head(final)
    return pred, torch_criterion(net, pred, y, class_weight=class_weight)


@pytest.mark.parametrize("name", list(TORCH_CELLS))
@pytest.mark.parametrize("return_sequences", [False, True])
def test_outputs_and_gradients_match_torch(name, return_sequences, device):
    net = RecurrentNetwork(CELLS[name], input_size=3, hidden_size=5, output_size=2, num_layers=2,
                           bidirectional=True, return_sequences=return_sequences, device=device)
    params = net.init_params(0, np.float64)
    X, y, lengths = random_batch(1, B=4, T=6, D=3, k=2, return_sequences=return_sequences)
    rnn, head = torch_twin(net, params)
    pred, loss = torch_loss(net, rnn, head, X, y, lengths)
    loss.backward()

    output = net.predict(params, X, lengths)
    ours_loss, grad = net.loss_and_grad(params, X, y, lengths)
    expected = pred.detach().numpy()
    if return_sequences:
        valid = np.arange(6)[None, :] < lengths[:, None]
        output, expected = output[valid], expected[valid]
    np.testing.assert_allclose(output, expected, rtol=1e-10, atol=1e-14)
    assert ours_loss == pytest.approx(loss.item(), rel=1e-12)
    torch_grads = dict(rnn.named_parameters())
    torch_grads.update({f"head.{k}": v for k, v in head.named_parameters()})
    for pname, g in net.layout.views(grad).items():
        np.testing.assert_allclose(g, torch_grads[pname].grad.numpy(), rtol=1e-10, atol=1e-14,
                                   err_msg=pname)


@pytest.mark.parametrize("loss", ["cross_entropy", "binary_cross_entropy"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_classification_losses_match_torch(loss, return_sequences, device):
    """nn.CrossEntropyLoss (with class weights, given to numbarnn as the weight of each row's
    class) and nn.BCEWithLogitsLoss: the same loss and gradients."""
    net = RecurrentNetwork(CELLS["gru-reset-after"], input_size=3, hidden_size=4, output_size=3,
                           bidirectional=True, return_sequences=return_sequences, device=device,
                           loss=loss)
    params = net.init_params(0, np.float64)
    X, _, lengths = random_batch(1, B=5, T=6, D=3, k=1, return_sequences=False)
    rng = np.random.default_rng(3)
    shape = (5, 6) if return_sequences else (5,)
    class_weight = sample_weight = None
    if loss == "cross_entropy":
        y = rng.integers(0, 3, shape + (1,)).astype(float)
        class_weight = np.array([0.5, 2.0, 1.0])
        sample_weight = class_weight[y[..., 0].astype(int)]
    else:
        y = rng.uniform(0, 1, shape + (3,))
    rnn, head = torch_twin(net, params)
    _, expected = torch_loss(net, rnn, head, X, y, lengths, class_weight)
    expected.backward()

    ours, grad = net.loss_and_grad(params, X, y, lengths, sample_weight=sample_weight)
    assert ours == pytest.approx(expected.item(), rel=1e-12)
    torch_grads = dict(rnn.named_parameters())
    torch_grads.update({f"head.{k}": v for k, v in head.named_parameters()})
    for pname, g in net.layout.views(grad).items():
        np.testing.assert_allclose(g, torch_grads[pname].grad.numpy(), rtol=1e-10, atol=1e-14,
                                   err_msg=pname)


@pytest.mark.parametrize("name", list(TORCH_CELLS))
def test_parameter_layout_matches_torch(name):
    net = RecurrentNetwork(CELLS[name], 3, 5, num_layers=2, bidirectional=True)
    rnn, _ = torch_twin(net, net.init_params(0, np.float64))
    rnn_names = [n for n in net.layout if not n.startswith("head.")]
    assert rnn_names == [n for n, _ in rnn.named_parameters()]
    assert all(net.layout.shapes[n] == tuple(p.shape) for n, p in rnn.named_parameters())


def test_optimizers_match_torch():
    from numbarnn import SGD, Adam, AdamW, clip_grad_norm

    rng = np.random.default_rng(0)
    p0 = rng.standard_normal(50)
    grads = [rng.standard_normal(50) for _ in range(6)]
    cases = [
        (Adam(lr=0.01, weight_decay=0.1), torch.optim.Adam, dict(lr=0.01, weight_decay=0.1)),
        (AdamW(lr=0.01, weight_decay=0.1), torch.optim.AdamW, dict(lr=0.01, weight_decay=0.1)),
        (SGD(lr=0.1, momentum=0.9, weight_decay=0.01), torch.optim.SGD,
         dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
        (SGD(lr=0.1, momentum=0.9, nesterov=True), torch.optim.SGD,
         dict(lr=0.1, momentum=0.9, nesterov=True)),
        (SGD(lr=0.1), torch.optim.SGD, dict(lr=0.1)),
    ]
    for ours, cls, kwargs in cases:
        p = p0.copy()
        tp = torch.tensor(p0.copy(), requires_grad=True)
        topt = cls([tp], **kwargs)
        for g in grads:
            ours.step(p, g.copy())
            tp.grad = torch.tensor(g)
            topt.step()
        np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-12, atol=1e-14,
                                   err_msg=type(ours).__name__)

    g = grads[0] * 10
    tg = torch.tensor(g.copy(), requires_grad=True)
    tg.grad = torch.tensor(g.copy())
    expected_norm = nn.utils.clip_grad_norm_([tg], 1.5).item()
    assert clip_grad_norm(g, 1.5) == pytest.approx(expected_norm, rel=1e-12)
    np.testing.assert_allclose(g, tg.grad.numpy(), rtol=1e-12)
