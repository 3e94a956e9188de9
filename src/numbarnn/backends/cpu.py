"""CPU backend: the time loops compiled with Numba, the big GEMMs in BLAS.

Layout: time-major arrays, ``x`` (T, B, D), hidden states ``hs`` (T, B, H).
A padded step (t >= lengths[b]) carries the state through unchanged, so the
state after the last valid step sits at t = T - 1 (forward) or t = 0 (reverse),
and ``hs`` at a step that came before (in processing order) is always the true
previous state. Gradients flow back through padded steps unchanged too.

Each of Numba's threads takes a block of batch rows and runs the whole time loop
for it: a step's product of [x_t, h_{t-1}, 1] with the stacked weights and bias
(single-threaded BLAS, one call for the input, the recurrence and the bias) and the rows'
gate math. Rows are independent, so the threads never wait for each other, and results
depend only on the number of threads. Every weight gradient is a GEMM over all T * B rows
after the backward loop; for the RNN and the LSTM the same GEMM gives the bias gradient.
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
def _rnn_row(z, h, relu):
    """h = step(z), z holding [x_t, h_{t-1}, 1] [W_ih, W_hh, b]^T."""
    for j in range(h.size):
        h[j] = rnn.step(z[j], relu)


@kernel
def _rnn_row_grad(dh, h, relu, da):
    for j in range(h.size):
        da[j] = rnn.step_grad(dh[j], h[j], relu)


@kernel
def _lstm_row(z, c, h, a, p_i, p_f, p_o, coupled):
    """One step of one row: z (G,) holds [x_t, h_{t-1}, 1] [W_ih, W_hh, b]^T; c and h are
    updated in place, a receives the gate activations."""
    H = c.size
    fo = 0 if coupled else H
    go, oo = fo + H, fo + 2 * H
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
def _gru_row_gates(z, h, a, hr):
    """The r and z gates of one row (z holds [x_t, h_{t-1}, 1] [W_i, W_h, b]^T for r and z)
    and r * h_{t-1} into hr."""
    H = h.size
    for j in range(H):
        r = sigmoid(z[j])
        a[j] = r
        a[H + j] = sigmoid(z[H + j])
        hr[j] = r * h[j]


@kernel
def _gru_row_state(z_n, x_n, b_in, b_hn, h, a, hn, reset_after):
    """The n gate and the new state of one row: x_n holds x_t W_in^T, z_n holds
    h_{t-1} W_hn^T (reset after) or (r * h_{t-1}) W_hn^T (reset before)."""
    H = h.size
    for j in range(H):
        hn[j] = z_n[j] + b_hn[j]
        a[2 * H + j], h[j] = gru.step(a[j], a[H + j], x_n[j] + b_in[j], hn[j], h[j],
                                      reset_after)


@kernel
def _gru_row_grad(dh, a, hn, h_prev, reset_after, drz, da_n, dhn, direct):
    H = dh.size
    for j in range(H):
        drz[j], drz[H + j], da_n[j], dhn[j], direct[j] = gru.step_grad(
            dh[j], a[j], a[H + j], a[2 * H + j], hn[j], h_prev[j], reset_after)


# --- the time loops ---------------------------------------------------------------------
#
# Batch rows are independent in the recurrence, so each of Numba's threads takes a block
# of rows and runs all T steps for it: one fork and join per call, not one per step.
# Forward, a step's input and recurrent products and its bias are one product of
# [x_t, h_{t-1}, 1] (copied side by side into ``xh``) with the stacked weights and bias;
# there is no (T, B, G) input projection to write and read back. Where the loops receive
# ``acts`` (and ``cs``, ``hn``) with a first dimension of 1 instead of T, they keep nothing
# for BPTT (inference).


@kernel
def _stack(x, h, xh):
    """[x, h, 1] side by side into ``xh`` (rows, D + H + 1): the constant 1 carries the
    bias in the step's product, and gives the bias gradient in the weight-gradient GEMM."""
    D, H = x.shape[1], h.shape[1]
    for r in range(xh.shape[0]):
        xh[r, :D] = x[r]
        xh[r, D : D + H] = h[r]
        xh[r, D + H] = ONE


