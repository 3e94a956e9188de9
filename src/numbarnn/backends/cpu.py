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
from .blas import accumulate_nt

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
def _rnn_gates(z, h, relu, valid, kept):
    """One step of a block of R rows, feature-major: h (H, R) = step(z), z holding
    [W_ih, W_hh, b] [x_t, h_{t-1}, 1]; a padded row (not ``valid``) keeps its state, by
    way of ``kept`` (H, R): put right after the unit loop, which LLVM vectorizes only
    without such a condition."""
    H, R = h.shape
    padded = not valid.all()
    if padded:
        kept[:] = h
    for j in range(H):
        for r in range(R):
            h[j, r] = rnn.step(z[j, r], relu)
    if padded:
        for r in range(R):
            if not valid[r]:
                h[:, r] = kept[:, r]


@kernel
def _rnn_gates_grad(dh, h, relu, valid, da):
    """Backward of :func:`_rnn_gates`: da (H, R), the gradient of the pre-activation,
    from dh, the total dL/dh_t; zero in a padded row."""
    H, R = h.shape
    for j in range(H):
        for r in range(R):
            da[j, r] = rnn.step_grad(dh[j, r], h[j, r], relu)
    if not valid.all():
        for r in range(R):
            if not valid[r]:
                da[:, r] = 0.0


@kernel
def _lstm_gates(z, c, h, peep, valid, coupled, a, kept):
    """One step of a block of R rows, feature-major: z (G, R) holds
    [W_ih, W_hh, b] [x_t, h_{t-1}, 1]; c and h (H, R) are updated in place; a (G, R)
    receives the gate activations. A padded row (not ``valid``) keeps its state, by way
    of ``kept`` (2, H, R), and gets zero activations: put right after the unit loop,
    which LLVM vectorizes only without such a condition."""
    H, R = c.shape
    fo = 0 if coupled else H
    go, oo = fo + H, fo + 2 * H
    padded = not valid.all()
    if padded:
        kept[0] = c
        kept[1] = h
    for j in range(H):
        p_i, p_f, p_o = peep[0, j], peep[1, j], peep[2, j]
        for r in range(R):
            i, f, g, o, c[j, r], h[j, r] = lstm.step(z[j, r], z[fo + j, r], z[go + j, r],
                                                     z[oo + j, r], c[j, r], p_i, p_f, p_o,
                                                     coupled)
            a[j, r] = i  # coupled: fo = 0, so f overwrites it next
            a[fo + j, r], a[go + j, r], a[oo + j, r] = f, g, o
    if padded:
        for r in range(R):
            if not valid[r]:
                c[:, r] = kept[0, :, r]
                h[:, r] = kept[1, :, r]
                a[:, r] = 0.0


@kernel
def _lstm_gates_grad(dh, dc, a, c, c_prev, peep, valid, coupled, da, dcs, kept):
    """Backward of :func:`_lstm_gates` for a block of rows: dh (H, R) is the total dL/dh_t;
    dc (H, R) carries dL/dc from step t + 1 to step t - 1 in place; fills da (G, R), the
    gradient of the gate pre-activations, and dcs (H, R), the total dL/dc_t. A padded
    row gets zero gradients and carries dL/dc through, by way of ``kept`` (H, R)."""
    H, R = dh.shape
    fo = 0 if coupled else H
    go, oo = fo + H, fo + 2 * H
    padded = not valid.all()
    if padded:
        kept[:] = dc
    for j in range(H):
        p_i, p_f, p_o = peep[0, j], peep[1, j], peep[2, j]
        for r in range(R):
            f = a[fo + j, r]
            i = ONE - f if coupled else a[j, r]
            d_i, d_f, d_g, d_o, dcs[j, r], dc[j, r] = lstm.step_grad(
                dh[j, r], dc[j, r], i, f, a[go + j, r], a[oo + j, r], c[j, r], c_prev[j, r],
                p_i, p_f, p_o, coupled)
            da[j, r] = d_i  # coupled: overwritten by d_f
            da[fo + j, r], da[go + j, r], da[oo + j, r] = d_f, d_g, d_o
    if padded:
        for r in range(R):
            if not valid[r]:
                da[:, r] = 0.0
                dcs[:, r] = kept[:, r]
                dc[:, r] = kept[:, r]


