"""One direction of one layer on the CPU: the weights laid out for the time loops, the
caches kept for backprop through time, and the arrays reused between passes."""

from typing import NamedTuple

import numpy as np

from . import loops
from .loops import block_bounds, row_blocks


class Workspace:
    """Arrays handed out again from one training step to the next.

    A train step asks for the same large arrays every time (the caches of every layer,
    about 240 MB for an LSTM at L). Fresh from the allocator, arrays that size are new
    pages from the system, faulted in and zeroed on first touch at every step; handing
    the last step's arrays out again took a loop of LSTM train steps at M from 37-42 to
    20-22 ms a step. An array from a workspace is overwritten by the next pass that
    uses it.
    """

    def __init__(self):
        self._arrays = {}

    def empty(self, name, shape, dtype):
        """An uninitialised array: the last one given for ``name`` if shape and dtype match."""
        a = self._arrays.get(name)
        if a is None or a.shape != shape or a.dtype != dtype:
            a = self._arrays[name] = np.empty(shape, dtype)
        return a

    def part(self, name):
        """The workspace of one part (a layer's direction), created on first use."""
        return self._arrays.setdefault(name, Workspace())


class Cache(NamedTuple):
    """What backprop through time needs from a forward run; a field a cell does not use is
    None. Every field but ``hs`` and ``n_blocks`` is a blocked cache (see
    :func:`~.loops.blocked`) of (T, X) tiles."""

    hs: np.ndarray  #: states (T, B, H)
    xhs: np.ndarray  #: [x_t, 1, h_{t-1}], X = D + 1 + H
    n_blocks: int  #: blocks of rows the loops ran
    acts: np.ndarray = None  #: gate activations, X = G (LSTM and GRU)
    cs: np.ndarray = None  #: LSTM cell states c_t, X = H
    peep: np.ndarray = None  #: LSTM peephole weights (3, H), zeros where none
    hn: np.ndarray = None  #: GRU's recurrent part of n, X = H


def stacked(w_ih, w_hh, bias):
    """[W_ih, bias, W_hh]: the weights of [x_t, 1, h_{t-1}]."""
    return np.concatenate((w_ih, bias[:, None], w_hh), axis=1)


def full_peepholes(cell, w, hidden_size, dtype):
    """The (3, H) i, f, o peephole weights the LSTM loops read, zeros where none."""
    full = np.zeros((3, hidden_size), dtype)
    for row, to in enumerate(cell.peephole_rows()):
        full[to] = w["weight_ch"][row]
    return full


def gru_weights(w):
    """The GRU's three products: [W_i, b, W_h] for r and z (biases summed), [W_in, b_in] of
    [x_t, 1] and [b_hn, W_hn] of [1, h_{t-1}] (or of [1, r * h_{t-1}])."""
    w_ih, w_hh, b_ih, b_hh = w["weight_ih"], w["weight_hh"], w["bias_ih"], w["bias_hh"]
    H = w_hh.shape[1]
    rz = stacked(w_ih[: 2 * H], w_hh[: 2 * H], b_ih[: 2 * H] + b_hh[: 2 * H])
    return (rz, np.concatenate((w_ih[2 * H :], b_ih[2 * H :, None]), axis=1),
            np.concatenate((b_hh[2 * H :, None], w_hh[2 * H :]), axis=1))


def direction_forward(cell, x, w, lengths, reverse, keep, final_only, ws):
    """Run one direction of one layer (see ``CPUBackend.direction_forward``)."""
    T, B, D = x.shape
    G, H = w["weight_hh"].shape
    hs = ws.empty("hs", (1 if final_only else T, B, H), x.dtype)
    steps = T if keep else 1  # without BPTT to come, the loops keep one step of scratch
    n_blocks = row_blocks(B)

    def caches(**sizes):
        return [ws.empty(name, (steps * size * B,), x.dtype) for name, size in sizes.items()]

    if cell.name == "rnn":
        xhs, = caches(xhs=D + 1 + H)
        loops.rnn_forward(x, stacked(w["weight_ih"], w["weight_hh"], w["bias_ih"] + w["bias_hh"]),
                          lengths, reverse, cell.nonlinearity == "relu", hs, xhs, n_blocks)
        cache = Cache(hs, xhs, n_blocks)
    elif cell.name == "lstm":
        cs, acts, xhs = caches(cs=H, acts=G, xhs=D + 1 + H)
        peep = full_peepholes(cell, w, H, x.dtype)
        loops.lstm_forward(x, stacked(w["weight_ih"], w["weight_hh"], w["bias_ih"] + w["bias_hh"]),
                           peep, lengths, reverse, cell.coupled, hs, cs, acts, xhs, n_blocks)
        cache = Cache(hs, xhs, n_blocks, acts=acts, cs=cs, peep=peep)
    else:
        acts, hn, xhs = caches(acts=G, hn=H, xhs=D + 1 + H)
        loops.gru_forward(x, *gru_weights(w), lengths, reverse, cell.reset_after, hs, acts, hn,
                          xhs, n_blocks)
        cache = Cache(hs, xhs, n_blocks, acts=acts, hn=hn)
    return hs, (cache if keep else None)


