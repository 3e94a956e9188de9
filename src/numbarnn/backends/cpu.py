"""CPU backend: the time loops compiled with Numba, the big GEMMs in BLAS.

Layout: time-major arrays, ``x`` (T, B, D), hidden states ``hs`` (T, B, H).
A padded step (t >= lengths[b]) carries the state through unchanged, so the
state after the last valid step sits at t = T - 1 (forward) or t = 0 (reverse),
and ``hs`` at a step that came before (in processing order) is always the true
previous state. Gradients flow back through padded steps unchanged too.

The input projection ``x W_ih^T + b_ih`` and every weight gradient are one GEMM
over all T * B rows; only the recurrence ``h W_hh^T`` runs step by step, inside
the compiled loop. There, each of Numba's threads takes a block of batch rows and
does both the step's recurrent product for its rows (single-threaded BLAS) and
their gate math, so the whole step runs in parallel (20-25 % faster than a serial
product followed by a parallel gate loop, at S, M and L). Rows are independent,
so results depend only on the number of threads.
"""

import numba
import numpy as np
from numba import prange

from .._compile import kernel
from ..cells import gru, lstm, rnn
from ..cells.activations import ONE, sigmoid
from ..threads import serial_blas

PEEPHOLE_ROWS = "ifo"


def _row_blocks(n_rows):
    """Blocks of batch rows for the time loops: one per Numba thread, at most one per row
    (an argument of the kernels: asked for inside one, it would stop Numba caching it)."""
    return min(numba.get_num_threads(), n_rows)


@kernel
def block_bounds(k, n_blocks, n_rows):
    """Rows [lo, hi) of block k."""
    return k * n_rows // n_blocks, (k + 1) * n_rows // n_blocks


# --- one batch row of one step --------------------------------------------------------------
#
# The time loops below hand each row's gate math to these functions. Compiled on their
# own (not inlined into the parallel loop), their unit loops are vectorized by LLVM:
# the LSTM forward recurrence at M ran in 14 ms instead of 26 ms.


@kernel
def _rnn_row(z, x, b_hh, h, relu):
    """h = step(x + z + b_hh), z holding the recurrent product h_{t-1} W_hh^T."""
    for j in range(h.size):
        h[j] = rnn.step(x[j] + z[j] + b_hh[j], relu)


@kernel
def _rnn_row_grad(dh, h, relu, da):
    for j in range(h.size):
        da[j] = rnn.step_grad(dh[j], h[j], relu)


@kernel
def _lstm_row(z, x, b_hh, c, h, a, p_i, p_f, p_o, coupled):
    """One step of one row: z (G,) holds the recurrent product, overwritten with the
    pre-activations; c and h are updated in place, a receives the gate activations."""
    H = c.size
    fo = 0 if coupled else H
    go, oo = fo + H, fo + 2 * H
    for q in range(z.size):
        z[q] += x[q] + b_hh[q]
    for j in range(H):
        i, f, g, o, c[j], h[j] = lstm.step(z[j], z[fo + j], z[go + j], z[oo + j], c[j],
                                           p_i[j], p_f[j], p_o[j], coupled)
        a[j] = i  # coupled: fo = 0, so f overwrites it next
        a[fo + j], a[go + j], a[oo + j] = f, g, o


@kernel
def _lstm_row_grad(dh, dc, a, c, c_prev, p_i, p_f, p_o, coupled, da, dcs):
    """Backward of one step of one row: fills da (G,) and dcs (H,), carries dc in place."""
    H = c.size
    fo = 0 if coupled else H
    go, oo = fo + H, fo + 2 * H
    for j in range(H):
        f = a[fo + j]
        i = ONE - f if coupled else a[j]
        d_i, d_f, d_g, d_o, dcs[j], dc[j] = lstm.step_grad(
            dh[j], dc[j], i, f, a[go + j], a[oo + j], c[j], c_prev[j], p_i[j], p_f[j], p_o[j],
            coupled)
        da[j] = d_i  # coupled: overwritten by d_f
        da[fo + j], da[go + j], da[oo + j] = d_f, d_g, d_o


@kernel
def _gru_row_gates(z, x, b_hh, h, a, hr):
    """The r and z gates of one row (z holds h_{t-1} W_hrz^T) and r * h_{t-1} into hr."""
    H = h.size
    for j in range(H):
        r = sigmoid(x[j] + z[j] + b_hh[j])
        a[j] = r
        a[H + j] = sigmoid(x[H + j] + z[H + j] + b_hh[H + j])
        hr[j] = r * h[j]