@kernel
def _carry_back(da, w_cat, dxh, dx, dhs, lengths, t):
    """One backward step's product for a block of rows: [dx_t, dh_{t-1}] = da [W_ih, W_hh];
    a padded step (t >= length) passes its dL/dh_t on unchanged."""
    D = dx.shape[1]
    np.dot(da, w_cat, dxh)
    dx[:] = dxh[:, :D]
    for r in range(dxh.shape[0]):
        if t >= lengths[r]:
            dxh[r, D:] += dhs[r]


@kernel
def _step_index(t, kept):
    """Where step t's cache goes: t, or 0 in a one-step scratch buffer (inference)."""
    return t if kept.shape[0] > 1 else 0


@kernel(parallel=True)
def rnn_forward(x, w_t, lengths, reverse, relu, hs, xhs, n_blocks):
    """Run the recurrence over ``x`` (T, B, D); ``w_t`` (D + H + 1, H) is [W_ih, W_hh, b]^T
    with b = b_ih + b_hh. Fills ``hs`` (T, B, H) and ``xhs`` (T, B, D + H + 1) with each
    step's [x_t, h_{t-1}, 1]."""
    T, B, H = hs.shape
    for k in prange(n_blocks):
        lo, hi = block_bounds(k, n_blocks, B)
        h = np.zeros((hi - lo, H), hs.dtype)
        z = np.empty((hi - lo, H), hs.dtype)
        for s in range(T):
            t = T - 1 - s if reverse else s
            xh = xhs[_step_index(t, xhs), lo:hi]
            _stack(x[t, lo:hi], h, xh)
            np.dot(xh, w_t, z)
            for r in range(hi - lo):
                if t < lengths[lo + r]:
                    _rnn_row(z[r], h[r], relu)
            hs[t, lo:hi] = h


@kernel(parallel=True)
def rnn_backward(dhs, hs, w_cat, lengths, reverse, relu, dxproj, dx, n_blocks):
    """BPTT; fills ``dxproj`` = dL/d(pre-activation) and ``dx`` (T, B, D), through
    ``w_cat`` = [W_ih, W_hh].

    ``dhs`` (T, B, H) holds dL/dh_t from above on entry and the total dL/dh_t
    (through later steps too) on return.
    """
    T, B, H = hs.shape
    D = dx.shape[2]
    for k in prange(n_blocks):
        lo, hi = block_bounds(k, n_blocks, B)
        dxh = np.zeros((hi - lo, D + H), hs.dtype)  # [dx_t, dh_{t-1}]
        for s in range(T):
            t = s if reverse else T - 1 - s
            for r in range(hi - lo):
                b = lo + r
                dhs[t, b] += dxh[r, D:]
                if t < lengths[b]:
                    _rnn_row_grad(dhs[t, b], hs[t, b], relu, dxproj[t, b])
                else:
                    dxproj[t, b] = 0.0
            _carry_back(dxproj[t, lo:hi], w_cat, dxh, dx[t, lo:hi], dhs[t, lo:hi],
                        lengths[lo:hi], t)


@kernel(parallel=True)
def lstm_forward(x, w_t, peep, lengths, reverse, coupled, hs, cs, acts, xhs, n_blocks):
    """Run the recurrence; ``w_t`` (D + H + 1, G) is [W_ih, W_hh, b]^T with b = b_ih + b_hh,
    and ``peep`` (3, H) the i, f, o peephole weights (zeros if none).

    Fills ``hs`` (T, B, H), ``cs`` (T, B, H), ``acts`` (T, B, G), the gate activations
    (zero at padded steps), and ``xhs`` (T, B, D + H + 1) with each step's
    [x_t, h_{t-1}, 1].
    """
    T, B, H = hs.shape
    for k in prange(n_blocks):
        lo, hi = block_bounds(k, n_blocks, B)
        h = np.zeros((hi - lo, H), hs.dtype)
        c = np.zeros((hi - lo, H), hs.dtype)
        z = np.empty((hi - lo, w_t.shape[1]), hs.dtype)
        for s in range(T):
            t = T - 1 - s if reverse else s
            tk = _step_index(t, acts)
            xh = xhs[tk, lo:hi]
            _stack(x[t, lo:hi], h, xh)
            np.dot(xh, w_t, z)
            for r in range(hi - lo):
                b = lo + r
                if t < lengths[b]:
                    _lstm_row(z[r], c[r], h[r], acts[tk, b],
                              peep[0], peep[1], peep[2], coupled)
                else:
                    acts[tk, b] = 0.0
                cs[tk, b] = c[r]
            hs[t, lo:hi] = h


