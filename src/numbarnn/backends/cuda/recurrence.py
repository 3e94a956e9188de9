"""The recurrence on the GPU: one persistent launch per direction runs every time step.

Each thread block owns a group of batch rows (rows are independent in time) and its
threads the (row, unit) pairs of that group; they read the previous state from the
block's own output and meet at a barrier after each step, so no launch happens per step.
Each block copies the recurrent weights into its shared memory when they fit
(``SHARED_WEIGHTS_BYTES``) and otherwise reads them from global memory; from
``PER_STEP_HIDDEN`` the steps run one launch each, after a product for all rows.

The forward kernels read the recurrent weights transposed, ``w_t`` = W_hh^T (H, G): the
threads of a warp, consecutive units j, then read consecutive addresses w_t[k, j]
(coalesced in global memory, no bank conflicts in shared memory). The backward kernels
sum over the gate rows i for a unit j and read W_hh[i, j] as it is stored, which is
consecutive in j already.

Layout and semantics are the CPU backend's: time-major (T, B, ...) arrays, padded steps
carry the state, ``dhs`` is overwritten with the total dL/dh_t.
"""

import math

from numba import cuda

from ...cells.activations import ONE, ZERO
from .device import (
    MAX_THREADS,
    gru_reset_before_grad,
    gru_step,
    gru_step_grad,
    lstm_step,
    lstm_step_grad,
    rnn_step,
    rnn_step_grad,
    sigmoid,
)

# Step t of row b starts from step tp (t - 1, or t + 1 in reverse); in backward, the
# gradient arrives from step tn, processed just before t (t + 1, or t - 1 in reverse).
#
# Each kernel runs the steps s0 <= s < s1 of the processing order. The persistent path
# launches it once for all steps and each thread sums its own recurrent products; the
# per-step path (large H, where every block reading all of W_hh each step costs more
# than a launch) computes the step's products for all rows with ``matmul`` first and
# passes them as ``rec`` (``use_rec``), one launch per step.

PER_STEP_HIDDEN = 512  # hidden sizes from which the per-step path is taken (to be tuned on a GPU)
SHARED_WEIGHTS_BYTES = 48 * 1024  # W_hh up to this size sits in each block's shared memory


def shared_bytes(w_hh, per_step):
    """Dynamic shared memory for a recurrence launch: room for W_hh if it fits (only the
    persistent path reads it)."""
    nbytes = w_hh.size * w_hh.dtype.itemsize
    return 0 if per_step or nbytes > SHARED_WEIGHTS_BYTES else nbytes


