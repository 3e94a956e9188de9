"""Products, reductions and element-wise glue on ``numba.cuda`` device arrays.

``gemm`` is a tiled, shared-memory matrix product, used for the input projection over
all T * B rows, the input gradient, every weight gradient and the head. Reductions sum
in a tree: each block reduces its share in shared memory.
"""

import math

import numpy as np
from numba import cuda

from ...cells.activations import ZERO
from .device import MAX_THREADS, TILE, blocks, row_loss


@cuda.jit
def _gemm(a, b, c, trans_a, trans_b):
    """c = op(a) @ op(b), op transposing where asked: (M, K) @ (K, N) -> (M, N)."""
    sa = cuda.shared.array((TILE, TILE), c.dtype)
    sb = cuda.shared.array((TILE, TILE), c.dtype)
    tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
    m, n = cuda.blockIdx.x * TILE + ty, cuda.blockIdx.y * TILE + tx  # rows on x: 2^31 blocks
    M, N = c.shape
    K = a.shape[0] if trans_a else a.shape[1]
    acc = ZERO  # typed as c by the sums below; never read from c (uninitialised memory)
    for k0 in range(0, K, TILE):
        ka, kb = k0 + tx, k0 + ty
        sa[ty, tx] = (a[ka, m] if trans_a else a[m, ka]) if m < M and ka < K else ZERO
        sb[ty, tx] = (b[n, kb] if trans_b else b[kb, n]) if n < N and kb < K else ZERO
        cuda.syncthreads()
        for kk in range(TILE):
            acc += sa[ty, kk] * sb[kk, tx]
        cuda.syncthreads()
    if m < M and n < N:
        c[m, n] = acc


def matmul(a, b, trans_a=False, trans_b=False, out=None):
    """op(a) @ op(b) for 2D device arrays, into ``out`` if given."""
    M = a.shape[1] if trans_a else a.shape[0]
    N = b.shape[0] if trans_b else b.shape[1]
    if out is None:
        out = cuda.device_array((M, N), a.dtype)
    grid = (math.ceil(M / TILE), math.ceil(N / TILE))
    _gemm[grid, (TILE, TILE)](a, b, out, trans_a, trans_b)
    return out


@cuda.jit
def _column_sums(a, weight, weighted, out):
    """out[j] = sum_r a[r, j] (times weight[r, j] if ``weighted``): block j sums column j,
    its threads striding over the rows, then in a tree in shared memory."""
    partial = cuda.shared.array(MAX_THREADS, np.float64)
    j, tid = cuda.blockIdx.x, cuda.threadIdx.x
    total = 0.0
    for r in range(tid, a.shape[0], cuda.blockDim.x):
        total += a[r, j] * weight[r, j] if weighted else a[r, j]
    partial[tid] = total
    _tree_sum(partial, tid)
    if tid == 0:
        out[j] = partial[0]


@cuda.jit(device=True)
def _tree_sum(partial, tid):
    """partial[0] = the sum of the block's ``partial`` (blockDim.x a power of two)."""
    cuda.syncthreads()
    step = cuda.blockDim.x // 2
    while step > 0:
        if tid < step:
            partial[tid] += partial[tid + step]
        cuda.syncthreads()
        step //= 2


def column_sums(a, weight=None, out=None):
    """Sum over the rows of a 2D device array, each term weighted by ``weight`` if given."""
    if out is None:
        out = cuda.device_array(a.shape[1], a.dtype)
    _column_sums[a.shape[1], MAX_THREADS](a, a if weight is None else weight,
                                          weight is not None, out)
    return out


@cuda.jit
def _sum_squares(x, out, slot):
    """out[slot] += the sum of x**2 (float64): per block in a tree, one atomic per block."""
    partial = cuda.shared.array(MAX_THREADS, np.float64)
    tid = cuda.threadIdx.x
    total = 0.0
    for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
        total += x[i] * x[i]
    partial[tid] = total
    _tree_sum(partial, tid)
    if tid == 0:
        cuda.atomic.add(out, slot, partial[0])


def sum_squares(x, out, slot):
    """out[slot] += the sum of the squares of the flat device array x."""
    _sum_squares[min(blocks(x.size), 1024), MAX_THREADS](x, out, slot)


@cuda.jit
def _fill(a, value):
    i = cuda.grid(1)
    if i < a.size:
        a[i] = value


def fill(out, value):
    """Set every element of the device array ``out`` to ``value``; returns it."""
    _fill[blocks(out.size), MAX_THREADS](out.reshape(out.size), value)
    return out


def zeros(shape, dtype):
    """A new device array of zeros."""
    return fill(cuda.device_array(shape, dtype), 0)