@kernel(parallel=True)
def lstm_backward(dhs, acts, cs, w_cat, peep, lengths, reverse, coupled, dxproj, dcs, dx,
                  n_blocks):
    """BPTT; fills ``dxproj`` (T, B, G*H), the gradient of the gate pre-activations, and
    ``dx`` (T, B, D), through ``w_cat`` = [W_ih, W_hh].

    ``dhs`` (T, B, H) holds dL/dh_t from above on entry and the total dL/dh_t on
    return; ``dcs`` receives the total dL/dc_t.
    """
    T, B, H = dhs.shape
    D = dx.shape[2]
    no_state = np.zeros(H, dhs.dtype)
    for k in prange(n_blocks):
        lo, hi = block_bounds(k, n_blocks, B)
        dxh = np.zeros((hi - lo, D + H), dhs.dtype)  # [dx_t, dh_{t-1}]
        dc = np.zeros((hi - lo, H), dhs.dtype)
        for s in range(T):
            t = s if reverse else T - 1 - s
            tp = t + 1 if reverse else t - 1
            for r in range(hi - lo):
                b = lo + r
                dhs[t, b] += dxh[r, D:]
                if t < lengths[b]:
                    _lstm_row_grad(dhs[t, b], dc[r], acts[t, b], cs[t, b],
                                   cs[tp, b] if 0 <= tp < T else no_state,
                                   peep[0], peep[1], peep[2], coupled, dxproj[t, b], dcs[t, b])
                else:
                    dxproj[t, b] = 0.0
                    dcs[t, b] = dc[r]
            _carry_back(dxproj[t, lo:hi], w_cat, dxh, dx[t, lo:hi], dhs[t, lo:hi],
                        lengths[lo:hi], t)


@kernel(parallel=True)
def gru_forward(x, w_t, w_in_t, w_hn_t, b_n, lengths, reverse, reset_after, hs, acts, hn, xhs,
                n_blocks):
    """Run the recurrence; ``w_t`` (D + H + 1, 2H) is [W_i, W_h, b]^T for the r and z gates,
    b their summed biases; ``w_in_t`` (D, H) and ``w_hn_t`` (H, H) are the n gate's
    input and recurrent weights, transposed, and ``b_n`` (2, H) its b_in and b_hn.

    Fills ``hs`` (T, B, H), ``acts`` (T, B, 3H) with r, z, n (zero at padded steps) and
    ``hn`` (T, B, H) with the recurrent part of n before the reset gate is applied
    (reset after) or W_hn (r * h) + b_hn (reset before); ``xhs`` (1, B, D + H + 1) is scratch.
    """
    T, B, H = hs.shape
    for k in prange(n_blocks):
        lo, hi = block_bounds(k, n_blocks, B)
        h = np.zeros((hi - lo, H), hs.dtype)
        hr = np.zeros((hi - lo, H), hs.dtype)
        xh = xhs[0, lo:hi]
        z = np.empty((hi - lo, 2 * H), hs.dtype)
        x_n = np.empty((hi - lo, H), hs.dtype)
        z_n = np.empty((hi - lo, H), hs.dtype)
        for s in range(T):
            t = T - 1 - s if reverse else s
            tk = _step_index(t, acts)
            _stack(x[t, lo:hi], h, xh)
            np.dot(xh, w_t, z)
            np.dot(x[t, lo:hi], w_in_t, x_n)
            for r in range(hi - lo):
                if t < lengths[lo + r]:
                    _gru_row_gates(z[r], h[r], acts[tk, lo + r], hr[r])
            np.dot(h if reset_after else hr, w_hn_t, z_n)
            for r in range(hi - lo):
                b = lo + r
                if t < lengths[b]:
                    _gru_row_state(z_n[r], x_n[r], b_n[0], b_n[1], h[r], acts[tk, b], hn[tk, b],
                                   reset_after)
                else:
                    acts[tk, b] = 0.0
            hs[t, lo:hi] = h


