"""The CPU's time loops: each of Numba's threads runs a block of rows through every step.

Each loop is written for block k of the rows, [lo, hi) (:func:`block_bounds`), and run
for every block on Numba's threads by :func:`~numbarnn._compile.on_threads`: callers pass
the arguments after ``k``, the number of blocks last.

Interface: time-major arrays, ``x`` (T, B, D), hidden states ``hs`` (T, B, H). A padded
step (t >= lengths[b]) carries the state through unchanged, so the state after the last
valid step sits at t = T - 1 (forward) or t = 0 (reverse). Gradients flow back through
padded steps unchanged too.

Rows are independent, so the threads never wait for each other, and results depend only
on the number of blocks. Inside a block everything is feature-major: a step's input is
the tile [x_t, 1, h_{t-1}] (K, R), K = D + 1 + H, so the step's product is
W (G, K) @ tile with W = [W_ih, b, W_hh] (single-threaded BLAS, one call for the input,
the bias and the recurrence), each gate's block of the result is contiguous for the gate
math (:mod:`.gates`), and backward one product W^T @ dL/da gives both dx_t and
dh_{t-1}. The tiles kept for BPTT sit in blocked caches (:func:`blocked`): each block of
rows owns a contiguous part, one contiguous tile per step, written once and read back
once. Every weight gradient, bias included (through the constant 1), is accumulated in
BLAS step by step from the tiles (:func:`~.blas.accumulate_nt`), into one array per
block, summed at the end: nothing of size (T, B, G) is written in BPTT.
"""

import numba
import numpy as np

from ..._compile import kernel, on_threads
from ...cells.activations import ONE
from .blas import accumulate_nt
from .gates import (
    add_tile,
    copy_tile,
    gru_gates,
    gru_gates_grad,
    gru_reset_grad,
    gru_state,
    lstm_gates,
    lstm_gates_grad,
    peephole_grad,
    rnn_gates,
    rnn_gates_grad,
    unit_sums,
    unit_tiles,
)


def row_blocks(n_rows):
    """Blocks of batch rows for the time loops: one per Numba thread, at most one per row
    (an argument of the kernels: asked for inside one, it would stop Numba caching it)."""
    return min(numba.get_num_threads(), n_rows)


@kernel
def block_bounds(k, n_blocks, n_rows):
    """Rows [lo, hi) of block k."""
    return k * n_rows // n_blocks, (k + 1) * n_rows // n_blocks


@kernel
def blocked(cache, steps, X, lo, hi):
    """Rows [lo, hi)'s part of a blocked cache, (steps, X, hi - lo): each block of rows
    owns a contiguous part, where each step is one contiguous (X, R) tile."""
    return cache[steps * X * lo : steps * X * hi].reshape((steps, X, hi - lo))


@kernel
def _load_step(x, t, lo, lengths, h, xh, valid):
    """Step t of rows lo .. lo + R: [x_t, 1, h_{t-1}] into the tile ``xh`` (K, R), from
    ``x`` (T, B, D) and the state h (H, R), and whether each row's step is ``valid``
    (not padding). The constant 1 carries the bias in the step's product, and gives the
    bias gradient in the weight-gradient product."""
    D = x.shape[2]
    R = h.shape[1]
    for r in range(R):
        valid[r] = t < lengths[lo + r]
        for d in range(D):
            xh[d, r] = x[t, lo + r, d]
    xh[D] = ONE
    copy_tile(h, xh[D + 1 :])


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
    """After a backward step's product dxh = W^T da = [dx_t, (bias), dh_{t-1}] (K, R): dx_t
    into ``dx`` (T, B, D); a padded row passes its dL/dh_t (in ``dh``) on unchanged."""
    D = dx.shape[2]
    H, R = dh.shape
    _store_rows(dxh[:D], dx, t, lo)
    for r in range(R):
        if not valid[r]:
            for j in range(H):
                dxh[D + 1 + j, r] += dh[j, r]