@kernel
def _peephole_grad(da, c_prev, c, coupled, dpeep):
    """Adds one step's gradient of the i, f, o peephole weights to ``dpeep`` (3, H): the
    i and f gates see c_{t-1}, the o gate sees c_t."""
    H, R = c.shape
    fo = 0 if coupled else H
    for j in range(H):
        for r in range(R):
            if not coupled:
                dpeep[0, j] += da[j, r] * c_prev[j, r]
            dpeep[1, j] += da[fo + j, r] * c_prev[j, r]
            dpeep[2, j] += da[fo + 2 * H + j, r] * c[j, r]


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
def _blocked(cache, steps, X, lo, hi):
    """Rows [lo, hi)'s part of a blocked cache, (steps, X, hi - lo): each block of rows
    owns a contiguous part, where each step is one contiguous (X, R) tile."""
    return cache[steps * X * lo : steps * X * hi].reshape((steps, X, hi - lo))


@kernel
def _load_step(x, t, lo, lengths, h, xh, valid):
    """Step t of rows lo .. lo + R: [x_t, h_{t-1}, 1] into the tile ``xh`` (K, R), from
    ``x`` (T, B, D) and the state h (H, R), and whether each row's step is ``valid``
    (not padding). The constant 1 carries the bias in the step's product, and gives the
    bias gradient in the weight-gradient product."""
    D = x.shape[2]
    H, R = h.shape
    for r in range(R):
        valid[r] = t < lengths[lo + r]
        for d in range(D):
            xh[d, r] = x[t, lo + r, d]
    xh[D : D + H] = h
    xh[D + H] = ONE


@kernel
def _store_rows(tile, out, t, lo):
    """out[t, lo + r] = tile[:, r]: a feature-major tile (X, R) into a (T, B, X) array."""
    X, R = tile.shape
    for r in range(R):
        for j in range(X):
            out[t, lo + r, j] = tile[j, r]


@kernel
def _load_rows(inp, t, lo, tile):
    """tile[:, r] = inp[t, lo + r]: the inverse of :func:`_store_rows`."""
    X, R = tile.shape
    for r in range(R):
        for j in range(X):
            tile[j, r] = inp[t, lo + r, j]


@kernel
def _gather_dh(dhs, t, lo, lengths, carried, dh, valid):
    """dh (H, R) = dL/dh_t from above (``dhs`` (T, B, H), rows lo .. lo + R) plus
    ``carried`` (H, R) from step t + 1: the total dL/dh_t, also written back to ``dhs``;
    and whether each row's step is ``valid`` (not padding)."""
    H, R = dh.shape
    for r in range(R):
        valid[r] = t < lengths[lo + r]
        for j in range(H):
            dh[j, r] = dhs[t, lo + r, j] + carried[j, r]
            dhs[t, lo + r, j] = dh[j, r]


@kernel
def _carry_back(dxh, dx, t, lo, valid, dh):
    """After a backward step's product dxh = [dx_t, dh_{t-1}] (D + H, R): dx_t into
    ``dx`` (T, B, D); a padded row passes its dL/dh_t (in ``dh``) on unchanged."""
    D = dx.shape[2]
    H, R = dh.shape
    _store_rows(dxh[:D], dx, t, lo)
    for r in range(R):
        if not valid[r]:
            for j in range(H):
                dxh[D + j, r] += dh[j, r]