@kernel(parallel=True)
def gru_backward(dhs, acts, hn, hs, w_rz, w_n, lengths, reverse, reset_after, dxproj, dhn, n_blocks):
    """BPTT; fills ``dxproj`` (T, B, 3H) and ``dhn`` (T, B, H), the gradient of ``hn``.

    ``dhs`` (T, B, H) holds dL/dh_t from above on entry and the total dL/dh_t on
    return.
    """
    T, B, H = dhs.shape
    no_state = np.zeros(H, dhs.dtype)
    for k in prange(n_blocks):
        lo, hi = block_bounds(k, n_blocks, B)
        dh = np.zeros((hi - lo, H), dhs.dtype)
        direct = np.empty((hi - lo, H), dhs.dtype)
        drz = np.empty((hi - lo, 2 * H), dhs.dtype)
        rec = np.empty((hi - lo, H), dhs.dtype)
        for s in range(T):
            t = s if reverse else T - 1 - s
            tp = t + 1 if reverse else t - 1
            for r in range(hi - lo):
                b = lo + r
                dhs[t, b] += dh[r]
                if t < lengths[b]:
                    _gru_row_grad(dhs[t, b], acts[t, b], hn[t, b],
                                  hs[tp, b] if 0 <= tp < T else no_state, reset_after,
                                  drz[r], dxproj[t, b, 2 * H :], dhn[t, b], direct[r])
                else:
                    drz[r] = 0.0
                    dxproj[t, b] = 0.0
                    dhn[t, b] = 0.0
                    direct[r] = dhs[t, b]
            np.dot(dhn[t, lo:hi], w_n, rec)
            for r in range(hi - lo):
                b = lo + r
                if reset_after:
                    direct[r] += rec[r]
                elif t < lengths[b]:
                    h_prev = hs[tp, b] if 0 <= tp < T else no_state
                    for j in range(H):
                        g = acts[t, b, j]
                        drz[r, j] = rec[r, j] * h_prev[j] * g * (ONE - g)
                        direct[r, j] += rec[r, j] * g
            np.dot(drz, w_rz, dh)
            dh += direct
            dxproj[t, lo:hi, : 2 * H] = drz


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


class Workspace:
    """Arrays handed out again from one training step to the next.

    A train step asks for the same large arrays every time (about 350 MB for an LSTM
    at L). Fresh from the allocator, arrays that size are new pages from the system,
    faulted in and zeroed on first touch at every step; handing the last step's arrays
    out again took a loop of LSTM train steps at M from 51 to 31 ms a step, and an
    LSTM fit at L from 352 to 316. An array from a workspace is overwritten by the
    next pass that uses it.
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


def direction_forward(cell, x, w, lengths, reverse, keep=True, workspace=None):
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
    keep : bool, default=True
        Keep what backprop through time needs; False (inference) stores no gate
        activations or cell states.
    workspace : Workspace, optional
        Where the states and the cache come from (default: new arrays).

    Returns
    -------
    hs : ndarray of shape (T, B, H)
        State after each step; padded steps carry the state through.
    cache : tuple or None
        What :func:`direction_backward` needs; None unless ``keep``.
    """
    with serial_blas():
        return _direction_forward(cell, x, w, lengths, reverse, keep,
                                  workspace if workspace is not None else Workspace())


def _stacked_t(w_ih, w_hh, bias):
    """[W_ih, W_hh, bias]^T, C-contiguous: the weights of [x_t, h_{t-1}, 1]."""
    return np.ascontiguousarray(np.concatenate((w_ih, w_hh, bias[:, None]), axis=1).T)


def _direction_forward(cell, x, w, lengths, reverse, keep, ws):
    T, B, D = x.shape
    w_ih, w_hh, b_ih, b_hh = w["weight_ih"], w["weight_hh"], w["bias_ih"], w["bias_hh"]
    G, H = w_hh.shape
    steps = T if keep else 1  # without BPTT to come, the loops keep one step of scratch
    hs = ws.empty("hs", (T, B, H), x.dtype)
    acts = ws.empty("acts", (steps, B, G), x.dtype)
    xhs = ws.empty("xhs", (1 if cell.name == "gru" else steps, B, D + H + 1), x.dtype)
    if cell.name == "rnn":
        cache = (hs, xhs)
        loop, args = rnn_forward, (x, _stacked_t(w_ih, w_hh, b_ih + b_hh), lengths, reverse,
                                   cell.nonlinearity == "relu", hs, xhs)
    elif cell.name == "lstm":
        cache = (hs, ws.empty("cs", (steps, B, H), x.dtype), acts,
                 _full_peepholes(cell, w, H, x.dtype), xhs)
        loop, args = lstm_forward, (x, _stacked_t(w_ih, w_hh, b_ih + b_hh), cache[3], lengths,
                                    reverse, cell.coupled, hs, cache[1], acts, xhs)
    else:
        cache = (hs, acts, ws.empty("hn", (steps, B, H), x.dtype))
        loop, args = gru_forward, (
            x, _stacked_t(w_ih[: 2 * H], w_hh[: 2 * H], b_ih[: 2 * H] + b_hh[: 2 * H]),
            np.ascontiguousarray(w_ih[2 * H :].T), np.ascontiguousarray(w_hh[2 * H :].T),
            np.stack((b_ih[2 * H :], b_hh[2 * H :])), lengths, reverse, cell.reset_after, hs,
            acts, cache[2], xhs)
    loop(*args, _row_blocks(B))
    return hs, (cache if keep else None)


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


