"""The gate math of one step of a block of rows, feature-major, for the CPU's time loops.

The time loops (:mod:`.loops`) hand a step's gate math to these functions, tiles (units,
R) in and out, R the rows of the block. Each runs one flat loop over a gate block's
H * R values, which are contiguous (:func:`flat`): a loop over the R rows alone was too
short to vectorize well (the LSTM's at S, 16 rows: 1.8 against 1.0 us a step). Compiled
on their own (not inlined into the parallel loop), the loops are vectorized by LLVM,
provided no condition in them depends on the row: a padded row (not ``valid``) is put
right after, by the three helpers below.

Tiles are copied and added element by element (:func:`copy_tile`, :func:`add_tile`), never
with an array on the right of a slice assignment: Numba compiles that with a shape check
whose error message formats strings, which cost a new process 3 s of compiling on its
first use and 0.35 s in every function after.
"""

import numpy as np

from ..._compile import kernel
from ...cells import gru, lstm, rnn
from ...cells.activations import ONE, ZERO, sigmoid


@kernel
def copy_tile(src, dst):
    """dst[...] = src for two tiles (X, R) of one shape."""
    X, R = src.shape
    for j in range(X):
        for r in range(R):
            dst[j, r] = src[j, r]


@kernel
def add_tile(src, dst):
    """dst += src for two tiles (X, R) of one shape."""
    X, R = src.shape
    for j in range(X):
        for r in range(R):
            dst[j, r] += src[j, r]


@kernel
def _keep(valid, state, kept):
    """Whether any row of the step is padding; if so, ``state`` (X, R) copied to ``kept``."""
    padded = False
    for r in range(valid.size):
        padded |= not valid[r]
    if padded:
        copy_tile(state, kept)
    return padded


@kernel
def _put_back(valid, state, kept):
    """The padded rows' columns of ``state`` taken back from ``kept``."""
    for r in range(valid.size):
        if not valid[r]:
            for j in range(state.shape[0]):
                state[j, r] = kept[j, r]


@kernel
def _zero_padded(valid, tile):
    """The padded rows' columns of ``tile`` set to zero."""
    for r in range(valid.size):
        if not valid[r]:
            for j in range(tile.shape[0]):
                tile[j, r] = 0.0


@kernel
def flat(tile):
    """A C-contiguous tile as one flat view (its gate blocks follow each other)."""
    return tile.reshape(tile.size)


@kernel
def rnn_gates(z, h, relu, valid, kept):
    """One step of a block of R rows, feature-major: h (H, R) = step(z), z holding
    [W_ih, b, W_hh] [x_t, 1, h_{t-1}]; a padded row keeps its state, by way of ``kept``
    (H, R)."""
    padded = _keep(valid, h, kept)
    zf, hf = flat(z), flat(h)
    for n in range(hf.size):
        hf[n] = rnn.step(zf[n], relu)
    if padded:
        _put_back(valid, h, kept)


@kernel
def rnn_gates_grad(dh, h, relu, valid, da):
    """Backward of :func:`rnn_gates`: da (H, R), the gradient of the pre-activation,
    from dh, the total dL/dh_t; zero in a padded row."""
    dhf, hf, daf = flat(dh), flat(h), flat(da)
    for n in range(hf.size):
        daf[n] = rnn.step_grad(dhf[n], hf[n], relu)
    _zero_padded(valid, da)


@kernel
def unit_tiles(peep, R):
    """The peephole weights (3, H) as (3, H * R): each unit's weight repeated for the R rows
    of a block, so that the gate math runs as one flat loop over units and rows."""
    P, H = peep.shape
    tiles = np.empty((P, H * R), peep.dtype)
    for p in range(P):
        for j in range(H):
            for r in range(R):
                tiles[p, j * R + r] = peep[p, j]
    return tiles