@kernel(parallel=True)
def rnn_forward(x, w, lengths, reverse, relu, hs, xhs, n_blocks):
    """Run the recurrence; ``w`` (H, K) is [W_ih, W_hh, b] with b = b_ih + b_hh and
    K = D + H + 1. Fills ``hs`` (T, B, H) and the blocked cache ``xhs``: (steps, K) tiles
    of [x_t, h_{t-1}, 1], where steps is T, or 1 for inference (scratch)."""
    T, B, H = hs.shape
    K = w.shape[1]
    steps = xhs.size // (K * B)
    for k in prange(n_blocks):
        lo, hi = block_bounds(k, n_blocks, B)
        xh_k = _blocked(xhs, steps, K, lo, hi)
        h = np.zeros((H, hi - lo), hs.dtype)
        z = np.empty((H, hi - lo), hs.dtype)
        kept = np.empty((H, hi - lo), hs.dtype)
        valid = np.empty(hi - lo, np.bool_)
        for s in range(T):
            t = T - 1 - s if reverse else s
            xh = xh_k[t if steps > 1 else 0]
            _load_step(x, t, lo, lengths, h, xh, valid)
            np.dot(w, xh, z)
            _rnn_gates(z, h, relu, valid, kept)
            _store_rows(h, hs, t, lo)


@kernel(parallel=True)
def rnn_backward(dhs, hs, xhs, w_cat_t, lengths, reverse, relu, dx, dw, n_blocks):
    """BPTT over the blocked cache of :func:`rnn_forward`, through ``w_cat_t`` =
    [W_ih, W_hh]^T (D + H, H). Fills ``dx`` (T, B, D) and ``dw[k]`` (H, K), block k's share
    of the gradient of [W_ih, W_hh, b]. ``dhs`` (T, B, H) holds dL/dh_t from above on
    entry and the total dL/dh_t on return."""
    T, B, H = dhs.shape
    K = dw.shape[2]
    for k in prange(n_blocks):
        lo, hi = block_bounds(k, n_blocks, B)
        R = hi - lo
        xh_k = _blocked(xhs, T, K, lo, hi)
        dw[k] = 0.0
        dxh = np.zeros((K - 1, R), dhs.dtype)  # [dx_t, dh_{t-1}]
        dh = np.empty((H, R), dhs.dtype)
        h = np.empty((H, R), dhs.dtype)
        da = np.empty((H, R), dhs.dtype)
        valid = np.empty(R, np.bool_)
        for s in range(T):
            t = s if reverse else T - 1 - s
            _gather_dh(dhs, t, lo, lengths, dxh[K - 1 - H :], dh, valid)
            _load_rows(hs, t, lo, h)
            _rnn_gates_grad(dh, h, relu, valid, da)
            np.dot(w_cat_t, da, dxh)
            accumulate_nt(da, xh_k[t], dw[k])
            _carry_back(dxh, dx, t, lo, valid, dh)


@kernel(parallel=True)
def lstm_forward(x, w, peep, lengths, reverse, coupled, hs, cs, acts, xhs, n_blocks):
    """Run the recurrence; ``w`` (G, K) is [W_ih, W_hh, b] with b = b_ih + b_hh and
    K = D + H + 1, ``peep`` (3, H) the i, f, o peephole weights (zeros if none).

    Each thread keeps its block of R rows feature-major, [x_t, h_{t-1}, 1] as a (K, R)
    tile, so that a step's product is W @ tile and each gate's block of the result is
    contiguous. Fills ``hs`` (T, B, H) and the blocked caches (see :func:`_blocked`):
    ``xhs`` (steps, K) tiles of [x_t, h_{t-1}, 1], ``acts`` (steps, G) tiles of gate
    activations (zero at padded steps) and ``cs`` (steps, H) tiles of c_t, where steps
    is T, or 1 for inference (scratch, nothing kept).
    """
    T, B, H = hs.shape
    G, K = w.shape
    D = K - H - 1
    steps = xhs.size // (K * B)
    for k in prange(n_blocks):
        lo, hi = block_bounds(k, n_blocks, B)
        R = hi - lo
        xh_k = _blocked(xhs, steps, K, lo, hi)
        a_k = _blocked(acts, steps, G, lo, hi)
        c_k = _blocked(cs, steps, H, lo, hi)
        h = np.zeros((H, R), hs.dtype)
        c = np.zeros((H, R), hs.dtype)
        z = np.empty((G, R), hs.dtype)
        kept = np.empty((2, H, R), hs.dtype)
        valid = np.empty(R, np.bool_)
        for s in range(T):
            t = T - 1 - s if reverse else s
            tk = t if steps > 1 else 0
            _load_step(x, t, lo, lengths, h, xh_k[tk], valid)
            np.dot(w, xh_k[tk], z)
            _lstm_gates(z, c, h, peep, valid, coupled, a_k[tk], kept)
            c_k[tk] = c
            _store_rows(h, hs, t, lo)


