"""CUDA backend: the CPU backend's contract on ``numba.cuda`` device arrays.

The cells' ``step`` and ``step_grad`` are the same source as on the CPU (registered
for every target by :func:`numbarnn._compile.pointwise`), compiled into the kernels
below as device code.

Kernels:

- ``gemm``: a tiled, shared-memory matrix product for the input projection over
  all T * B rows, the input gradient and every weight gradient.
- one persistent kernel per cell and direction for the recurrence: a single launch
  runs every time step. Each thread block owns a group of batch rows (rows are
  independent in time) and its threads the (row, unit) pairs of that group; they
  read the previous state from the block's own output and meet at a barrier after
  each step, so no launch happens per step. Each block copies the recurrent weights
  into its shared memory when they fit (``SHARED_WEIGHTS_BYTES``) and otherwise
  reads them from global memory; from ``PER_STEP_HIDDEN`` the steps run one launch
  each, after a product for all rows.

Layout and semantics are the CPU backend's: time-major (T, B, ...) arrays, padded
steps carry the state, ``dhs`` is overwritten with the total dL/dh_t. ``numba.cuda``
is imported with this module, so import it only for ``device='cuda'``;
:func:`require` says what is missing when it cannot be used.
"""

import functools
import importlib.util
import math

import numba
import numpy as np
from numba import cuda

from ..cells import gru, lstm, rnn
from ..cells.activations import ONE, ZERO, sigmoid
from ..exceptions import DeviceUnavailableError
from . import cpu
from .cpu import PEEPHOLE_ROWS, _block

SIMULATOR = bool(numba.config.ENABLE_CUDASIM)
TILE = 4 if SIMULATOR else 16  # the simulator runs one Python thread per GPU thread
MAX_THREADS = 16 if SIMULATOR else 256


def require():
    """Raise :class:`~numbarnn.exceptions.DeviceUnavailableError` unless a CUDA GPU is usable."""
    if SIMULATOR:
        return
    if not cuda.is_available():
        if importlib.util.find_spec("numba_cuda") is None:
            raise DeviceUnavailableError(
                "device='cuda' needs numba-cuda and an NVIDIA GPU: numba-cuda is not installed "
                "(pip install 'numbarnn[cuda]')")
        raise DeviceUnavailableError(
            "device='cuda' found no usable NVIDIA GPU or CUDA driver "
            "(numba.cuda.is_available() is False; numba.cuda.detect() tells why)")



# --- the recurrence: one persistent launch per direction ----------------------------------------
#
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


def _shared_bytes(w_hh, per_step):
    """Dynamic shared memory for a recurrence launch: room for W_hh if it fits (only the
    persistent path reads it)."""
    nbytes = w_hh.size * w_hh.dtype.itemsize
    return 0 if per_step or nbytes > SHARED_WEIGHTS_BYTES else nbytes