@on_threads
@kernel
def rnn_forward(k, x, w, lengths, reverse, relu, hs, xhs, n_blocks):
    """Run the recurrence; ``w`` (H, K) is [W_ih, b, W_hh] with b = b_ih + b_hh and
    K = D + 1 + H. Fills ``hs`` (T, B, H), or with ``hs`` (1, B, H) the final state alone,
    and the blocked cache ``xhs``: (steps, K) tiles of [x_t, 1, h_{t-1}], where steps is
    T, or 1 for inference (scratch)."""
    T, B = x.shape[0], x.shape[1]
    H = hs.shape[2]
    every_step = hs.shape[0] == T
    K = w.shape[1]
    steps = xhs.size // (K * B)
    lo, hi = block_bounds(k, n_blocks, B)
    xh_k = blocked(xhs, steps, K, lo, hi)
    h = np.zeros((H, hi - lo), hs.dtype)
    z = np.empty((H, hi - lo), hs.dtype)
    kept = np.empty((H, hi - lo), hs.dtype)
    valid = np.empty(hi - lo, np.bool_)
    for s in range(T):
        t = T - 1 - s if reverse else s
        xh = xh_k[t if steps > 1 else 0]
        _load_step(x, t, lo, lengths, h, xh, valid)
        np.dot(w, xh, z)
        rnn_gates(z, h, relu, valid, kept)
        if every_step:
            _store_rows(h, hs, t, lo)
    if not every_step:
        _store_rows(h, hs, 0, lo)


@on_threads
@kernel
def rnn_backward(k, dhs, hs, xhs, w_t, lengths, reverse, relu, dx, dw, n_blocks):
    """BPTT over the blocked cache of :func:`rnn_forward`, through ``w_t`` (K, H), the
    forward's ``w`` transposed. Fills ``dx`` (T, B, D) and ``dw[k]`` (H, K), block k's
    share of the gradient of ``w``. ``dhs`` (T, B, H) holds dL/dh_t from above on entry
    and the total dL/dh_t on return."""
    T, B, H = dhs.shape
    K = dw.shape[2]
    lo, hi = block_bounds(k, n_blocks, B)
    R = hi - lo
    xh_k = blocked(xhs, T, K, lo, hi)
    dw[k] = 0.0
    dxh = np.zeros((K, R), dhs.dtype)  # [dx_t, (bias), dh_{t-1}]
    dh = np.empty((H, R), dhs.dtype)
    h = np.empty((H, R), dhs.dtype)
    da = np.empty((H, R), dhs.dtype)
    valid = np.empty(R, np.bool_)
    for s in range(T):
        t = s if reverse else T - 1 - s
        _gather_dh(dhs, t, lo, lengths, dxh[K - H :], dh, valid)
        _load_rows(hs, t, lo, h)
        rnn_gates_grad(dh, h, relu, valid, da)
        np.dot(w_t, da, dxh)
        accumulate_nt(da, xh_k[t], dw[k])
        _carry_back(dxh, dx, t, lo, valid, dh)


@on_threads
@kernel
def lstm_forward(k, x, w, peep, lengths, reverse, coupled, hs, cs, acts, xhs, n_blocks):
    """Run the recurrence; ``w`` (G, K) is [W_ih, b, W_hh] with b = b_ih + b_hh and
    K = D + 1 + H, ``peep`` (3, H) the i, f, o peephole weights (zeros if none).

    Each thread keeps its block of R rows feature-major, [x_t, 1, h_{t-1}] as a (K, R)
    tile, so that a step's product is W @ tile and each gate's block of the result is
    contiguous. Fills ``hs`` (T, B, H), or with ``hs`` (1, B, H) the final state alone,
    and the blocked caches (see :func:`blocked`):
    ``xhs`` (steps, K) tiles of [x_t, 1, h_{t-1}], ``acts`` (steps, G) tiles of gate
    activations (zero at padded steps) and ``cs`` (steps, H) tiles of c_t, where steps
    is T, or 1 for inference (scratch, nothing kept).
    """
    T, B = x.shape[0], x.shape[1]
    H = hs.shape[2]
    every_step = hs.shape[0] == T
    G, K = w.shape
    steps = xhs.size // (K * B)
    lo, hi = block_bounds(k, n_blocks, B)
    R = hi - lo
    xh_k = blocked(xhs, steps, K, lo, hi)
    a_k = blocked(acts, steps, G, lo, hi)
    c_k = blocked(cs, steps, H, lo, hi)
    h = np.zeros((H, R), hs.dtype)
    c = np.zeros((H, R), hs.dtype)
    z = np.empty((G, R), hs.dtype)
    pe = unit_tiles(peep, R)
    kept = np.empty((2, H, R), hs.dtype)
    valid = np.empty(R, np.bool_)
    for s in range(T):
        t = T - 1 - s if reverse else s
        tk = t if steps > 1 else 0
        _load_step(x, t, lo, lengths, h, xh_k[tk], valid)
        np.dot(w, xh_k[tk], z)
        lstm_gates(z, c, h, pe, valid, coupled, a_k[tk], kept)
        copy_tile(c, c_k[tk])
        if every_step:
            _store_rows(h, hs, t, lo)
    if not every_step:
        _store_rows(h, hs, 0, lo)