@kernel(parallel=True)
def lstm_backward(dhs, acts, cs, xhs, w_cat_t, peep, lengths, reverse, coupled, peephole, dcs,
                  dx, dw, dpeep, n_blocks):
    """BPTT over the blocked caches of :func:`lstm_forward`, through ``w_cat_t`` =
    [W_ih, W_hh]^T (D + H, G).

    Fills ``dx`` (T, B, D), ``dcs`` (T, B, H), the total dL/dc_t, and for each block of
    rows k its share of the gradients: ``dw[k]`` (G, K) of [W_ih, W_hh, b] (a product per
    step with the [x_t, h_{t-1}, 1] tile the forward kept, accumulated in BLAS) and, if
    ``peephole``, ``dpeep[k]`` (3, H) of the peephole weights. ``dhs`` (T, B, H) holds
    dL/dh_t from above on entry and the total dL/dh_t on return.
    """
    T, B, H = dhs.shape
    G, K = dw.shape[1], dw.shape[2]
    D = dx.shape[2]
    for k in prange(n_blocks):
        lo, hi = block_bounds(k, n_blocks, B)
        R = hi - lo
        xh_k = _blocked(xhs, T, K, lo, hi)
        a_k = _blocked(acts, T, G, lo, hi)
        c_k = _blocked(cs, T, H, lo, hi)
        dw[k] = 0.0
        dpeep[k] = 0.0
        dxh = np.zeros((D + H, R), dhs.dtype)  # [dx_t, dh_{t-1}]
        dc = np.zeros((H, R), dhs.dtype)
        dh = np.empty((H, R), dhs.dtype)
        dc_t = np.empty((H, R), dhs.dtype)
        da = np.empty((G, R), dhs.dtype)
        no_state = np.zeros((H, R), dhs.dtype)
        kept = np.empty((H, R), dhs.dtype)
        valid = np.empty(R, np.bool_)
        for s in range(T):
            t = s if reverse else T - 1 - s
            tp = t + 1 if reverse else t - 1
            _gather_dh(dhs, t, lo, lengths, dxh[D:], dh, valid)
            c_prev = c_k[tp] if 0 <= tp < T else no_state
            _lstm_gates_grad(dh, dc, a_k[t], c_k[t], c_prev, peep, valid, coupled, da, dc_t, kept)
            if peephole:
                _peephole_grad(da, c_prev, c_k[t], coupled, dpeep[k])
            np.dot(w_cat_t, da, dxh)
            accumulate_nt(da, xh_k[t], dw[k])
            _carry_back(dxh, dx, t, lo, valid, dh)
            _store_rows(dc_t, dcs, t, lo)


@kernel
def _stack(x, h, xh):
    D, H = x.shape[1], h.shape[1]
    for r in range(xh.shape[0]):
        xh[r, :D] = x[r]
        xh[r, D : D + H] = h[r]
        xh[r, D + H] = ONE


@kernel
def _step_index(t, kept):
    return t if kept.shape[0] > 1 else 0


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


def _stacked(w_ih, w_hh, bias):
    """[W_ih, W_hh, bias]: the weights of [x_t, h_{t-1}, 1]."""
    return np.concatenate((w_ih, w_hh, bias[:, None]), axis=1)