@kernel
def _gru_row_state(z_n, x, b_hh, h, a, hn, reset_after):
    """The n gate and the new state of one row; z_n holds W_hn h (or W_hn (r * h))."""
    H = h.size
    for j in range(H):
        hn[j] = z_n[j] + b_hh[2 * H + j]
        a[2 * H + j], h[j] = gru.step(a[j], a[H + j], x[2 * H + j], hn[j], h[j], reset_after)


@kernel
def _gru_row_grad(dh, a, hn, h_prev, reset_after, drz, da_n, dhn, direct):
    H = dh.size
    for j in range(H):
        drz[j], drz[H + j], da_n[j], dhn[j], direct[j] = gru.step_grad(
            dh[j], a[j], a[H + j], a[2 * H + j], hn[j], h_prev[j], reset_after)


# --- Elman RNN ---------------------------------------------------------------------------


@kernel(parallel=True)
def rnn_forward(xproj, w_hh, b_hh, lengths, reverse, relu, hs, n_blocks):
    """Run the recurrence; ``xproj`` (T, B, H) holds x W_ih^T + b_ih; fills ``hs``."""
    T, B, H = hs.shape
    h = np.zeros((B, H), hs.dtype)
    rec = np.empty((B, H), hs.dtype)
    for s in range(T):
        t = T - 1 - s if reverse else s
        for k in prange(n_blocks):
            lo, hi = block_bounds(k, n_blocks, B)
            np.dot(h[lo:hi], w_hh.T, rec[lo:hi])
            for b in range(lo, hi):
                if t < lengths[b]:
                    _rnn_row(rec[b], xproj[t, b], b_hh, h[b], relu)
                hs[t, b] = h[b]


@kernel(parallel=True)
def rnn_backward(dhs, hs, w_hh, lengths, reverse, relu, dxproj, n_blocks):
    """BPTT; fills ``dxproj`` = dL/d(pre-activation).

    ``dhs`` (T, B, H) holds dL/dh_t from above on entry and the total dL/dh_t
    (through later steps too) on return.
    """
    T, B, H = hs.shape
    dh = np.zeros((B, H), hs.dtype)
    for s in range(T):
        t = s if reverse else T - 1 - s
        for k in prange(n_blocks):
            lo, hi = block_bounds(k, n_blocks, B)
            for b in range(lo, hi):
                dhs[t, b] += dh[b]
                if t < lengths[b]:
                    _rnn_row_grad(dhs[t, b], hs[t, b], relu, dxproj[t, b])
                else:
                    dxproj[t, b] = 0.0
            np.dot(dxproj[t, lo:hi], w_hh, dh[lo:hi])
            for b in range(lo, hi):
                if t >= lengths[b]:  # a padded step passes its gradient on unchanged
                    dh[b] += dhs[t, b]


# --- LSTM -------------------------------------------------------------------------------


@kernel(parallel=True)
def lstm_forward(xproj, w_hh, b_hh, peep, lengths, reverse, coupled, hs, cs, acts, n_blocks):
    """Run the recurrence; ``peep`` (3, H) holds the i, f, o peephole weights (zeros if none).

    Fills ``hs`` and ``cs`` (T, B, H) and ``acts`` (T, B, G*H), the gate activations.
    """
    T, B, H = hs.shape
    h = np.zeros((B, H), hs.dtype)
    c = np.zeros((B, H), hs.dtype)
    rec = np.empty((B, xproj.shape[2]), hs.dtype)
    for s in range(T):
        t = T - 1 - s if reverse else s
        for k in prange(n_blocks):
            lo, hi = block_bounds(k, n_blocks, B)
            np.dot(h[lo:hi], w_hh.T, rec[lo:hi])
            for b in range(lo, hi):
                if t < lengths[b]:
                    _lstm_row(rec[b], xproj[t, b], b_hh, c[b], h[b], acts[t, b],
                              peep[0], peep[1], peep[2], coupled)
                hs[t, b] = h[b]
                cs[t, b] = c[b]


