"""CPU backend: the time loops compiled with Numba, their products in BLAS.

Interface: time-major arrays, ``x`` (T, B, D), hidden states ``hs`` (T, B, H).
A padded step (t >= lengths[b]) carries the state through unchanged, so the
state after the last valid step sits at t = T - 1 (forward) or t = 0 (reverse).
Gradients flow back through padded steps unchanged too.

Each of Numba's threads takes a block of R batch rows and runs the whole time loop
for it; rows are independent, so the threads never wait for each other, and results
depend only on the number of blocks. Inside a block everything is feature-major: a
step's input is the tile [x_t, 1, h_{t-1}] (K, R), K = D + 1 + H, so the step's
product is W (G, K) @ tile with W = [W_ih, b, W_hh] (single-threaded BLAS, one call
for the input, the bias and the recurrence), each gate's block of the result is
contiguous for the gate math, and backward one product W^T @ dL/da gives both dx_t
and dh_{t-1}. The tiles kept for BPTT sit in blocked caches (:func:`_blocked`): each
block of rows owns a contiguous part, one contiguous tile per step, written once and
read back once. Every weight gradient, bias included (through the constant 1), is
accumulated in BLAS step by step from the tiles (:func:`~.blas.accumulate_nt`), into
one array per block, summed at the end: nothing of size (T, B, G) is written in BPTT.
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


# --- one step of a block of rows: the gate math --------------------------------------------
#
# The time loops hand a step's gate math to these functions, tiles (units, R) in and out.
# Each runs one flat loop over a gate block's H * R values, which are contiguous
# (:func:`_flat`): a loop over the R rows alone was too short to vectorize well (the
# LSTM's at S, 16 rows: 1.8 against 1.0 us a step). Compiled on their own (not inlined
# into the parallel loop), the loops are vectorized by LLVM, provided no condition in them
# depends on the row: a padded row (not ``valid``) is put right after, by the three
# helpers below.


@kernel
def _keep(valid, state, kept):
    """Whether any row of the step is padding; if so, ``state`` (X, R) copied to ``kept``."""
    padded = not valid.all()
    if padded:
        kept[:] = state
    return padded


@kernel
def _put_back(valid, state, kept):
    """The padded rows' columns of ``state`` taken back from ``kept``."""
    for r in range(valid.size):
        if not valid[r]:
            state[:, r] = kept[:, r]


@kernel
def _zero_padded(valid, tile):
    """The padded rows' columns of ``tile`` set to zero."""
    for r in range(valid.size):
        if not valid[r]:
            tile[:, r] = 0.0


@kernel
def _flat(tile):
    """A C-contiguous tile as one flat view (its gate blocks follow each other)."""
    return tile.reshape(tile.size)


@kernel
def _rnn_gates(z, h, relu, valid, kept):
    """One step of a block of R rows, feature-major: h (H, R) = step(z), z holding
    [W_ih, b, W_hh] [x_t, 1, h_{t-1}]; a padded row keeps its state, by way of ``kept``
    (H, R)."""
    padded = _keep(valid, h, kept)
    zf, hf = _flat(z), _flat(h)
    for n in range(hf.size):
        hf[n] = rnn.step(zf[n], relu)
    if padded:
        _put_back(valid, h, kept)


@kernel
def _rnn_gates_grad(dh, h, relu, valid, da):
    """Backward of :func:`_rnn_gates`: da (H, R), the gradient of the pre-activation,
    from dh, the total dL/dh_t; zero in a padded row."""
    dhf, hf, daf = _flat(dh), _flat(h), _flat(da)
    for n in range(hf.size):
        daf[n] = rnn.step_grad(dhf[n], hf[n], relu)
    _zero_padded(valid, da)


@kernel
def _unit_tiles(peep, R):
    """The peephole weights (3, H) as (3, H * R): each unit's weight repeated for the R rows
    of a block, so that the gate math runs as one flat loop over units and rows."""
    P, H = peep.shape
    tiles = np.empty((P, H * R), peep.dtype)
    for p in range(P):
        for j in range(H):
            tiles[p, j * R : (j + 1) * R] = peep[p, j]
    return tiles