def _stacked_t(w_ih, w_hh, bias):
    """:func:`_stacked` transposed, C-contiguous."""
    return np.ascontiguousarray(_stacked(w_ih, w_hh, bias).T)


def _direction_forward(cell, x, w, lengths, reverse, keep, ws):
    T, B, _ = x.shape
    hs = ws.empty("hs", (T, B, w["weight_hh"].shape[1]), x.dtype)
    steps = T if keep else 1  # without BPTT to come, the loops keep one step of scratch
    cache = _FORWARD[cell.name](cell, x, w, lengths, reverse, hs, steps, _row_blocks(B), ws)
    return hs, (cache if keep else None)


def _rnn_forward(cell, x, w, lengths, reverse, hs, steps, n_blocks, ws):
    T, B, D = x.shape
    xhs = ws.empty("xhs", (steps * (D + hs.shape[2] + 1) * B,), x.dtype)
    rnn_forward(x, _stacked(w["weight_ih"], w["weight_hh"], w["bias_ih"] + w["bias_hh"]),
                lengths, reverse, cell.nonlinearity == "relu", hs, xhs, n_blocks)
    return hs, xhs, n_blocks


def _lstm_forward(cell, x, w, lengths, reverse, hs, steps, n_blocks, ws):
    T, B, D = x.shape
    G, H = w["weight_hh"].shape
    cs, acts, xhs = (ws.empty(name, (steps * size * B,), x.dtype)
                     for name, size in (("cs", H), ("acts", G), ("xhs", D + H + 1)))
    peep = _full_peepholes(cell, w, H, x.dtype)
    lstm_forward(x, _stacked(w["weight_ih"], w["weight_hh"], w["bias_ih"] + w["bias_hh"]), peep,
                 lengths, reverse, cell.coupled, hs, cs, acts, xhs, n_blocks)
    return hs, cs, acts, peep, xhs, n_blocks


def _gru_forward(cell, x, w, lengths, reverse, hs, steps, n_blocks, ws):
    T, B, D = x.shape
    w_ih, w_hh, b_ih, b_hh = w["weight_ih"], w["weight_hh"], w["bias_ih"], w["bias_hh"]
    G, H = w_hh.shape
    acts = ws.empty("acts", (steps, B, G), x.dtype)
    hn = ws.empty("hn", (steps, B, H), x.dtype)
    gru_forward(x, _stacked_t(w_ih[: 2 * H], w_hh[: 2 * H], b_ih[: 2 * H] + b_hh[: 2 * H]),
                np.ascontiguousarray(w_ih[2 * H :].T), np.ascontiguousarray(w_hh[2 * H :].T),
                np.stack((b_ih[2 * H :], b_hh[2 * H :])), lengths, reverse, cell.reset_after, hs,
                acts, hn, ws.empty("xhs", (1, B, D + H + 1), x.dtype), n_blocks)
    return hs, acts, hn


_FORWARD = {"rnn": _rnn_forward, "lstm": _lstm_forward, "gru": _gru_forward}


def gate_activations(cell, cache):
    """Gate activations (T, B, H) by name from a :func:`direction_forward` cache."""
    if cell.name == "rnn":
        return {}
    if cell.name == "lstm":
        T, B, _ = cache[0].shape
        return named_gates(cell, _unblocked(cache[2], T, B, cache[5]))
    return named_gates(cell, cache[1])


def _unblocked(cache, T, B, n_blocks):
    """A blocked cache (see :func:`_blocked`) as an array (T, B, X)."""
    X = cache.size // (T * B)
    parts = [cache[T * X * lo : T * X * hi].reshape(T, X, hi - lo).transpose(0, 2, 1)
             for lo, hi in (block_bounds(k, n_blocks, B) for k in range(n_blocks))]
    return np.concatenate(parts, axis=1)


def named_gates(cell, acts):
    """Gate activations (T, B, H) by name from the stacked activations (T, B, G)."""
    H = acts.shape[2] // len(cell.gates)
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
    return _BACKWARD[cell.name](cell, x, w, cache, dhs, lengths, reverse, ws)