@kernel(parallel=True)
def lstm_backward(dhs, acts, cs, w_hh, peep, lengths, reverse, coupled, dxproj, dcs, n_blocks):
    """BPTT; fills ``dxproj`` (T, B, G*H), the gradient of the gate pre-activations.

    ``dhs`` (T, B, H) holds dL/dh_t from above on entry and the total dL/dh_t on
    return; ``dcs`` receives the total dL/dc_t.
    """
    T, B, H = dhs.shape
    dh = np.zeros((B, H), dhs.dtype)
    dc = np.zeros((B, H), dhs.dtype)
    no_state = np.zeros(H, dhs.dtype)
    for s in range(T):
        t = s if reverse else T - 1 - s
        tp = t + 1 if reverse else t - 1
        for k in prange(n_blocks):
            lo, hi = block_bounds(k, n_blocks, B)
            for b in range(lo, hi):
                dhs[t, b] += dh[b]
                if t < lengths[b]:
                    _lstm_row_grad(dhs[t, b], dc[b], acts[t, b], cs[t, b],
                                   cs[tp, b] if 0 <= tp < T else no_state,
                                   peep[0], peep[1], peep[2], coupled, dxproj[t, b], dcs[t, b])
                else:
                    dxproj[t, b] = 0.0
                    dcs[t, b] = dc[b]
            np.dot(dxproj[t, lo:hi], w_hh, dh[lo:hi])
            for b in range(lo, hi):
                if t >= lengths[b]:  # a padded step passes its gradient on unchanged
                    dh[b] += dhs[t, b]


# --- GRU --------------------------------------------------------------------------------


@kernel(parallel=True)
def gru_forward(xproj, w_rz, w_n, b_hh, lengths, reverse, reset_after, hs, acts, hn, n_blocks):
    """Run the recurrence; ``w_rz`` (2H, H) and ``w_n`` (H, H) are the blocks of W_hh.

    Fills ``hs`` (T, B, H), ``acts`` (T, B, 3H) with r, z, n and ``hn`` (T, B, H) with
    the recurrent part of n before the reset gate is applied (reset after) or
    W_hn (r * h) + b_hn (reset before).
    """
    T, B, H = hs.shape
    h = np.zeros((B, H), hs.dtype)
    hr = np.zeros((B, H), hs.dtype)
    rec = np.empty((B, 2 * H), hs.dtype)
    rec_n = np.empty((B, H), hs.dtype)
    for s in range(T):
        t = T - 1 - s if reverse else s
        for k in prange(n_blocks):
            lo, hi = block_bounds(k, n_blocks, B)
            np.dot(h[lo:hi], w_rz.T, rec[lo:hi])
            for b in range(lo, hi):
                if t < lengths[b]:
                    _gru_row_gates(rec[b], xproj[t, b], b_hh, h[b], acts[t, b], hr[b])
            np.dot((h if reset_after else hr)[lo:hi], w_n.T, rec_n[lo:hi])
            for b in range(lo, hi):
                if t < lengths[b]:
                    _gru_row_state(rec_n[b], xproj[t, b], b_hh, h[b], acts[t, b], hn[t, b],
                                   reset_after)
                hs[t, b] = h[b]


@kernel(parallel=True)
def gru_backward(dhs, acts, hn, hs, w_rz, w_n, lengths, reverse, reset_after, dxproj, dhn, n_blocks):
    """BPTT; fills ``dxproj`` (T, B, 3H) and ``dhn`` (T, B, H), the gradient of ``hn``.

    ``dhs`` (T, B, H) holds dL/dh_t from above on entry and the total dL/dh_t on
    return.
    """
    T, B, H = dhs.shape
    dh = np.zeros((B, H), dhs.dtype)
    direct = np.empty((B, H), dhs.dtype)
    drz = np.empty((B, 2 * H), dhs.dtype)
    rec = np.empty((B, H), dhs.dtype)
    no_state = np.zeros(H, dhs.dtype)
    for s in range(T):
        t = s if reverse else T - 1 - s
        tp = t + 1 if reverse else t - 1
        for k in prange(n_blocks):
            lo, hi = block_bounds(k, n_blocks, B)
            for b in range(lo, hi):
                dhs[t, b] += dh[b]
                if t < lengths[b]:
                    _gru_row_grad(dhs[t, b], acts[t, b], hn[t, b],
                                  hs[tp, b] if 0 <= tp < T else no_state, reset_after,
                                  drz[b], dxproj[t, b, 2 * H :], dhn[t, b], direct[b])
                else:
                    drz[b] = 0.0
                    dxproj[t, b] = 0.0
                    dhn[t, b] = 0.0
                    direct[b] = dhs[t, b]
            np.dot(dhn[t, lo:hi], w_n, rec[lo:hi])
            for b in range(lo, hi):
                if reset_after:
                    direct[b] += rec[b]
                elif t < lengths[b]:
                    h_prev = hs[tp, b] if 0 <= tp < T else no_state
                    for j in range(H):
                        r = acts[t, b, j]
                        drz[b, j] = rec[b, j] * h_prev[j] * r * (ONE - r)
                        direct[b, j] += rec[b, j] * r
            np.dot(drz[lo:hi], w_rz, dh[lo:hi])
            dh[lo:hi] += direct[lo:hi]
            dxproj[t, lo:hi, : 2 * H] = drz[lo:hi]