@kernel
def lstm_gates(z, c, h, pe, valid, coupled, a, kept):
    """One step of a block of R rows, feature-major: z (G, R) holds
    [W_ih, b, W_hh] [x_t, 1, h_{t-1}]; c and h (H, R) are updated in place; a (G, R)
    receives the gate activations; ``pe`` holds the peephole weights as
    :func:`unit_tiles`. A padded row keeps its state, by way of ``kept`` (2, H, R), and
    gets zero activations."""
    zf, cf, hf, af = flat(z), flat(c), flat(h), flat(a)
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
def lstm_gates_grad(dh, dc, a, c, c_prev, pe, valid, coupled, da, dcs, kept):
    """Backward of :func:`lstm_gates` for a block of rows: dh (H, R) is the total dL/dh_t;
    dc (H, R) carries dL/dc from step t + 1 to step t - 1 in place; fills da (G, R), the
    gradient of the gate pre-activations, and dcs (H, R), the total dL/dc_t. A padded
    row gets zero gradients and carries dL/dc through, by way of ``kept`` (H, R)."""
    dhf, dcf, af, cf, cpf, daf, dcsf = (flat(dh), flat(dc), flat(a), flat(c),
                                         flat(c_prev), flat(da), flat(dcs))
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
def peephole_grad(da, c_prev, c, coupled, dpe):
    """Adds one step's gradient of the i, f, o peephole weights to ``dpe``, laid out as
    :func:`unit_tiles`: the i and f gates see c_{t-1}, the o gate sees c_t."""
    daf, cpf, cf = flat(da), flat(c_prev), flat(c)
    N = cf.size
    fo = 0 if coupled else N
    for n in range(N):
        if not coupled:
            dpe[0, n] += daf[n] * cpf[n]
        dpe[1, n] += daf[fo + n] * cpf[n]
        dpe[2, n] += daf[fo + 2 * N + n] * cf[n]


@kernel
def unit_sums(tiles, out):
    """Inverse of :func:`unit_tiles` for gradients: out (3, H) = the sum of each unit's
    R columns."""
    P, H = out.shape
    R = tiles.shape[1] // H
    for p in range(P):
        for j in range(H):
            total = ZERO
            for r in range(R):
                total += tiles[p, j * R + r]
            out[p, j] = total


@kernel
def gru_gates(z_rz, h, a, rh):
    """The r and z gates of a block of rows (z_rz (2H, R) holds their pre-activations) into
    a[:2H], and r * h_{t-1} into rh[1:] (the product input of reset before)."""
    zf, hf, af, rhf = flat(z_rz), flat(h), flat(a), flat(rh[1:])
    N = hf.size
    for n in range(N):
        g = sigmoid(zf[n])
        af[n] = g
        af[N + n] = sigmoid(zf[N + n])
        rhf[n] = g * hf[n]


@kernel
def gru_state(x_n, hn, h, a, valid, reset_after, kept):
    """The n gate into a[2H:] and the new state h (H, R), in place: x_n holds
    W_in x_t + b_in, hn W_hn h_{t-1} + b_hn (reset after) or W_hn (r * h_{t-1}) + b_hn
    (reset before). A padded row keeps its state, by way of ``kept`` (H, R), and gets zero
    activations."""
    padded = _keep(valid, h, kept)
    xf, hnf, hf, af = flat(x_n), flat(hn), flat(h), flat(a)
    N = hf.size
    for n in range(N):
        af[2 * N + n], hf[n] = gru.step(af[n], af[N + n], xf[n], hnf[n], hf[n], reset_after)
    if padded:
        _put_back(valid, h, kept)
        _zero_padded(valid, a)


@kernel
def gru_gates_grad(dh, a, hn, h_prev, valid, reset_after, d_rz, d_n, d_hn, direct):
    """Backward of :func:`gru_state` and the gates' sigmoids for a block of rows: from dh,
    the total dL/dh_t, the gradients of the r and z pre-activations (d_rz (2H, R); r's
    is left for :func:`gru_reset_grad` with reset before), of the input part of n (d_n),
    of ``hn`` (d_hn), and the part of dL/dh_{t-1} through z (``direct``). A padded row
    gets zero gradients and passes dh on as ``direct``."""
    dhf, af, hnf, hpf = flat(dh), flat(a), flat(hn), flat(h_prev)
    drf, dnf, dhnf, df = flat(d_rz), flat(d_n), flat(d_hn), flat(direct)
    N = dhf.size
    for n in range(N):
        drf[n], drf[N + n], dnf[n], dhnf[n], df[n] = gru.step_grad(
            dhf[n], af[n], af[N + n], af[2 * N + n], hnf[n], hpf[n], reset_after)
    _zero_padded(valid, d_rz)
    _zero_padded(valid, d_n)
    _zero_padded(valid, d_hn)
    _put_back(valid, direct, dh)


@kernel
def gru_reset_grad(rec, a, h_prev, reset_after, d_rz, direct, rh):
    """What comes back through the n gate's recurrent product, rec = [b_hn, W_hn]^T d_hn
    (1 + H, R), into ``direct``; with reset before, it also gives the r gate's gradient
    and r * h_{t-1} (into rh[1:], for W_hn's gradient)."""
    recf, af, hpf, drf, df, rhf = (flat(rec[1:]), flat(a), flat(h_prev), flat(d_rz),
                                   flat(direct), flat(rh[1:]))
    for n in range(df.size):
        if reset_after:
            df[n] += recf[n]
        else:
            r = af[n]
            drf[n], through = gru.reset_before_grad(recf[n], r, hpf[n])
            df[n] += through
            rhf[n] = r * hpf[n]

