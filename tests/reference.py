"""Slow, obvious NumPy versions of the cells and the network, to check the compiled path.

One sequence and one step at a time, formulas as the textbooks write them; nothing
here is shared with the package but the parameter names.
"""

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def blocks(v, names):
    return dict(zip(names, np.split(v, len(names))))


def cell_step(cell, w, x, h, c, c_delta=0.0):
    """One step of one cell for one sequence: returns (h, c); ``c_delta`` is added to c_t."""
    gates = cell.gates
    if cell.name == "rnn":
        a = w["weight_ih"] @ x + w["bias_ih"] + w["weight_hh"] @ h + w["bias_hh"]
        return (np.tanh(a) if cell.nonlinearity == "tanh" else np.maximum(a, 0.0)), c
    if cell.name == "lstm":
        a = blocks(w["weight_ih"] @ x + w["bias_ih"] + w["weight_hh"] @ h + w["bias_hh"], gates)
        p = dict(zip(cell.peepholes, w.get("weight_ch", [])))
        zero = np.zeros_like(h)
        f = sigmoid(a["f"] + p.get("f", zero) * c)
        i = 1.0 - f if cell.coupled else sigmoid(a["i"] + p.get("i", zero) * c)
        c = f * c + i * np.tanh(a["g"]) + c_delta
        o = sigmoid(a["o"] + p.get("o", zero) * c)
        return o * np.tanh(c), c
    gi = blocks(w["weight_ih"] @ x + w["bias_ih"], gates)
    W = blocks(w["weight_hh"], gates)
    b = blocks(w["bias_hh"], gates)
    r = sigmoid(gi["r"] + W["r"] @ h + b["r"])
    z = sigmoid(gi["z"] + W["z"] @ h + b["z"])
    if cell.reset_after:
        n = np.tanh(gi["n"] + r * (W["n"] @ h + b["n"]))
    else:
        n = np.tanh(gi["n"] + W["n"] @ (r * h) + b["n"])
    return (1.0 - z) * n + z * h, c


def forward(net, params, X, lengths=None, perturb=None):
    """Network output, one sequence at a time; padded steps of per-step outputs are NaN.

    ``perturb`` = (key, t, b, state, delta) adds ``delta`` to the hidden state h_t
    (state 'h') or the cell state c_t (state 'c', before h_t is formed from it) of
    sequence b in layer and direction ``key`` ('l0', 'l0_reverse', ...).
    """
    views = net.layout.views(params)
    n, T, _ = X.shape
    lengths = np.full(n, T) if lengths is None else np.asarray(lengths)
    H = net.hidden_size
    W, bias = views["head.weight"], views["head.bias"]
    out = np.full((n, T, net.output_size) if net.return_sequences else (n, net.output_size), np.nan)
    for s in range(n):
        inputs = X[s, : lengths[s]]
        L = len(inputs)
        for k in range(net.num_layers):
            outputs, finals = [], []
            for suffix in net.directions:
                w = {key[: key.index("_l")]: v for key, v in views.items()
                     if key.endswith(f"_l{k}{suffix}")}
                h, c = np.zeros(H), np.zeros(H)
                seq = np.zeros((L, H))
                for t in (reversed(range(L)) if suffix else range(L)):
                    hit = perturb is not None and perturb[:3] == (f"l{k}{suffix}", t, s)
                    c_delta = perturb[4] if hit and perturb[3] == "c" else 0.0
                    h, c = cell_step(net.cell, w, inputs[t], h, c, c_delta)
                    if hit and perturb[3] == "h":
                        h = h + perturb[4]
                    seq[t] = h
                outputs.append(seq)
                finals.append(h)
            inputs = np.concatenate(outputs, axis=1)
        if net.return_sequences:
            out[s, :L] = inputs @ W.T + bias
        else:
            out[s] = np.concatenate(finals) @ W.T + bias
    return out


def loss(net, params, X, y, lengths=None, perturb=None):
    """Mean squared error over the valid outputs, as the package defines it."""
    out = forward(net, params, X, lengths, perturb)
    valid = ~np.isnan(out)
    return float(np.mean((out[valid] - y[valid]) ** 2))