@cuda.jit(device=True)
def _stage(w_hh, sw):
    """Copy W_hh into the block's shared memory ``sw``, if the launch gave it room."""
    H = w_hh.shape[1]
    for idx in range(cuda.threadIdx.x, sw.size, cuda.blockDim.x):
        sw[idx] = w_hh[idx // H, idx % H]
    cuda.syncthreads()


@cuda.jit(device=True)
def _w(w_hh, sw, row, col):
    """W_hh[row, col], from shared memory when staged there."""
    return sw[row * w_hh.shape[1] + col] if sw.size else w_hh[row, col]


def _launch(B, H):
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
def _rnn_forward(xproj, w_hh, b_hh, lengths, reverse, relu, hs, rows, s0, s1, rec, use_rec):
    T, B, H = hs.shape
    sw = cuda.shared.array(0, w_hh.dtype)
    _stage(w_hh, sw)
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
                            a += _w(w_hh, sw, j, k) * hs[tp, b, k]
                    h_prev = rnn.step(a, relu)
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
                    dxproj[t, b, j] = rnn.step_grad(dh, hs[t, b, j], relu)
                    carry[b, j] = ZERO
                else:
                    dxproj[t, b, j] = ZERO
                    carry[b, j] = dh
        cuda.syncthreads()


@cuda.jit
def _lstm_forward(xproj, w_hh, b_hh, peep, lengths, reverse, coupled, hs, cs, acts, rows, s0, s1,
                  rec, use_rec):
    T, B, H = hs.shape
    sw = cuda.shared.array(0, w_hh.dtype)
    _stage(w_hh, sw)
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
                            a_i += _w(w_hh, sw, j, k) * h_k
                            a_f += _w(w_hh, sw, fo + j, k) * h_k
                            a_g += _w(w_hh, sw, go + j, k) * h_k
                            a_o += _w(w_hh, sw, oo + j, k) * h_k
                    i, f, g, o, c_prev, h_prev = lstm.step(
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
                    d_i, d_f, d_g, d_o, dcs[t, b, j], dc[b, j] = lstm.step_grad(
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
def _gru_forward(xproj, w_hh, b_hh, lengths, reverse, reset_after, hs, acts, hn, hr, rows, s0, s1,
                 rec, rec_n, use_rec, gates, state):
    """``gates`` and ``state`` select the two phases of a step (the per-step path runs
    them in separate launches, with the n gate's product in between)."""
    T, B, H = hs.shape
    sw = cuda.shared.array(0, w_hh.dtype)
    _stage(w_hh, sw)
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
                        a_r += _w(w_hh, sw, j, k) * hs[tp, b, k]
                        a_z += _w(w_hh, sw, H + j, k) * hs[tp, b, k]
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
                            n_rec += _w(w_hh, sw, 2 * H + j, k) * h_k
                    hn[t, b, j] = n_rec
                    acts[t, b, 2 * H + j], h_prev = gru.step(
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
                     direct[b, j]) = gru.step_grad(dh, acts[t, b, j], acts[t, b, H + j],
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
                    r = acts[t, b, j]
                    dxproj[t, b, j] = back * h_prev * r * (ONE - r)
                    direct[b, j] += back * r
        cuda.syncthreads()


# --- products and reductions over all T * B rows --------------------------------------------


@functools.cache
def _gemm(dtype):
    """The tiled product kernel for one dtype (its shared-memory tiles are typed)."""
    nbtype = numba.from_dtype(np.dtype(dtype))

    @cuda.jit
    def gemm(a, b, c, trans_a, trans_b):
        """c = op(a) @ op(b), op transposing where asked: (M, K) @ (K, N) -> (M, N)."""
        sa = cuda.shared.array((TILE, TILE), nbtype)
        sb = cuda.shared.array((TILE, TILE), nbtype)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        m, n = cuda.blockIdx.x * TILE + ty, cuda.blockIdx.y * TILE + tx  # rows on x: 2^31 blocks
        M, N = c.shape
        K = a.shape[0] if trans_a else a.shape[1]
        acc = nbtype(0)
        for k0 in range(0, K, TILE):
            ka, kb = k0 + tx, k0 + ty
            sa[ty, tx] = (a[ka, m] if trans_a else a[m, ka]) if m < M and ka < K else nbtype(0)
            sb[ty, tx] = (b[n, kb] if trans_b else b[kb, n]) if n < N and kb < K else nbtype(0)
            cuda.syncthreads()
            for kk in range(TILE):
                acc += sa[ty, kk] * sb[kk, tx]
            cuda.syncthreads()
        if m < M and n < N:
            c[m, n] = acc

    return gemm


def matmul(a, b, trans_a=False, trans_b=False, out=None):
    """op(a) @ op(b) for 2D device arrays, into ``out`` if given."""
    M = a.shape[1] if trans_a else a.shape[0]
    N = b.shape[0] if trans_b else b.shape[1]
    if out is None:
        out = cuda.device_array((M, N), a.dtype)
    grid = (math.ceil(M / TILE), math.ceil(N / TILE))
    _gemm(a.dtype)[grid, (TILE, TILE)](a, b, out, trans_a, trans_b)
    return out


def _blocks(n):
    """Blocks of MAX_THREADS threads for one thread per item."""
    return max(1, math.ceil(n / MAX_THREADS))


@cuda.jit
def _column_sums(a, weight, weighted, out):
    """out[j] = sum_r a[r, j], each term times weight[r, j] if ``weighted``."""
    j = cuda.grid(1)
    if j < a.shape[1]:
        total = ZERO
        for r in range(a.shape[0]):
            total += a[r, j] * weight[r, j] if weighted else a[r, j]
        out[j] = total


def column_sums(a, weight=None, out=None):
    """Sum over the rows of a 2D device array, each term weighted by ``weight`` if given."""
    if out is None:
        out = cuda.device_array(a.shape[1], a.dtype)
    _column_sums[_blocks(a.shape[1]), MAX_THREADS](a, a if weight is None else weight,
                                                  weight is not None, out)
    return out


@cuda.jit
def _fill(a, value):
    i = cuda.grid(1)
    if i < a.size:
        a[i] = value


def zeros(shape, dtype):
    """A device array of zeros."""
    out = cuda.device_array(shape, dtype)
    _fill[_blocks(out.size), MAX_THREADS](out.reshape(out.size), 0)
    return out


@cuda.jit
def _add_row(a, row):
    i = cuda.grid(1)
    if i < a.size:
        a[i // a.shape[1], i % a.shape[1]] += row[i % a.shape[1]]


@cuda.jit
def _shift(hs, reverse, scale, scaled, prev):
    """prev[t] = hs[t - 1] (hs[t + 1] in reverse), times scale[t] if ``scaled``; zeros first."""
    i = cuda.grid(1)
    T, B, H = hs.shape
    if i < hs.size:
        t, b, j = i // (B * H), i // H % B, i % H
        tp = t + 1 if reverse else t - 1
        if 0 <= tp < T:
            prev[t, b, j] = hs[tp, b, j] * scale[t, b, j] if scaled else hs[tp, b, j]
        else:
            prev[t, b, j] = ZERO


def _previous_states(hs, reverse, scale=None):
    """The state each step starts from, times ``scale`` (an array like hs) if given."""
    prev = cuda.device_array_like(hs)
    _shift[_blocks(hs.size), MAX_THREADS](hs, reverse, hs if scale is None else scale,
                                          scale is not None, prev)
    return prev


def _rows(a):
    """A (T, B, N) device array as (T * B, N)."""
    return a.reshape(a.shape[0] * a.shape[1], a.shape[2])


# --- one direction of one layer -------------------------------------------------------------


def _full_peepholes(cell, w, hidden_size, dtype):
    """The i, f, o peephole rows (zeros where the cell has none), copied on the device."""
    full = zeros((3, hidden_size), dtype)
    for row, gate in enumerate(cell.peepholes):
        full[PEEPHOLE_ROWS.index(gate)].copy_to_device(w["weight_ch"][row])
    return full


def _schedule(T, reverse, per_step, backward):
    """The launches of a time loop as (s0, s1, t, other): one for all steps, or one per
    step with its time t and the step whose state (forward) or gradient (backward) its
    product needs (-1 if none, or for the single launch)."""
    if not per_step:
        return [(0, T, -1, -1)]
    launches = []
    for s in range(T):
        t = (s if reverse else T - 1 - s) if backward else (T - 1 - s if reverse else s)
        other = t + 1 if reverse == (not backward) else t - 1
        launches.append((s, s + 1, t, other if 0 <= other < T else -1))
    return launches


def direction_forward(cell, x, w, lengths, reverse):
    """Run one direction of one layer on the GPU.

    Parameters and returns are those of :func:`numbarnn.backends.cpu.direction_forward`
    with ``keep=True``, with device arrays in place of ndarrays.
    """
    T, B, _ = x.shape
    H = w["weight_hh"].shape[1]
    xproj = matmul(_rows(x), w["weight_ih"], trans_b=True)
    _add_row[_blocks(xproj.size), MAX_THREADS](xproj, w["bias_ih"])
    xproj = xproj.reshape(T, B, xproj.shape[1])
    hs = cuda.device_array((T, B, H), x.dtype)
    acts = zeros(xproj.shape, x.dtype)
    grid, block, rows = _launch(B, H)
    w_hh, b_hh = w["weight_hh"], w["bias_hh"]
    none = cuda.device_array((1, 1), x.dtype)
    per_step = H >= PER_STEP_HIDDEN
    schedule = _schedule(T, reverse, per_step, False)
    launch = (grid, block, 0, _shared_bytes(w_hh, per_step))
    if cell.name == "rnn":
        cache = (hs,)
        for s0, s1, _, tp in schedule:
            rec = matmul(hs[tp], w_hh, trans_b=True) if tp >= 0 else none
            _rnn_forward[launch](xproj, w_hh, b_hh, lengths, reverse, cell.nonlinearity == "relu",
                                 hs, rows, s0, s1, rec, tp >= 0)
    elif cell.name == "lstm":
        cache = (hs, cuda.device_array_like(hs), acts, _full_peepholes(cell, w, H, x.dtype))
        for s0, s1, _, tp in schedule:
            rec = matmul(hs[tp], w_hh, trans_b=True) if tp >= 0 else none
            _lstm_forward[launch](xproj, w_hh, b_hh, cache[3], lengths, reverse, cell.coupled, hs,
                                  cache[1], acts, rows, s0, s1, rec, tp >= 0)
    else:
        cache = (hs, acts, zeros(hs.shape, x.dtype))
        hr = cuda.device_array((B, H), x.dtype)
        args = (xproj, w_hh, b_hh, lengths, reverse, cell.reset_after, hs, acts, cache[2], hr,
                rows)
        for s0, s1, _, tp in schedule:
            if tp < 0:
                _gru_forward[launch](*args, s0, s1, none, none, False, True, True)
                continue
            rec = matmul(hs[tp], w_hh[: 2 * H], trans_b=True)
            _gru_forward[launch](*args, s0, s1, rec, none, True, True, False)
            rec_n = matmul(hs[tp] if cell.reset_after else hr, w_hh[2 * H :], trans_b=True)
            _gru_forward[launch](*args, s0, s1, none, rec_n, True, False, True)
    return hs, cache


def direction_backward(cell, x, w, cache, dhs, lengths, reverse):
    """Backprop through time for one direction of one layer on the GPU.

    Parameters and returns are those of :func:`numbarnn.backends.cpu.direction_backward`,
    with device arrays in place of ndarrays.
    """
    T, B, D = x.shape
    w_hh = w["weight_hh"]
    H = w_hh.shape[1]
    hs = cache[0]
    dxproj = cuda.device_array((T, B, w_hh.shape[0]), hs.dtype)
    carry = zeros((B, H), hs.dtype)
    grid, block, rows = _launch(B, H)
    none = cuda.device_array((1, 1), hs.dtype)
    per_step = H >= PER_STEP_HIDDEN
    schedule = _schedule(T, reverse, per_step, True)
    launch = (grid, block, 0, _shared_bytes(w_hh, per_step))
    if cell.name == "rnn":
        for s0, s1, _, tn in schedule:
            rec = matmul(dxproj[tn], w_hh) if tn >= 0 else none
            _rnn_backward[launch](dhs, hs, w_hh, lengths, reverse, cell.nonlinearity == "relu",
                                  dxproj, carry, rows, s0, s1, rec, tn >= 0)
    elif cell.name == "lstm":
        _, cs, acts, peep = cache
        dcs = cuda.device_array_like(hs)
        dc = zeros((B, H), hs.dtype)
        for s0, s1, _, tn in schedule:
            rec = matmul(dxproj[tn], w_hh) if tn >= 0 else none
            _lstm_backward[launch](dhs, acts, cs, w_hh, peep, lengths, reverse, cell.coupled,
                                   dxproj, dcs, carry, dc, rows, s0, s1, rec, tn >= 0)
    else:
        _, acts, hn = cache
        dhn = cuda.device_array_like(hs)
        args = (dhs, acts, hn, hs, w_hh, lengths, reverse, cell.reset_after, dxproj, dhn, carry,
                rows)
        for s0, s1, t, tn in schedule:
            if t < 0:  # the single launch of the persistent path
                _gru_backward[launch](*args, s0, s1, none, none, False, True, True)
                continue
            rec = matmul(dxproj[tn][:, : 2 * H], w_hh[: 2 * H]) if tn >= 0 else none
            _gru_backward[launch](*args, s0, s1, rec, none, tn >= 0, True, False)
            rec_n = matmul(dhn[t], w_hh[2 * H :])
            _gru_backward[launch](*args, s0, s1, none, rec_n, True, False, True)

    rows_x, rows_d = _rows(x), _rows(dxproj)
    prev = _rows(_previous_states(hs, reverse))
    grads = {"weight_ih": matmul(rows_d, rows_x, trans_a=True), "bias_ih": column_sums(rows_d)}
    grads["weight_hh"] = cuda.device_array(w_hh.shape, hs.dtype)
    grads["bias_hh"] = cuda.device_array(w_hh.shape[0], hs.dtype)
    if cell.name == "gru":
        rows_n = _rows(dhn)
        n_input = prev if cell.reset_after else _rows(_previous_states(hs, reverse, acts[:, :, :H]))
        matmul(rows_d[:, : 2 * H], prev, trans_a=True, out=grads["weight_hh"][: 2 * H])
        matmul(rows_n, n_input, trans_a=True, out=grads["weight_hh"][2 * H :])
        grads["bias_hh"][: 2 * H].copy_to_device(grads["bias_ih"][: 2 * H])
        column_sums(rows_n, out=grads["bias_hh"][2 * H :])
    else:
        matmul(rows_d, prev, trans_a=True, out=grads["weight_hh"])
        grads["bias_hh"].copy_to_device(grads["bias_ih"])
    if cell.peepholes:
        # the i and f pre-activations see c_{t-1}, the o pre-activation sees c_t
        seen = {"i": _rows(_previous_states(cs, reverse)), "o": _rows(cs)}
        seen["f"] = seen["i"]
        grads["weight_ch"] = cuda.device_array((len(cell.peepholes), H), hs.dtype)
        for row, g in enumerate(cell.peepholes):
            column_sums(rows_d[:, _block(cell, g, H)], seen[g], out=grads["weight_ch"][row])
    dx = matmul(rows_d, w["weight_ih"]).reshape(T, B, D)
    state_grads = {"h": dhs, "c": dcs} if cell.name == "lstm" else {"h": dhs}
    return dx, grads, state_grads


def gate_activations(cell, cache):
    """Gate activations (T, B, H) by name, copied to the host."""
    if cell.name == "rnn":
        return {}
    return cpu.named_gates(cell, (cache[2] if cell.name == "lstm" else cache[1]).copy_to_host())
