"""Token input: the embedding's gradient against finite differences and nn.Embedding, ids
checked, padded ids never read."""

import numpy as np
import pytest

from gradcheck import max_relative_error, numerical_gradient
from numbarnn import GRUCell, LSTMCell, RecurrentNetwork

VOCAB = 6


def token_batch(seed, B, T, per_step, classes=3):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, VOCAB, (B, T))
    lengths = rng.integers(1, T + 1, B)
    lengths[0] = T
    y = rng.integers(0, classes, (B, T, 1) if per_step else (B, 1)).astype(float)
    return ids, y, lengths


@pytest.mark.parametrize("per_step", [False, True])
def test_embedding_gradient_matches_finite_differences(per_step, device):
    net = RecurrentNetwork(LSTMCell(), 3, 4, output_size=3, bidirectional=True,
                           return_sequences=per_step, device=device, loss="cross_entropy",
                           vocab_size=VOCAB)
    on_cpu = net.to("cpu")
    params = net.init_params(0, np.float64)
    ids, y, lengths = token_batch(1, B=4, T=5, per_step=per_step)
    loss, grad = net.loss_and_grad(params, ids, y, lengths)
    assert loss == pytest.approx(on_cpu.loss_and_grad(params, ids, y, lengths)[0], rel=1e-12)
    numerical = numerical_gradient(lambda p: on_cpu.loss_and_grad(p, ids, y, lengths)[0],
                                   params, 1e-3)
    table = net.layout.views(grad)["embedding.weight"]
    used = np.unique(ids[np.arange(5)[None, :] < lengths[:, None]])
    assert np.abs(table[used]).min() > 0  # every id seen at a valid step gets a gradient
    assert max_relative_error(grad, numerical) <= 1e-6