@on_threads
@kernel
def lstm_backward(k, dhs, acts, cs, xhs, w_t, peep, lengths, reverse, coupled, peephole, dcs,
                  dx, dw, dpeep, n_blocks):
    """BPTT over the blocked caches of :func:`lstm_forward`, through ``w_t`` (K, G), the
    forward's ``w`` transposed.

    Fills ``dx`` (T, B, D), ``dcs`` (T, B, H), the total dL/dc_t, and for each block of
    rows k its share of the gradients: ``dw[k]`` (G, K) of ``w`` (a product per step
    with the [x_t, 1, h_{t-1}] tile the forward kept, accumulated in BLAS) and, if
    ``peephole``, ``dpeep[k]`` (3, H) of the peephole weights. ``dhs`` (T, B, H) holds
    dL/dh_t from above on entry and the total dL/dh_t on return.
    """
    T, B, H = dhs.shape
    G, K = dw.shape[1], dw.shape[2]
    D = dx.shape[2]
    lo, hi = block_bounds(k, n_blocks, B)
    R = hi - lo
    xh_k = blocked(xhs, T, K, lo, hi)
    a_k = blocked(acts, T, G, lo, hi)
    c_k = blocked(cs, T, H, lo, hi)
    dw[k] = 0.0
    pe = unit_tiles(peep, R)
    dpe = np.zeros_like(pe)
    dxh = np.zeros((K, R), dhs.dtype)  # [dx_t, (bias), dh_{t-1}]
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
        _gather_dh(dhs, t, lo, lengths, dxh[D + 1 :], dh, valid)
        c_prev = c_k[tp] if 0 <= tp < T else no_state
        lstm_gates_grad(dh, dc, a_k[t], c_k[t], c_prev, pe, valid, coupled, da, dc_t, kept)
        if peephole:
            peephole_grad(da, c_prev, c_k[t], coupled, dpe)
        np.dot(w_t, da, dxh)
        accumulate_nt(da, xh_k[t], dw[k])
        _carry_back(dxh, dx, t, lo, valid, dh)
        _store_rows(dc_t, dcs, t, lo)
    unit_sums(dpe, dpeep[k])