# --- the big products, over blocks of rows on Numba's threads ----------------------------------


@kernel(parallel=True)
def _matmul_rows(a, b_t, out, n_blocks):
    n = a.shape[0]
    for k in prange(n_blocks):
        lo, hi = block_bounds(k, n_blocks, n)
        np.dot(a[lo:hi], b_t.T, out[lo:hi])


@kernel(parallel=True)
def _gemm_tn_rows(a, b, partial, n_blocks):
    n = a.shape[0]
    for k in prange(n_blocks):
        lo, hi = block_bounds(k, n_blocks, n)
        np.dot(a[lo:hi].T, b[lo:hi], partial[k])


def matmul_nt(a, b):
    """a @ b.T for 2D a (n, k) and b (m, k), rows of a split over the threads."""
    out = np.empty((a.shape[0], b.shape[0]), a.dtype)
    _matmul_rows(a, b, out, _row_blocks(a.shape[0]))
    return out


def _gemm_tn(a, b):
    """sum over t and batch of a[t, b]^T b[t, b]: (T, B, M), (T, B, N) -> (M, N)."""
    a2, b2 = a.reshape(-1, a.shape[2]), b.reshape(-1, b.shape[2])
    n_blocks = _row_blocks(a2.shape[0])
    partial = np.empty((n_blocks, a2.shape[1], b2.shape[1]), a.dtype)
    _gemm_tn_rows(a2, b2, partial, n_blocks)
    return partial.sum(axis=0)


# --- one direction of one layer -----------------------------------------------------------


def _previous_states(hs, reverse):
    """The state each step starts from (zeros before the first step)."""
    prev = np.zeros_like(hs)
    if reverse:
        prev[:-1] = hs[1:]
    else:
        prev[1:] = hs[:-1]
    return prev


def _block(cell, gate, hidden_size):
    """The slice of a gate's rows in the stacked gate blocks."""
    g = cell.gates.index(gate)
    return slice(g * hidden_size, (g + 1) * hidden_size)


def _full_peepholes(cell, w, hidden_size, dtype):
    full = np.zeros((3, hidden_size), dtype)
    for row, gate in enumerate(cell.peepholes):
        full[PEEPHOLE_ROWS.index(gate)] = w["weight_ch"][row]
    return full


def direction_forward(cell, x, w, lengths, reverse):
    """Run one direction of one layer.

    Parameters
    ----------
    cell : RNNCell, LSTMCell or GRUCell
    x : ndarray of shape (T, B, D)
        Input sequence, time-major, C-contiguous.
    w : dict of ndarray
        ``weight_ih`` (G*H, D), ``weight_hh`` (G*H, H), ``bias_ih``, ``bias_hh``
        (G*H,) and, for a peephole LSTM, ``weight_ch`` (P, H).
    lengths : ndarray of int64, shape (B,)
        Valid steps per sequence.
    reverse : bool
        Run from the last valid step back to step 0.

    Returns
    -------
    hs : ndarray of shape (T, B, H)
        State after each step; padded steps carry the state through.
    cache : tuple
        What :func:`direction_backward` needs.
    """
    with serial_blas():
        return _direction_forward(cell, x, w, lengths, reverse)


def _direction_forward(cell, x, w, lengths, reverse):
    T, B, _ = x.shape
    H = w["weight_hh"].shape[1]
    xproj = matmul_nt(x.reshape(T * B, -1), w["weight_ih"]).reshape(T, B, -1)
    xproj += w["bias_ih"]
    hs = np.empty((T, B, H), x.dtype)
    acts = np.zeros_like(xproj)  # padded steps stay zero: they meet zero gradients in GEMMs
    w_hh, b_hh = w["weight_hh"], w["bias_hh"]
    if cell.name == "rnn":
        cache = (hs,)
        loop, args = rnn_forward, (xproj, w_hh, b_hh, lengths, reverse,
                                   cell.nonlinearity == "relu", hs)
    elif cell.name == "lstm":
        cache = (hs, np.empty_like(hs), acts, _full_peepholes(cell, w, H, x.dtype))
        loop, args = lstm_forward, (xproj, w_hh, b_hh, cache[3], lengths, reverse, cell.coupled,
                                    hs, cache[1], acts)
    else:
        cache = (hs, acts, np.empty_like(hs))
        loop, args = gru_forward, (xproj, w_hh[: 2 * H], w_hh[2 * H :], b_hh, lengths, reverse,
                                   cell.reset_after, hs, acts, cache[2])
    loop(*args, _row_blocks(B))
    return hs, cache