@kernel
def _lstm_gates(z, c, h, pe, valid, coupled, a, kept):
    """One step of a block of R rows, feature-major: z (G, R) holds
    [W_ih, b, W_hh] [x_t, 1, h_{t-1}]; c and h (H, R) are updated in place; a (G, R)
    receives the gate activations; ``pe`` holds the peephole weights as
    :func:`_unit_tiles`. A padded row keeps its state, by way of ``kept`` (2, H, R), and
    gets zero activations."""
    zf, cf, hf, af = _flat(z), _flat(c), _flat(h), _flat(a)
    N = cf.size
    fo = 0 if coupled else N
    go, oo = fo + N, fo + 2 * N
    padded = _keep(valid, c, kept[0])
    _keep(valid, h, kept[1])
    for n in range(N):
        i, f, g, o, cf[n], hf[n] = lstm.step(zf[n], zf[fo + n], zf[go + n], zf[oo + n], cf[n],
                                             pe[0, n], pe[1, n], pe[2, n], coupled)
        af[n] = i  # coupled: fo = 0, so f overwrites it next
        af[fo + n], af[go + n], af[oo + n] = f, g, o
    if padded:
        _put_back(valid, c, kept[0])
        _put_back(valid, h, kept[1])
        _zero_padded(valid, a)


@kernel
def _lstm_gates_grad(dh, dc, a, c, c_prev, pe, valid, coupled, da, dcs, kept):
    """Backward of :func:`_lstm_gates` for a block of rows: dh (H, R) is the total dL/dh_t;
    dc (H, R) carries dL/dc from step t + 1 to step t - 1 in place; fills da (G, R), the
    gradient of the gate pre-activations, and dcs (H, R), the total dL/dc_t. A padded
    row gets zero gradients and carries dL/dc through, by way of ``kept`` (H, R)."""
    dhf, dcf, af, cf, cpf, daf, dcsf = (_flat(dh), _flat(dc), _flat(a), _flat(c),
                                         _flat(c_prev), _flat(da), _flat(dcs))
    N = dhf.size
    fo = 0 if coupled else N
    go, oo = fo + N, fo + 2 * N
    padded = _keep(valid, dc, kept)
    for n in range(N):
        f = af[fo + n]
        i = ONE - f if coupled else af[n]
        d_i, d_f, d_g, d_o, dcsf[n], dcf[n] = lstm.step_grad(
            dhf[n], dcf[n], i, f, af[go + n], af[oo + n], cf[n], cpf[n],
            pe[0, n], pe[1, n], pe[2, n], coupled)
        daf[n] = d_i  # coupled: overwritten by d_f
        daf[fo + n], daf[go + n], daf[oo + n] = d_f, d_g, d_o
    if padded:
        _zero_padded(valid, da)
        _put_back(valid, dcs, kept)
        _put_back(valid, dc, kept)


@kernel
def _peephole_grad(da, c_prev, c, coupled, dpe):
    """Adds one step's gradient of the i, f, o peephole weights to ``dpe``, laid out as
    :func:`_unit_tiles`: the i and f gates see c_{t-1}, the o gate sees c_t."""
    daf, cpf, cf = _flat(da), _flat(c_prev), _flat(c)
    N = cf.size
    fo = 0 if coupled else N
    for n in range(N):
        if not coupled:
            dpe[0, n] += daf[n] * cpf[n]
        dpe[1, n] += daf[fo + n] * cpf[n]
        dpe[2, n] += daf[fo + 2 * N + n] * cf[n]


@kernel
def _unit_sums(tiles, out):
    """Inverse of :func:`_unit_tiles` for gradients: out (3, H) = the sum of each unit's
    R columns."""
    P, H = out.shape
    R = tiles.shape[1] // H
    for p in range(P):
        for j in range(H):
            out[p, j] = tiles[p, j * R : (j + 1) * R].sum()