def test_embedding_matches_torch():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    net = RecurrentNetwork(GRUCell(), 3, 4, output_size=3, return_sequences=True,
                           loss="cross_entropy", vocab_size=VOCAB)
    params = net.init_params(0, np.float64)
    views = net.layout.views(params)
    ids, y, lengths = token_batch(2, B=4, T=5, per_step=True)
    embedding = nn.Embedding(VOCAB, 3, dtype=torch.float64)
    gru = nn.GRU(3, 4, batch_first=True, dtype=torch.float64)
    head = nn.Linear(4, 3, dtype=torch.float64)
    embedding.weight.data = torch.tensor(views["embedding.weight"])
    for name, param in gru.named_parameters():
        param.data = torch.tensor(views[name])
    head.weight.data, head.bias.data = (torch.tensor(views["head.weight"]),
                                        torch.tensor(views["head.bias"]))
    packed = nn.utils.rnn.pack_padded_sequence(embedding(torch.tensor(ids)),
                                               torch.tensor(lengths), batch_first=True,
                                               enforce_sorted=False)
    out, _ = nn.utils.rnn.pad_packed_sequence(gru(packed)[0], batch_first=True, total_length=5)
    valid = torch.tensor(np.arange(5)[None, :] < lengths[:, None])
    expected = nn.CrossEntropyLoss()(head(out)[valid], torch.tensor(y[..., 0]).long()[valid])
    expected.backward()
    loss, grad = net.loss_and_grad(params, ids, y, lengths)
    assert loss == pytest.approx(expected.item(), rel=1e-12)
    gviews = net.layout.views(grad)
    np.testing.assert_allclose(gviews["embedding.weight"], embedding.weight.grad.numpy(),
                               rtol=1e-10, atol=1e-14)
    for name, param in gru.named_parameters():
        np.testing.assert_allclose(gviews[name], param.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("bad", [-1, VOCAB, 2.5])
def test_ids_outside_the_vocabulary_are_named(bad):
    net = RecurrentNetwork(GRUCell(), 3, 4, vocab_size=VOCAB)
    params = net.init_params(0, np.float64)
    ids = np.zeros((2, 3))
    ids[1, 2] = bad
    with pytest.raises(ValueError, match=r"token id .* at \(sequence, step\) \(1, 2\)"):
        net.predict(params, ids)


def test_padded_ids_are_never_read():
    net = RecurrentNetwork(GRUCell(), 3, 4, vocab_size=VOCAB)
    params = net.init_params(0, np.float64)
    ids = np.array([[1, 2, 3], [4, 5, 0]])
    junk = ids.copy()
    junk[1, 2] = 10**9
    lengths = np.array([3, 2])
    np.testing.assert_array_equal(net.predict(params, ids, lengths),
                                  net.predict(params, junk, lengths))
    y = np.zeros((2, 1))
    np.testing.assert_array_equal(net.loss_and_grad(params, ids, y, lengths)[1],
                                  net.loss_and_grad(params, junk, y, lengths)[1])


# --- through the estimators ------------------------------------------------------------


def token_sequences(n, seed=0):
    """Ragged id sequences labelled by whether id 3 occurs more often than id 4."""
    rng = np.random.default_rng(seed)
    X = [rng.integers(0, VOCAB, rng.integers(4, 12)) for _ in range(n)]
    y = np.array(["pos" if (x == 3).sum() > (x == 4).sum() else "neg" for x in X])
    return X, y


def test_a_classifier_learns_from_token_sequences():
    from numbarnn import GRUClassifier

    X, y = token_sequences(300)
    model = GRUClassifier(vocab_size=VOCAB, embedding_dim=8, hidden_size=16, random_state=0)
    model.fit(X[:200], y[:200])
    assert model.score(X[200:], y[200:]) >= 0.8
    assert model.n_features_in_ == 1 and model.input_mean_ is None  # ids are not scaled
    assert list(model.state_dict())[0] == "embedding.weight"
    assert model.state_dict()["embedding.weight"].shape == (VOCAB, 8)


@pytest.mark.parametrize("bad, error, message", [
    ([[0, 1, VOCAB]], ValueError, "outside the vocabulary"),
    ([[0, -1, 2]], ValueError, "outside the vocabulary"),
    ([[0.5, 1.0, 2.0]], TypeError, "integer token ids"),
    ([["a", "b", "c"]], TypeError, "integer token ids"),
    (np.zeros((1, 3, 2), int), ValueError, r"shape \(n_samples, n_timesteps\)"),
])
def test_bad_token_ids_are_named_and_change_nothing(bad, error, message):
    from numbarnn import LSTMRegressor

    X, _ = token_sequences(20)
    model = LSTMRegressor(vocab_size=VOCAB, hidden_size=3, max_iter=2, random_state=0)
    model.fit(X, np.arange(20.0))
    before = model.params_.copy()
    with pytest.raises(error, match=message):
        model.partial_fit(bad, [1.0])
    with pytest.raises(error, match=message):
        model.predict(bad)
    np.testing.assert_array_equal(model.params_, before)


def test_token_estimators_save_and_load(tmp_path):
    from numbarnn import RNNClassifier, load

    X, y = token_sequences(40)
    model = RNNClassifier(vocab_size=VOCAB, embedding_dim=3, hidden_size=4, max_iter=3,
                          random_state=0).fit(X, y)
    model.save(tmp_path / "t.npz")
    loaded = load(tmp_path / "t.npz")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    fresh = RNNClassifier(vocab_size=VOCAB, embedding_dim=3, hidden_size=4)
    fresh.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(fresh.predict_proba(X), model.predict_proba(X))
    with pytest.raises(ValueError, match="embedding.weight has shape"):
        RNNClassifier(vocab_size=VOCAB + 1, embedding_dim=3, hidden_size=4).load_state_dict(
            model.state_dict())


def test_token_fit_on_the_device_is_the_fit_on_the_cpu(device):
    from numbarnn import GRUClassifier

    X, _ = token_sequences(5)
    y = [np.arange(len(x)) % 3 for x in X]  # a label per step: language-model shaped
    common = dict(vocab_size=VOCAB, embedding_dim=2, hidden_size=2, max_iter=2, batch_size=3,
                  return_sequences=True, dtype="float64", random_state=0)
    cpu = GRUClassifier(device="cpu", **common).fit(X, y)
    ours = GRUClassifier(device=device, **common).fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, cpu.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(ours.params_, cpu.params_, rtol=1e-9, atol=1e-12)


def test_token_regressors_save_load_and_reload_their_weights(tmp_path):
    """Token ids are never scaled (input statistics null, target statistics kept), and
    n_features_in_ stays 1 through load_state_dict."""
    from numbarnn import GRURegressor, load

    X, _ = token_sequences(30)
    y = np.array([float((x == 3).sum()) for x in X])
    model = GRURegressor(vocab_size=VOCAB, hidden_size=3, max_iter=2, random_state=0).fit(X, y)
    assert model.input_mean_ is None and model.target_mean_ is not None
    model.save(tmp_path / "r.npz")
    loaded = load(tmp_path / "r.npz")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    fresh = GRURegressor(vocab_size=VOCAB, hidden_size=3).load_state_dict(model.state_dict())
    assert fresh.n_features_in_ == 1
    fresh.load_state_dict(model.state_dict())  # a second time, on the now fitted estimator


def test_float_ids_may_hold_anything_at_padded_steps():
    from numbarnn.validation import check_tokens

    X = np.array([[1.0, 2.0, np.nan], [3.0, 0.5, 4.0]])
    with pytest.raises(TypeError, match="integer token ids"):
        check_tokens(X, [2, 3], VOCAB)  # 0.5 is at a valid step
    ids, lengths = check_tokens(np.array([[1.0, 2.0, np.nan], [3.0, 1.0, 4.0]]), [2, 3], VOCAB)
    assert ids.tolist() == [[1, 2, 0], [3, 1, 4]]