def direction_backward(cell, x, w, cache, dhs, lengths, reverse, workspace=None):
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
    workspace : Workspace, optional
        Where the gradients of the gates, states and input come from (default: new
        arrays).

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
        return _direction_backward(cell, x, w, cache, dhs, lengths, reverse,
                                   workspace if workspace is not None else Workspace())


def _direction_backward(cell, x, w, cache, dhs, lengths, reverse, ws):
    T, B, D = x.shape
    w_ih, w_hh = w["weight_ih"], w["weight_hh"]
    H = w_hh.shape[1]
    hs = cache[0]
    dxproj = ws.empty("dxproj", (T, B, w_hh.shape[0]), hs.dtype)
    if cell.name != "gru":  # the GRU's dx is one product after the loop
        dx, w_cat = ws.empty("dx", x.shape, x.dtype), np.concatenate((w_ih, w_hh), axis=1)
    if cell.name == "rnn":
        xhs = cache[1]
        loop, args = rnn_backward, (dhs, hs, w_cat, lengths, reverse,
                                    cell.nonlinearity == "relu", dxproj, dx)
    elif cell.name == "lstm":
        _, cs, acts, peep, xhs = cache
        dcs = ws.empty("dcs", hs.shape, hs.dtype)
        loop, args = lstm_backward, (dhs, acts, cs, w_cat, peep, lengths, reverse, cell.coupled,
                                     dxproj, dcs, dx)
    else:
        _, acts, hn = cache
        dhn = ws.empty("dhn", hs.shape, hs.dtype)
        loop, args = gru_backward, (dhs, acts, hn, hs, w_hh[: 2 * H], w_hh[2 * H :], lengths,
                                    reverse, cell.reset_after, dxproj, dhn)
    loop(*args, _row_blocks(B))

    if cell.name == "gru":
        grads = {"bias_ih": dxproj.sum(axis=(0, 1))}
        prev = _previous_states(hs, reverse)
        n_input = prev if cell.reset_after else acts[:, :, :H] * prev
        grads["weight_ih"] = _gemm_tn(dxproj, x)
        grads["weight_hh"] = np.concatenate(
            [_gemm_tn(dxproj[:, :, : 2 * H], prev), _gemm_tn(dhn, n_input)])
        grads["bias_hh"] = np.concatenate(
            [grads["bias_ih"][: 2 * H], dhn.sum(axis=(0, 1))])
        dx = matmul_nt(dxproj.reshape(T * B, -1), np.ascontiguousarray(w_ih.T)).reshape(T, B, D)
    else:  # one product gives all three: the forward kept each step's [x_t, h_{t-1}, 1]
        g = _gemm_tn(dxproj, xhs)
        grads = {"weight_ih": g[:, :D], "weight_hh": g[:, D : D + H], "bias_ih": g[:, D + H],
                 "bias_hh": g[:, D + H]}
    if cell.peepholes:
        # the i and f pre-activations see c_{t-1}, the o pre-activation sees c_t
        seen = {"i": _previous_states(cs, reverse), "o": cs}
        seen["f"] = seen["i"]
        grads["weight_ch"] = np.stack([(dxproj[:, :, _block(cell, g, H)] * seen[g]).sum(axis=(0, 1))
                                       for g in cell.peepholes])
    state_grads = {"h": dhs, "c": dcs} if cell.name == "lstm" else {"h": dhs}
    return dx, grads, state_grads