@kernel
def _gru_gates(z_rz, h, a, rh):
    """The r and z gates of a block of rows (z_rz (2H, R) holds their pre-activations) into
    a[:2H], and r * h_{t-1} into rh[1:] (the product input of reset before)."""
    zf, hf, af, rhf = _flat(z_rz), _flat(h), _flat(a), _flat(rh[1:])
    N = hf.size
    for n in range(N):
        g = sigmoid(zf[n])
        af[n] = g
        af[N + n] = sigmoid(zf[N + n])
        rhf[n] = g * hf[n]


@kernel
def _gru_state(x_n, hn, h, a, valid, reset_after, kept):
    """The n gate into a[2H:] and the new state h (H, R), in place: x_n holds
    W_in x_t + b_in, hn W_hn h_{t-1} + b_hn (reset after) or W_hn (r * h_{t-1}) + b_hn
    (reset before). A padded row keeps its state, by way of ``kept`` (H, R), and gets zero
    activations."""
    padded = _keep(valid, h, kept)
    xf, hnf, hf, af = _flat(x_n), _flat(hn), _flat(h), _flat(a)
    N = hf.size
    for n in range(N):
        af[2 * N + n], hf[n] = gru.step(af[n], af[N + n], xf[n], hnf[n], hf[n], reset_after)
    if padded:
        _put_back(valid, h, kept)
        _zero_padded(valid, a)


@kernel
def _gru_gates_grad(dh, a, hn, h_prev, valid, reset_after, d_rz, d_n, d_hn, direct):
    """Backward of :func:`_gru_state` and the gates' sigmoids for a block of rows: from dh,
    the total dL/dh_t, the gradients of the r and z pre-activations (d_rz (2H, R); r's
    is left for :func:`_gru_reset_grad` with reset before), of the input part of n (d_n),
    of ``hn`` (d_hn), and the part of dL/dh_{t-1} through z (``direct``). A padded row
    gets zero gradients and passes dh on as ``direct``."""
    dhf, af, hnf, hpf = _flat(dh), _flat(a), _flat(hn), _flat(h_prev)
    drf, dnf, dhnf, df = _flat(d_rz), _flat(d_n), _flat(d_hn), _flat(direct)
    N = dhf.size
    for n in range(N):
        drf[n], drf[N + n], dnf[n], dhnf[n], df[n] = gru.step_grad(
            dhf[n], af[n], af[N + n], af[2 * N + n], hnf[n], hpf[n], reset_after)
    _zero_padded(valid, d_rz)
    _zero_padded(valid, d_n)
    _zero_padded(valid, d_hn)
    _put_back(valid, direct, dh)


@kernel
def _gru_reset_grad(rec, a, h_prev, reset_after, d_rz, direct, rh):
    """What comes back through the n gate's recurrent product, rec = [b_hn, W_hn]^T d_hn
    (1 + H, R), into ``direct``; with reset before, it also gives the r gate's gradient
    and r * h_{t-1} (into rh[1:], for W_hn's gradient)."""
    recf, af, hpf, drf, df, rhf = (_flat(rec[1:]), _flat(a), _flat(h_prev), _flat(d_rz),
                                   _flat(direct), _flat(rh[1:]))
    for n in range(df.size):
        if reset_after:
            df[n] += recf[n]
        else:
            g = af[n]
            drf[n] = recf[n] * hpf[n] * g * (ONE - g)
            df[n] += recf[n] * g
            rhf[n] = g * hpf[n]


# --- the time loops ---------------------------------------------------------------------


@kernel
def _blocked(cache, steps, X, lo, hi):
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
    xh[D + 1 :] = h


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


@kernel(parallel=True)
def rnn_forward(x, w, lengths, reverse, relu, hs, xhs, n_blocks):
    """Run the recurrence; ``w`` (H, K) is [W_ih, b, W_hh] with b = b_ih + b_hh and
    K = D + 1 + H. Fills ``hs`` (T, B, H), or with ``hs`` (1, B, H) the final state alone,
    and the blocked cache ``xhs``: (steps, K) tiles of [x_t, 1, h_{t-1}], where steps is
    T, or 1 for inference (scratch)."""
    T, B = x.shape[0], x.shape[1]
    H = hs.shape[2]
    every_step = hs.shape[0] == T
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
            if every_step:
                _store_rows(h, hs, t, lo)
        if not every_step:
            _store_rows(h, hs, 0, lo)