@on_threads
@kernel
def gru_forward(k, x, w_rz, w_nx, w_nh, lengths, reverse, reset_after, hs, acts, hn, xhs,
                n_blocks):
    """Run the recurrence; ``w_rz`` (2H, K) is [W_i, b, W_h] for the r and z gates (b their
    summed biases), ``w_nx`` (H, D + 1) [W_in, b_in] and ``w_nh`` (H, 1 + H) [b_hn, W_hn].

    Fills ``hs`` as :func:`lstm_forward` does, and blocked caches of (steps, X)
    tiles: ``acts`` (3H) of r, z, n (zero at padded steps), ``hn`` (H) of the recurrent
    part of n, W_hn h_{t-1} + b_hn (reset after) or W_hn (r * h_{t-1}) + b_hn (reset
    before), and ``xhs`` (K) of [x_t, 1, h_{t-1}].
    """
    T, B = x.shape[0], x.shape[1]
    H = hs.shape[2]
    every_step = hs.shape[0] == T
    K = w_rz.shape[1]
    D = K - 1 - H
    steps = xhs.size // (K * B)
    lo, hi = block_bounds(k, n_blocks, B)
    R = hi - lo
    xh_k = blocked(xhs, steps, K, lo, hi)
    a_k = blocked(acts, steps, 3 * H, lo, hi)
    hn_k = blocked(hn, steps, H, lo, hi)
    h = np.zeros((H, R), hs.dtype)
    z_rz = np.empty((2 * H, R), hs.dtype)
    x_n = np.empty((H, R), hs.dtype)
    rh = np.empty((1 + H, R), hs.dtype)  # [1, r * h_{t-1}]
    rh[0] = ONE
    kept = np.empty((H, R), hs.dtype)
    valid = np.empty(R, np.bool_)
    for s in range(T):
        t = T - 1 - s if reverse else s
        tk = t if steps > 1 else 0
        xh = xh_k[tk]
        _load_step(x, t, lo, lengths, h, xh, valid)
        np.dot(w_rz, xh, z_rz)
        np.dot(w_nx, xh[: D + 1], x_n)
        gru_gates(z_rz, h, a_k[tk], rh)
        np.dot(w_nh, xh[D:] if reset_after else rh, hn_k[tk])
        gru_state(x_n, hn_k[tk], h, a_k[tk], valid, reset_after, kept)
        if every_step:
            _store_rows(h, hs, t, lo)
    if not every_step:
        _store_rows(h, hs, 0, lo)


@on_threads
@kernel
def gru_backward(k, dhs, acts, hn, xhs, w_rz_t, w_nx_t, w_nh_t, lengths, reverse, reset_after,
                 dx, d_rz, d_nx, d_nh, n_blocks):
    """BPTT over the blocked caches of :func:`gru_forward`, through its three weight
    matrices transposed. Fills ``dx`` (T, B, D) and block k's share of their gradients,
    ``d_rz[k]``, ``d_nx[k]`` and ``d_nh[k]``. ``dhs`` (T, B, H) holds dL/dh_t from above on
    entry and the total dL/dh_t on return."""
    T, B, H = dhs.shape
    K = w_rz_t.shape[0]
    D = K - 1 - H
    lo, hi = block_bounds(k, n_blocks, B)
    R = hi - lo
    xh_k = blocked(xhs, T, K, lo, hi)
    a_k = blocked(acts, T, 3 * H, lo, hi)
    hn_k = blocked(hn, T, H, lo, hi)
    d_rz[k] = 0.0
    d_nx[k] = 0.0
    d_nh[k] = 0.0
    dxh = np.zeros((K, R), dhs.dtype)  # [dx_t, (bias), dh_{t-1}]
    dxn = np.empty((D + 1, R), dhs.dtype)
    rec = np.empty((1 + H, R), dhs.dtype)
    dh = np.empty((H, R), dhs.dtype)
    dr = np.empty((2 * H, R), dhs.dtype)
    dn = np.empty((H, R), dhs.dtype)
    dhn = np.empty((H, R), dhs.dtype)
    direct = np.empty((H, R), dhs.dtype)
    rh = np.empty((1 + H, R), dhs.dtype)  # [1, r * h_{t-1}]
    rh[0] = ONE
    valid = np.empty(R, np.bool_)
    for s in range(T):
        t = s if reverse else T - 1 - s
        xh = xh_k[t]
        _gather_dh(dhs, t, lo, lengths, dxh[D + 1 :], dh, valid)
        gru_gates_grad(dh, a_k[t], hn_k[t], xh[D + 1 :], valid, reset_after, dr, dn, dhn,
                        direct)
        np.dot(w_nh_t, dhn, rec)
        gru_reset_grad(rec, a_k[t], xh[D + 1 :], reset_after, dr, direct, rh)
        np.dot(w_rz_t, dr, dxh)
        np.dot(w_nx_t, dn, dxn)
        accumulate_nt(dr, xh, d_rz[k])
        accumulate_nt(dn, xh[: D + 1], d_nx[k])
        accumulate_nt(dhn, xh[D:] if reset_after else rh, d_nh[k])
        add_tile(dxn[:D], dxh[:D])
        add_tile(direct, dxh[D + 1 :])
        _store_rows(dxh[:D], dx, t, lo)