def unblocked(cache, T, B, n_blocks):
    """A blocked cache (see :func:`~.loops.blocked`) as an array (T, B, X)."""
    X = cache.size // (T * B)
    parts = [cache[T * X * lo : T * X * hi].reshape(T, X, hi - lo).transpose(0, 2, 1)
             for lo, hi in (block_bounds(k, n_blocks, B) for k in range(n_blocks))]
    return np.concatenate(parts, axis=1)


def _weight_grads(g, D):
    """The gradients in g = dL/d[W_ih, b, W_hh] (G, D + 1 + H) by name."""
    return {"weight_ih": g[:, :D], "bias_ih": g[:, D], "bias_hh": g[:, D],
            "weight_hh": g[:, D + 1 :]}


def _transposed(a):
    """a.T, C-contiguous: the weights of a backward step's product."""
    return np.ascontiguousarray(a.T)


def direction_backward(cell, x, w, cache, dhs, lengths, reverse, ws):
    """Backprop through time (see ``CPUBackend.direction_backward``)."""
    D = x.shape[2]
    n_blocks = cache.n_blocks
    dx = ws.empty("dx", x.shape, x.dtype)
    if cell.name == "gru":
        rz, n_x, n_h = gru_weights(w)
        d_rz, d_nx, d_nh = (ws.empty(name, (n_blocks,) + m.shape, x.dtype)
                            for name, m in (("d_rz", rz), ("d_nx", n_x), ("d_nh", n_h)))
        loops.gru_backward(dhs, cache.acts, cache.hn, cache.xhs, _transposed(rz),
                           _transposed(n_x), _transposed(n_h), lengths, reverse, cell.reset_after,
                           dx, d_rz, d_nx, d_nh, n_blocks)
        g_rz, g_nx, g_nh = d_rz.sum(axis=0), d_nx.sum(axis=0), d_nh.sum(axis=0)
        return dx, {"weight_ih": np.concatenate((g_rz[:, :D], g_nx[:, :D])),
                    "bias_ih": np.concatenate((g_rz[:, D], g_nx[:, D])),
                    "weight_hh": np.concatenate((g_rz[:, D + 1 :], g_nh[:, 1:])),
                    "bias_hh": np.concatenate((g_rz[:, D], g_nh[:, 0]))}, {"h": dhs}
    w_stacked = stacked(w["weight_ih"], w["weight_hh"], w["bias_ih"])
    dw = ws.empty("dw", (n_blocks,) + w_stacked.shape, x.dtype)
    if cell.name == "rnn":
        loops.rnn_backward(dhs, cache.hs, cache.xhs, _transposed(w_stacked), lengths, reverse,
                           cell.nonlinearity == "relu", dx, dw, n_blocks)
        return dx, _weight_grads(dw.sum(axis=0), D), {"h": dhs}
    dcs = ws.empty("dcs", dhs.shape, x.dtype)
    dpeep = ws.empty("dpeep", (n_blocks,) + cache.peep.shape, x.dtype)
    loops.lstm_backward(dhs, cache.acts, cache.cs, cache.xhs, _transposed(w_stacked), cache.peep,
                        lengths, reverse, cell.coupled, bool(cell.peepholes), dcs, dx, dw, dpeep,
                        n_blocks)
    grads = _weight_grads(dw.sum(axis=0), D)
    if cell.peepholes:
        full = dpeep.sum(axis=0)
        grads["weight_ch"] = np.stack([full[row] for row in cell.peephole_rows()])
    return dx, grads, {"h": dhs, "c": dcs}