def _stacked_weights_t(w):
    """[W_ih, W_hh]^T, C-contiguous: what a backward step's product needs."""
    return np.ascontiguousarray(np.concatenate((w["weight_ih"], w["weight_hh"]), axis=1).T)


def _weight_grads(g, D, H):
    """The gradients in g = dL/d[W_ih, W_hh, b] (G, D + H + 1) by name."""
    return {"weight_ih": g[:, :D], "weight_hh": g[:, D : D + H], "bias_ih": g[:, D + H],
            "bias_hh": g[:, D + H]}


def _rnn_backward(cell, x, w, cache, dhs, lengths, reverse, ws):
    T, B, D = x.shape
    G, H = w["weight_hh"].shape
    hs, xhs, n_blocks = cache
    dx = ws.empty("dx", x.shape, x.dtype)
    dw = ws.empty("dw", (n_blocks, G, D + H + 1), hs.dtype)
    rnn_backward(dhs, hs, xhs, _stacked_weights_t(w), lengths, reverse,
                 cell.nonlinearity == "relu", dx, dw, n_blocks)
    return dx, _weight_grads(dw.sum(axis=0), D, H), {"h": dhs}


def _lstm_backward(cell, x, w, cache, dhs, lengths, reverse, ws):
    T, B, D = x.shape
    G, H = w["weight_hh"].shape
    hs, cs, acts, peep, xhs, n_blocks = cache
    dx = ws.empty("dx", x.shape, x.dtype)
    dcs = ws.empty("dcs", hs.shape, hs.dtype)
    dw = ws.empty("dw", (n_blocks, G, D + H + 1), hs.dtype)
    dpeep = ws.empty("dpeep", (n_blocks, 3, H), hs.dtype)
    lstm_backward(dhs, acts, cs, xhs, _stacked_weights_t(w), peep, lengths, reverse, cell.coupled,
                  bool(cell.peepholes), dcs, dx, dw, dpeep, n_blocks)
    grads = _weight_grads(dw.sum(axis=0), D, H)
    if cell.peepholes:
        full = dpeep.sum(axis=0)
        grads["weight_ch"] = np.stack([full[PEEPHOLE_ROWS.index(g)] for g in cell.peepholes])
    return dx, grads, {"h": dhs, "c": dcs}


def _gru_backward(cell, x, w, cache, dhs, lengths, reverse, ws):
    T, B, D = x.shape
    w_ih, w_hh = w["weight_ih"], w["weight_hh"]
    G, H = w_hh.shape
    hs, acts, hn = cache
    dxproj = ws.empty("dxproj", (T, B, G), hs.dtype)
    dhn = ws.empty("dhn", hs.shape, hs.dtype)
    gru_backward(dhs, acts, hn, hs, w_hh[: 2 * H], w_hh[2 * H :], lengths, reverse,
                 cell.reset_after, dxproj, dhn, _row_blocks(B))
    grads = {"bias_ih": dxproj.sum(axis=(0, 1))}
    prev = _previous_states(hs, reverse)
    n_input = prev if cell.reset_after else acts[:, :, :H] * prev
    grads["weight_ih"] = _gemm_tn(dxproj, x)
    grads["weight_hh"] = np.concatenate(
        [_gemm_tn(dxproj[:, :, : 2 * H], prev), _gemm_tn(dhn, n_input)])
    grads["bias_hh"] = np.concatenate([grads["bias_ih"][: 2 * H], dhn.sum(axis=(0, 1))])
    # the GRU's dx is one product after the loop
    dx = matmul_nt(dxproj.reshape(T * B, -1), np.ascontiguousarray(w_ih.T)).reshape(T, B, D)
    return dx, grads, {"h": dhs}


_BACKWARD = {"rnn": _rnn_backward, "lstm": _lstm_backward, "gru": _gru_backward}