@cuda.jit(device=True)
def _stage(w, sw):
    """Copy the weights w (row-major) into the block's shared memory ``sw``, if the launch
    gave it room."""
    N = w.shape[1]
    for idx in range(cuda.threadIdx.x, sw.size, cuda.blockDim.x):
        sw[idx] = w[idx // N, idx % N]
    cuda.syncthreads()


@cuda.jit(device=True)
def _w(w, sw, row, col):
    """w[row, col], from shared memory when staged there."""
    return sw[row * w.shape[1] + col] if sw.size else w[row, col]


def launch_shape(B, H):
    """Blocks of ``rows`` batch rows; a block's threads stride over its (row, unit) pairs."""
    rows = max(1, min(B, MAX_THREADS // H))
    return math.ceil(B / rows), min(rows * H, MAX_THREADS), rows


@cuda.jit(device=True)
def _incoming_gradient(dhs, carry, dxproj, w_hh, sw, n_gate_rows, t, tn, b, j, rec, use_rec):
    """Total dL/dh_t of (b, j): from above, carried past padded steps, and back through
    W_hh from the step ``tn`` processed before (its first ``n_gate_rows`` gate rows, or
    ``rec[b, j]`` if ``use_rec``); written into ``dhs`` and returned."""
    dh = dhs[t, b, j] + carry[b, j]
    if 0 <= tn < dhs.shape[0]:
        if use_rec:
            dh += rec[b, j]
        else:
            for i in range(n_gate_rows):
                dh += dxproj[tn, b, i] * _w(w_hh, sw, i, j)
    dhs[t, b, j] = dh
    return dh


@cuda.jit
def _rnn_forward(xproj, w_t, b_hh, lengths, reverse, relu, hs, rows, s0, s1, rec, use_rec):
    T, B, H = hs.shape
    sw = cuda.shared.array(0, w_t.dtype)
    _stage(w_t, sw)
    for s in range(s0, s1):
        t = T - 1 - s if reverse else s
        tp = t + 1 if reverse else t - 1
        for q in range(cuda.threadIdx.x, rows * H, cuda.blockDim.x):
            b, j = cuda.blockIdx.x * rows + q // H, q % H
            if b < B:
                first = not (0 <= tp < T)
                h_prev = ZERO if first else hs[tp, b, j]
                if t < lengths[b]:
                    a = xproj[t, b, j] + b_hh[j]
                    if use_rec and not first:
                        a += rec[b, j]
                    elif not first:
                        for k in range(H):
                            a += _w(w_t, sw, k, j) * hs[tp, b, k]
                    h_prev = rnn_step(a, relu)
                hs[t, b, j] = h_prev
        cuda.syncthreads()


@cuda.jit
def _rnn_backward(dhs, hs, w_hh, lengths, reverse, relu, dxproj, carry, rows, s0, s1, rec,
                  use_rec):
    T, B, H = hs.shape
    sw = cuda.shared.array(0, w_hh.dtype)
    _stage(w_hh, sw)
    for s in range(s0, s1):
        t = s if reverse else T - 1 - s
        tn = t - 1 if reverse else t + 1
        for q in range(cuda.threadIdx.x, rows * H, cuda.blockDim.x):
            b, j = cuda.blockIdx.x * rows + q // H, q % H
            if b < B:
                dh = _incoming_gradient(dhs, carry, dxproj, w_hh, sw, H, t, tn, b, j, rec, use_rec)
                if t < lengths[b]:
                    dxproj[t, b, j] = rnn_step_grad(dh, hs[t, b, j], relu)
                    carry[b, j] = ZERO
                else:
                    dxproj[t, b, j] = ZERO
                    carry[b, j] = dh
        cuda.syncthreads()


@cuda.jit
def _lstm_forward(xproj, w_t, b_hh, peep, lengths, reverse, coupled, hs, cs, acts, rows, s0, s1,
                  rec, use_rec):
    T, B, H = hs.shape
    sw = cuda.shared.array(0, w_t.dtype)
    _stage(w_t, sw)
    fo = 0 if coupled else H
    go, oo = fo + H, fo + 2 * H
    for s in range(s0, s1):
        t = T - 1 - s if reverse else s
        tp = t + 1 if reverse else t - 1
        for q in range(cuda.threadIdx.x, rows * H, cuda.blockDim.x):
            b, j = cuda.blockIdx.x * rows + q // H, q % H
            if b < B:
                first = not (0 <= tp < T)
                c_prev = ZERO if first else cs[tp, b, j]
                h_prev = ZERO if first else hs[tp, b, j]
                if t < lengths[b]:
                    a_i = xproj[t, b, j] + b_hh[j]  # the f gate's when coupled, unused then
                    a_f = xproj[t, b, fo + j] + b_hh[fo + j]
                    a_g = xproj[t, b, go + j] + b_hh[go + j]
                    a_o = xproj[t, b, oo + j] + b_hh[oo + j]
                    if use_rec and not first:
                        a_i += rec[b, j]
                        a_f += rec[b, fo + j]
                        a_g += rec[b, go + j]
                        a_o += rec[b, oo + j]
                    elif not first:
                        for k in range(H):
                            h_k = hs[tp, b, k]
                            a_i += _w(w_t, sw, k, j) * h_k
                            a_f += _w(w_t, sw, k, fo + j) * h_k
                            a_g += _w(w_t, sw, k, go + j) * h_k
                            a_o += _w(w_t, sw, k, oo + j) * h_k
                    i, f, g, o, c_prev, h_prev = lstm_step(
                        a_i, a_f, a_g, a_o, c_prev, peep[0, j], peep[1, j], peep[2, j], coupled)
                    if not coupled:
                        acts[t, b, j] = i
                    acts[t, b, fo + j] = f
                    acts[t, b, go + j] = g
                    acts[t, b, oo + j] = o
                cs[t, b, j] = c_prev
                hs[t, b, j] = h_prev
        cuda.syncthreads()


@cuda.jit
def _lstm_backward(dhs, acts, cs, w_hh, peep, lengths, reverse, coupled, dxproj, dcs, carry, dc,
                   rows, s0, s1, rec, use_rec):
    T, B, H = dhs.shape
    sw = cuda.shared.array(0, w_hh.dtype)
    _stage(w_hh, sw)
    G = w_hh.shape[0]
    fo = 0 if coupled else H
    go, oo = fo + H, fo + 2 * H
    for s in range(s0, s1):
        t = s if reverse else T - 1 - s
        tn = t - 1 if reverse else t + 1
        tp = t + 1 if reverse else t - 1
        for q in range(cuda.threadIdx.x, rows * H, cuda.blockDim.x):
            b, j = cuda.blockIdx.x * rows + q // H, q % H
            if b < B:
                dh = _incoming_gradient(dhs, carry, dxproj, w_hh, sw, G, t, tn, b, j, rec, use_rec)
                if t < lengths[b]:
                    c_prev = cs[tp, b, j] if 0 <= tp < T else ZERO
                    f = acts[t, b, fo + j]
                    i = ONE - f if coupled else acts[t, b, j]
                    d_i, d_f, d_g, d_o, dcs[t, b, j], dc[b, j] = lstm_step_grad(
                        dh, dc[b, j], i, f, acts[t, b, go + j], acts[t, b, oo + j], cs[t, b, j],
                        c_prev, peep[0, j], peep[1, j], peep[2, j], coupled)
                    if not coupled:
                        dxproj[t, b, j] = d_i
                    dxproj[t, b, fo + j] = d_f
                    dxproj[t, b, go + j] = d_g
                    dxproj[t, b, oo + j] = d_o
                    carry[b, j] = ZERO
                else:
                    for gate in range(G // H):
                        dxproj[t, b, gate * H + j] = ZERO
                    dcs[t, b, j] = dc[b, j]
                    carry[b, j] = dh
        cuda.syncthreads()


@cuda.jit
def _gru_forward(xproj, w_t, b_hh, lengths, reverse, reset_after, hs, acts, hn, hr, rows, s0, s1,
                 rec, rec_n, use_rec, gates, state):
    """``gates`` and ``state`` select the two phases of a step (the per-step path runs
    them in separate launches, with the n gate's product in between)."""
    T, B, H = hs.shape
    sw = cuda.shared.array(0, w_t.dtype)
    _stage(w_t, sw)
    for s in range(s0, s1):
        t = T - 1 - s if reverse else s
        tp = t + 1 if reverse else t - 1
        first = not (0 <= tp < T)
        # the r and z gates, and r * h_{t-1} for the reset-before n gate
        for q in range(cuda.threadIdx.x, rows * H if gates else 0, cuda.blockDim.x):
            b, j = cuda.blockIdx.x * rows + q // H, q % H
            if b < B and t < lengths[b]:
                a_r = xproj[t, b, j] + b_hh[j]
                a_z = xproj[t, b, H + j] + b_hh[H + j]
                if use_rec and not first:
                    a_r += rec[b, j]
                    a_z += rec[b, H + j]
                elif not first:
                    for k in range(H):
                        a_r += _w(w_t, sw, k, j) * hs[tp, b, k]
                        a_z += _w(w_t, sw, k, H + j) * hs[tp, b, k]
                r = sigmoid(a_r)
                acts[t, b, j] = r
                acts[t, b, H + j] = sigmoid(a_z)
                hr[b, j] = ZERO if first else r * hs[tp, b, j]
        cuda.syncthreads()
        # the n gate and the new state
        for q in range(cuda.threadIdx.x, rows * H if state else 0, cuda.blockDim.x):
            b, j = cuda.blockIdx.x * rows + q // H, q % H
            if b < B:
                h_prev = ZERO if first else hs[tp, b, j]
                if t < lengths[b]:
                    n_rec = b_hh[2 * H + j]
                    if use_rec and not first:
                        n_rec += rec_n[b, j]
                    elif not first:
                        for k in range(H):
                            h_k = hs[tp, b, k] if reset_after else hr[b, k]
                            n_rec += _w(w_t, sw, k, 2 * H + j) * h_k
                    hn[t, b, j] = n_rec
                    acts[t, b, 2 * H + j], h_prev = gru_step(
                        acts[t, b, j], acts[t, b, H + j], xproj[t, b, 2 * H + j], n_rec, h_prev,
                        reset_after)
                hs[t, b, j] = h_prev
        cuda.syncthreads()


@cuda.jit
def _gru_backward(dhs, acts, hn, hs, w_hh, lengths, reverse, reset_after, dxproj, dhn, direct,
                  rows, s0, s1, rec, rec_n, use_rec, gates, state):
    """``gates`` and ``state`` select the two phases of a step, as in :func:`_gru_forward`."""
    T, B, H = dhs.shape
    sw = cuda.shared.array(0, w_hh.dtype)
    _stage(w_hh, sw)
    for s in range(s0, s1):
        t = s if reverse else T - 1 - s
        tn = t - 1 if reverse else t + 1
        tp = t + 1 if reverse else t - 1
        # gradients of the gates from dL/dh_t
        for q in range(cuda.threadIdx.x, rows * H if gates else 0, cuda.blockDim.x):
            b, j = cuda.blockIdx.x * rows + q // H, q % H
            if b < B:
                dh = _incoming_gradient(dhs, direct, dxproj, w_hh, sw, 2 * H, t, tn, b, j, rec,
                                        use_rec)
                if t < lengths[b]:
                    h_prev = hs[tp, b, j] if 0 <= tp < T else ZERO
                    (dxproj[t, b, j], dxproj[t, b, H + j], dxproj[t, b, 2 * H + j], dhn[t, b, j],
                     direct[b, j]) = gru_step_grad(dh, acts[t, b, j], acts[t, b, H + j],
                                                   acts[t, b, 2 * H + j], hn[t, b, j], h_prev,
                                                   reset_after)
                else:
                    for gate in range(3):
                        dxproj[t, b, gate * H + j] = ZERO
                    dhn[t, b, j] = ZERO
                    direct[b, j] = dh
        cuda.syncthreads()
        # through W_hn: into h_{t-1} directly and, reset before, into the r gate
        for q in range(cuda.threadIdx.x, rows * H if state else 0, cuda.blockDim.x):
            b, j = cuda.blockIdx.x * rows + q // H, q % H
            if b < B and t < lengths[b]:
                back = ZERO
                if use_rec:
                    back += rec_n[b, j]
                else:
                    for i in range(H):
                        back += dhn[t, b, i] * _w(w_hh, sw, 2 * H + i, j)
                if reset_after:
                    direct[b, j] += back
                else:
                    h_prev = hs[tp, b, j] if 0 <= tp < T else ZERO
                    dxproj[t, b, j], through = gru_reset_before_grad(back, acts[t, b, j], h_prev)
                    direct[b, j] += through
        cuda.syncthreads()