@kernel(parallel=True)
def rnn_backward(dhs, hs, xhs, w_t, lengths, reverse, relu, dx, dw, n_blocks):
    """BPTT over the blocked cache of :func:`rnn_forward`, through ``w_t`` (K, H), the
    forward's ``w`` transposed. Fills ``dx`` (T, B, D) and ``dw[k]`` (H, K), block k's
    share of the gradient of ``w``. ``dhs`` (T, B, H) holds dL/dh_t from above on entry
    and the total dL/dh_t on return."""
    T, B, H = dhs.shape
    K = dw.shape[2]
    for k in prange(n_blocks):
        lo, hi = block_bounds(k, n_blocks, B)
        R = hi - lo
        xh_k = _blocked(xhs, T, K, lo, hi)
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
            _rnn_gates_grad(dh, h, relu, valid, da)
            np.dot(w_t, da, dxh)
            accumulate_nt(da, xh_k[t], dw[k])
            _carry_back(dxh, dx, t, lo, valid, dh)


@kernel(parallel=True)
def lstm_forward(x, w, peep, lengths, reverse, coupled, hs, cs, acts, xhs, n_blocks):
    """Run the recurrence; ``w`` (G, K) is [W_ih, b, W_hh] with b = b_ih + b_hh and
    K = D + 1 + H, ``peep`` (3, H) the i, f, o peephole weights (zeros if none).

    Each thread keeps its block of R rows feature-major, [x_t, 1, h_{t-1}] as a (K, R)
    tile, so that a step's product is W @ tile and each gate's block of the result is
    contiguous. Fills ``hs`` (T, B, H), or with ``hs`` (1, B, H) the final state alone,
    and the blocked caches (see :func:`_blocked`):
    ``xhs`` (steps, K) tiles of [x_t, 1, h_{t-1}], ``acts`` (steps, G) tiles of gate
    activations (zero at padded steps) and ``cs`` (steps, H) tiles of c_t, where steps
    is T, or 1 for inference (scratch, nothing kept).
    """
    T, B = x.shape[0], x.shape[1]
    H = hs.shape[2]
    every_step = hs.shape[0] == T
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
        pe = _unit_tiles(peep, R)
        kept = np.empty((2, H, R), hs.dtype)
        valid = np.empty(R, np.bool_)
        for s in range(T):
            t = T - 1 - s if reverse else s
            tk = t if steps > 1 else 0
            _load_step(x, t, lo, lengths, h, xh_k[tk], valid)
            np.dot(w, xh_k[tk], z)
            _lstm_gates(z, c, h, pe, valid, coupled, a_k[tk], kept)
            c_k[tk] = c
            if every_step:
                _store_rows(h, hs, t, lo)
        if not every_step:
            _store_rows(h, hs, 0, lo)