@cuda.jit
def _add_row(a, row):
    i = cuda.grid(1)
    if i < a.size:
        a[i // a.shape[1], i % a.shape[1]] += row[i % a.shape[1]]


def add_row(a, row):
    """a[r] += row for every row r of the 2D device array a."""
    _add_row[blocks(a.size), MAX_THREADS](a, row)


@cuda.jit
def _transpose(a, out):
    i = cuda.grid(1)
    if i < a.size:
        r, c = i // a.shape[1], i % a.shape[1]
        out[c, r] = a[r, c]


def transposed(a, out=None):
    """a.T as a C-contiguous device array (into ``out`` if given)."""
    if out is None:
        out = cuda.device_array((a.shape[1], a.shape[0]), a.dtype)
    _transpose[blocks(a.size), MAX_THREADS](a, out)
    return out


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


def previous_states(hs, reverse, scale=None):
    """The state each step starts from, times ``scale`` (an array like hs) if given."""
    prev = cuda.device_array_like(hs)
    _shift[blocks(hs.size), MAX_THREADS](hs, reverse, hs if scale is None else scale,
                                         scale is not None, prev)
    return prev


def rows(a):
    """A (T, B, N) device array as (T * B, N)."""
    return a.reshape(a.shape[0] * a.shape[1], a.shape[2])


@cuda.jit
def _copy(src, dst, accumulate):
    """dst = (dst +) src over (T, B, N) views."""
    i = cuda.grid(1)
    T, B, N = src.shape
    if i < src.size:
        t, b, j = i // (B * N), i // N % B, i % N
        dst[t, b, j] = dst[t, b, j] + src[t, b, j] if accumulate else src[t, b, j]


def copy(src, dst, accumulate=False):
    """Copy (or add) a (T, B, N) device array or view into another of its shape."""
    _copy[blocks(src.size), MAX_THREADS](src, dst, accumulate)


@cuda.jit
def _copy_valid(src, dst, lengths, mask, masked):
    """dst = src over (T, B, N) views, times ``mask`` if ``masked``, zero at steps
    t >= lengths[b]."""
    i = cuda.grid(1)
    T, B, N = src.shape
    if i < src.size:
        t, b, j = i // (B * N), i // N % B, i % N
        value = src[t, b, j] * mask[t, b, j] if masked else src[t, b, j]
        dst[t, b, j] = value if t < lengths[b] else ZERO  # not 0 * value: value may be inf


def copy_valid(src, dst, lengths, mask=None):
    """Copy a (T, B, N) device array or view into another, zero at padded steps and
    times ``mask`` where given."""
    _copy_valid[blocks(src.size), MAX_THREADS](src, dst, lengths,
                                               src if mask is None else mask, mask is not None)


@cuda.jit
def _take(src, idx, out):
    """out[t, b] = src[t, idx[b]] for (T, n, N) ``src``."""
    i = cuda.grid(1)
    T, B, N = out.shape
    if i < out.size:
        t, b, j = i // (B * N), i // N % B, i % N
        out[t, b, j] = src[t, idx[b], j]


def take(src, idx):
    """src[:, idx] for a (T, n, N) device array and device indices."""
    out = cuda.device_array((src.shape[0], idx.size, src.shape[2]), src.dtype)
    _take[blocks(out.size), MAX_THREADS](src, idx, out)
    return out


@cuda.jit
def _loss_rows(kind, output, target, lengths, per_step, weight, weighted, scale, doutput, out):
    """out[0] += the sum over rows (t, b) of ``output`` (S, B, k) of the row loss times its
    weight, times ``scale``; fills ``doutput`` with its gradient (a thread per row; the
    sum per block in a tree, one atomic per block). Weights as in the CPU's
    :func:`~numbarnn.backends.cpu.losses.loss_rows`: 0 at padded steps if ``per_step``,
    else ``weight[t, b, 0]`` if ``weighted``, else 1; a row of weight 0 reads no target."""
    partial = cuda.shared.array(MAX_THREADS, np.float64)
    tid = cuda.threadIdx.x
    S, B, K = output.shape
    total = 0.0
    for i in range(cuda.grid(1), S * B, cuda.gridsize(1)):
        t, b = i // B, i % B
        w = weight[t, b, 0] if weighted else 1.0  # float64, as the scale
        if (per_step and t >= lengths[b]) or w == 0:
            for j in range(K):
                doutput[t, b, j] = ZERO
        else:
            total += row_loss(kind, output, target, t, b, w, scale, doutput)
    partial[tid] = total * scale
    _tree_sum(partial, tid)
    if tid == 0:
        cuda.atomic.add(out, 0, partial[0])


def loss_rows(kind, output, target, lengths, per_step, weight, scale, doutput, out):
    """See :func:`_loss_rows`; ``weight`` (S, B, 1) or None."""
    S, B, _ = output.shape
    _loss_rows[min(blocks(S * B), 1024), MAX_THREADS](
        kind, output, target, lengths, per_step, target if weight is None else weight,
        weight is not None, scale, doutput, out)


@cuda.jit
def _gather_rows(weight, ids, out):
    """out[t, b] = weight[ids[t, b, 0]] over (T, B, D)."""
    i = cuda.grid(1)
    T, B, D = out.shape
    if i < out.size:
        t, b, j = i // (B * D), i // D % B, i % D
        out[t, b, j] = weight[ids[t, b, 0], j]


def gather_rows(weight, ids):
    """The rows of a (V, D) device array for (T, B, 1) device ids: (T, B, D)."""
    out = cuda.device_array(ids.shape[:2] + (weight.shape[1],), weight.dtype)
    _gather_rows[blocks(out.size), MAX_THREADS](weight, ids, out)
    return out


@cuda.jit
def _scatter_rows(dx, ids, lengths, dweight):
    """dweight[ids[t, b, 0]] += dx[t, b] at valid steps, with atomic adds (ids repeat)."""
    i = cuda.grid(1)
    T, B, D = dx.shape
    if i < dx.size:
        t, b, j = i // (B * D), i // D % B, i % D
        if t < lengths[b]:
            cuda.atomic.add(dweight, (ids[t, b, 0], j), dx[t, b, j])


def scatter_rows(dx, ids, lengths, dweight):
    """Add dx (T, B, D) of the valid steps into the rows ``ids`` (T, B, 1) of ``dweight``."""
    _scatter_rows[blocks(dx.size), MAX_THREADS](dx, ids, lengths, dweight)