def gate_activations(cell, cache):
    """Gate activations (T, B, H) by name from a :func:`direction_forward` cache."""
    if cell.name == "rnn":
        return {}
    acts = cache[2] if cell.name == "lstm" else cache[1]
    H = cache[0].shape[2]
    gates = {g: acts[:, :, _block(cell, g, H)] for g in cell.gates}
    if cell.name == "lstm" and cell.coupled:
        gates = {"i": 1.0 - gates["f"], **gates}
    return gates


def direction_backward(cell, x, w, cache, dhs, lengths, reverse):
    """Backprop through time for one direction of one layer.

    Parameters
    ----------
    cell, x, w, lengths, reverse
        As given to :func:`direction_forward`.
    cache : tuple
        As returned by :func:`direction_forward`.
    dhs : ndarray of shape (T, B, H), C-contiguous
        dL/dh_t from the layer above or the head (the final state's gradient
        included). Overwritten with the total dL/dh_t, through later steps too.

    Returns
    -------
    dx : ndarray of shape (T, B, D)
        Gradient of the input sequence.
    grads : dict of ndarray
        Gradients of the parameters in ``w``, same names and shapes.
    state_grads : dict of ndarray
        ``"h"``: the total dL/dh_t (``dhs``); for an LSTM also ``"c"``: dL/dc_t.
    """
    with serial_blas():
        return _direction_backward(cell, x, w, cache, dhs, lengths, reverse)


def _direction_backward(cell, x, w, cache, dhs, lengths, reverse):
    T, B, D = x.shape
    w_hh = w["weight_hh"]
    H = w_hh.shape[1]
    hs = cache[0]
    dxproj = np.empty((T, B, w_hh.shape[0]), hs.dtype)
    if cell.name == "rnn":
        loop, args = rnn_backward, (dhs, hs, w_hh, lengths, reverse,
                                    cell.nonlinearity == "relu", dxproj)
    elif cell.name == "lstm":
        _, cs, acts, peep = cache
        dcs = np.empty_like(hs)
        loop, args = lstm_backward, (dhs, acts, cs, w_hh, peep, lengths, reverse, cell.coupled,
                                     dxproj, dcs)
    else:
        _, acts, hn = cache
        dhn = np.empty_like(hs)
        loop, args = gru_backward, (dhs, acts, hn, hs, w_hh[: 2 * H], w_hh[2 * H :], lengths,
                                    reverse, cell.reset_after, dxproj, dhn)
    loop(*args, _row_blocks(B))

    prev = _previous_states(hs, reverse)
    grads = {"weight_ih": _gemm_tn(dxproj, x), "bias_ih": dxproj.sum(axis=(0, 1))}
    if cell.name == "gru":
        n_input = prev if cell.reset_after else acts[:, :, :H] * prev
        grads["weight_hh"] = np.concatenate(
            [_gemm_tn(dxproj[:, :, : 2 * H], prev), _gemm_tn(dhn, n_input)])
        grads["bias_hh"] = np.concatenate(
            [grads["bias_ih"][: 2 * H], dhn.sum(axis=(0, 1))])
    else:
        grads["weight_hh"] = _gemm_tn(dxproj, prev)
        grads["bias_hh"] = grads["bias_ih"]
    if cell.peepholes:
        # the i and f pre-activations see c_{t-1}, the o pre-activation sees c_t
        seen = {"i": _previous_states(cs, reverse), "o": cs}
        seen["f"] = seen["i"]
        grads["weight_ch"] = np.stack([(dxproj[:, :, _block(cell, g, H)] * seen[g]).sum(axis=(0, 1))
                                       for g in cell.peepholes])
    dx = matmul_nt(dxproj.reshape(T * B, -1), np.ascontiguousarray(w["weight_ih"].T)).reshape(T, B, D)
    state_grads = {"h": dhs, "c": dcs} if cell.name == "lstm" else {"h": dhs}
    return dx, grads, state_grads