@kernel(parallel=True)
def lstm_backward(dhs, acts, cs, xhs, w_t, peep, lengths, reverse, coupled, peephole, dcs,
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
    for k in prange(n_blocks):
        lo, hi = block_bounds(k, n_blocks, B)
        R = hi - lo
        xh_k = _blocked(xhs, T, K, lo, hi)
        a_k = _blocked(acts, T, G, lo, hi)
        c_k = _blocked(cs, T, H, lo, hi)
        dw[k] = 0.0
        pe = _unit_tiles(peep, R)
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
            _lstm_gates_grad(dh, dc, a_k[t], c_k[t], c_prev, pe, valid, coupled, da, dc_t, kept)
            if peephole:
                _peephole_grad(da, c_prev, c_k[t], coupled, dpe)
            np.dot(w_t, da, dxh)
            accumulate_nt(da, xh_k[t], dw[k])
            _carry_back(dxh, dx, t, lo, valid, dh)
            _store_rows(dc_t, dcs, t, lo)
        _unit_sums(dpe, dpeep[k])


@kernel(parallel=True)
def gru_forward(x, w_rz, w_nx, w_nh, lengths, reverse, reset_after, hs, acts, hn, xhs, n_blocks):
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
    for k in prange(n_blocks):
        lo, hi = block_bounds(k, n_blocks, B)
        R = hi - lo
        xh_k = _blocked(xhs, steps, K, lo, hi)
        a_k = _blocked(acts, steps, 3 * H, lo, hi)
        hn_k = _blocked(hn, steps, H, lo, hi)
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
            _gru_gates(z_rz, h, a_k[tk], rh)
            np.dot(w_nh, xh[D:] if reset_after else rh, hn_k[tk])
            _gru_state(x_n, hn_k[tk], h, a_k[tk], valid, reset_after, kept)
            if every_step:
                _store_rows(h, hs, t, lo)
        if not every_step:
            _store_rows(h, hs, 0, lo)


@kernel(parallel=True)
def gru_backward(dhs, acts, hn, xhs, w_rz_t, w_nx_t, w_nh_t, lengths, reverse, reset_after, dx,
                 d_rz, d_nx, d_nh, n_blocks):
    """BPTT over the blocked caches of :func:`gru_forward`, through its three weight
    matrices transposed. Fills ``dx`` (T, B, D) and block k's share of their gradients,
    ``d_rz[k]``, ``d_nx[k]`` and ``d_nh[k]``. ``dhs`` (T, B, H) holds dL/dh_t from above on
    entry and the total dL/dh_t on return."""
    T, B, H = dhs.shape
    K = w_rz_t.shape[0]
    D = K - 1 - H
    for k in prange(n_blocks):
        lo, hi = block_bounds(k, n_blocks, B)
        R = hi - lo
        xh_k = _blocked(xhs, T, K, lo, hi)
        a_k = _blocked(acts, T, 3 * H, lo, hi)
        hn_k = _blocked(hn, T, H, lo, hi)
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
            _gru_gates_grad(dh, a_k[t], hn_k[t], xh[D + 1 :], valid, reset_after, dr, dn, dhn,
                            direct)
            np.dot(w_nh_t, dhn, rec)
            _gru_reset_grad(rec, a_k[t], xh[D + 1 :], reset_after, dr, direct, rh)
            np.dot(w_rz_t, dr, dxh)
            np.dot(w_nx_t, dn, dxn)
            accumulate_nt(dr, xh, d_rz[k])
            accumulate_nt(dn, xh[: D + 1], d_nx[k])
            accumulate_nt(dhn, xh[D:] if reset_after else rh, d_nh[k])
            dxh[:D] += dxn[:D]
            dxh[D + 1 :] += direct
            _store_rows(dxh[:D], dx, t, lo)


# --- one direction of one layer -----------------------------------------------------------


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


def _block(cell, gate, hidden_size):
    """The slice of a gate's rows in the stacked gate blocks."""
    g = cell.gates.index(gate)
    return slice(g * hidden_size, (g + 1) * hidden_size)


def _full_peepholes(cell, w, hidden_size, dtype):
    full = np.zeros((3, hidden_size), dtype)
    for row, gate in enumerate(cell.peepholes):
        full[PEEPHOLE_ROWS.index(gate)] = w["weight_ch"][row]
    return full


def direction_forward(cell, x, w, lengths, reverse, keep=True, workspace=None, final_only=False):
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
    final_only : bool, default=False
        Return the final state alone, as ``hs`` of shape (1, B, H): inference for a
        head that reads nothing else. Needs ``keep=False``.

    Returns
    -------
    hs : ndarray of shape (T, B, H), or (1, B, H) with ``final_only``
        State after each step; padded steps carry the state through.
    cache : tuple or None
        What :func:`direction_backward` needs; None unless ``keep``.
    """
    if keep and final_only:
        raise ValueError("final_only keeps no states for backprop through time: pass keep=False")
    with serial_blas():
        return _direction_forward(cell, x, w, lengths, reverse, keep, final_only,
                                  workspace if workspace is not None else Workspace())


def _stacked(w_ih, w_hh, bias):
    """[W_ih, bias, W_hh]: the weights of [x_t, 1, h_{t-1}]."""
    return np.concatenate((w_ih, bias[:, None], w_hh), axis=1)


def _direction_forward(cell, x, w, lengths, reverse, keep, final_only, ws):
    T, B, _ = x.shape
    hs = ws.empty("hs", (1 if final_only else T, B, w["weight_hh"].shape[1]), x.dtype)
    steps = T if keep else 1  # without BPTT to come, the loops keep one step of scratch
    cache = _FORWARD[cell.name](cell, x, w, lengths, reverse, hs, steps, _row_blocks(B), ws)
    return hs, (cache if keep else None)


def _blocked_caches(ws, steps, B, dtype, **sizes):
    """Blocked caches (see :func:`_blocked`) of the given numbers of features."""
    return [ws.empty(name, (steps * size * B,), dtype) for name, size in sizes.items()]


def _rnn_forward(cell, x, w, lengths, reverse, hs, steps, n_blocks, ws):
    T, B, D = x.shape
    xhs, = _blocked_caches(ws, steps, B, x.dtype, xhs=D + 1 + hs.shape[2])
    rnn_forward(x, _stacked(w["weight_ih"], w["weight_hh"], w["bias_ih"] + w["bias_hh"]),
                lengths, reverse, cell.nonlinearity == "relu", hs, xhs, n_blocks)
    return hs, xhs, n_blocks


def _lstm_forward(cell, x, w, lengths, reverse, hs, steps, n_blocks, ws):
    T, B, D = x.shape
    G, H = w["weight_hh"].shape
    cs, acts, xhs = _blocked_caches(ws, steps, B, x.dtype, cs=H, acts=G, xhs=D + 1 + H)
    peep = _full_peepholes(cell, w, H, x.dtype)
    lstm_forward(x, _stacked(w["weight_ih"], w["weight_hh"], w["bias_ih"] + w["bias_hh"]), peep,
                 lengths, reverse, cell.coupled, hs, cs, acts, xhs, n_blocks)
    return hs, cs, acts, peep, xhs, n_blocks


def _gru_weights(w):
    """The GRU's three products: [W_i, b, W_h] for r and z (biases summed), [W_in, b_in] of
    [x_t, 1] and [b_hn, W_hn] of [1, h_{t-1}] (or of [1, r * h_{t-1}])."""
    w_ih, w_hh, b_ih, b_hh = w["weight_ih"], w["weight_hh"], w["bias_ih"], w["bias_hh"]
    H = w_hh.shape[1]
    rz = _stacked(w_ih[: 2 * H], w_hh[: 2 * H], b_ih[: 2 * H] + b_hh[: 2 * H])
    return (rz, np.concatenate((w_ih[2 * H :], b_ih[2 * H :, None]), axis=1),
            np.concatenate((b_hh[2 * H :, None], w_hh[2 * H :]), axis=1))


def _gru_forward(cell, x, w, lengths, reverse, hs, steps, n_blocks, ws):
    T, B, D = x.shape
    G, H = w["weight_hh"].shape
    acts, hn, xhs = _blocked_caches(ws, steps, B, x.dtype, acts=G, hn=H, xhs=D + 1 + H)
    gru_forward(x, *_gru_weights(w), lengths, reverse, cell.reset_after, hs, acts, hn, xhs,
                n_blocks)
    return hs, acts, hn, xhs, n_blocks


_FORWARD = {"rnn": _rnn_forward, "lstm": _lstm_forward, "gru": _gru_forward}


def gate_activations(cell, cache):
    """Gate activations (T, B, H) by name from a :func:`direction_forward` cache."""
    if cell.name == "rnn":
        return {}
    T, B, _ = cache[0].shape
    return named_gates(cell, _unblocked(cache[2] if cell.name == "lstm" else cache[1], T, B,
                                        cache[-1]))


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
        return _BACKWARD[cell.name](cell, x, w, cache, dhs, lengths, reverse,
                                    workspace if workspace is not None else Workspace())


def _weight_grads(g, D):
    """The gradients in g = dL/d[W_ih, b, W_hh] (G, D + 1 + H) by name."""
    return {"weight_ih": g[:, :D], "bias_ih": g[:, D], "bias_hh": g[:, D],
            "weight_hh": g[:, D + 1 :]}


def _transposed(a):
    """a.T, C-contiguous: the weights of a backward step's product."""
    return np.ascontiguousarray(a.T)


def _rnn_backward(cell, x, w, cache, dhs, lengths, reverse, ws):
    T, B, D = x.shape
    hs, xhs, n_blocks = cache
    w_stacked = _stacked(w["weight_ih"], w["weight_hh"], w["bias_ih"])
    dx = ws.empty("dx", x.shape, x.dtype)
    dw = ws.empty("dw", (n_blocks,) + w_stacked.shape, hs.dtype)
    rnn_backward(dhs, hs, xhs, _transposed(w_stacked), lengths, reverse,
                 cell.nonlinearity == "relu", dx, dw, n_blocks)
    return dx, _weight_grads(dw.sum(axis=0), D), {"h": dhs}


def _lstm_backward(cell, x, w, cache, dhs, lengths, reverse, ws):
    T, B, D = x.shape
    hs, cs, acts, peep, xhs, n_blocks = cache
    w_stacked = _stacked(w["weight_ih"], w["weight_hh"], w["bias_ih"])
    dx = ws.empty("dx", x.shape, x.dtype)
    dcs = ws.empty("dcs", hs.shape, hs.dtype)
    dw = ws.empty("dw", (n_blocks,) + w_stacked.shape, hs.dtype)
    dpeep = ws.empty("dpeep", (n_blocks,) + peep.shape, hs.dtype)
    lstm_backward(dhs, acts, cs, xhs, _transposed(w_stacked), peep, lengths, reverse,
                  cell.coupled, bool(cell.peepholes), dcs, dx, dw, dpeep, n_blocks)
    grads = _weight_grads(dw.sum(axis=0), D)
    if cell.peepholes:
        full = dpeep.sum(axis=0)
        grads["weight_ch"] = np.stack([full[PEEPHOLE_ROWS.index(g)] for g in cell.peepholes])
    return dx, grads, {"h": dhs, "c": dcs}


def _gru_backward(cell, x, w, cache, dhs, lengths, reverse, ws):
    T, B, D = x.shape
    hs, acts, hn, xhs, n_blocks = cache
    rz, n_x, n_h = _gru_weights(w)
    dx = ws.empty("dx", x.shape, x.dtype)
    d_rz, d_nx, d_nh = (ws.empty(name, (n_blocks,) + m.shape, hs.dtype)
                        for name, m in (("d_rz", rz), ("d_nx", n_x), ("d_nh", n_h)))
    gru_backward(dhs, acts, hn, xhs, _transposed(rz), _transposed(n_x), _transposed(n_h),
                 lengths, reverse, cell.reset_after, dx, d_rz, d_nx, d_nh, n_blocks)
    g_rz, g_nx, g_nh = d_rz.sum(axis=0), d_nx.sum(axis=0), d_nh.sum(axis=0)
    return dx, {"weight_ih": np.concatenate((g_rz[:, :D], g_nx[:, :D])),
                "bias_ih": np.concatenate((g_rz[:, D], g_nx[:, D])),
                "weight_hh": np.concatenate((g_rz[:, D + 1 :], g_nh[:, 1:])),
                "bias_hh": np.concatenate((g_rz[:, D], g_nh[:, 0]))}, {"h": dhs}


_BACKWARD = {"rnn": _rnn_backward, "lstm": _lstm_backward, "gru": _gru_backward}
