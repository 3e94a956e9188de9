"""One direction of one layer on the GPU: the input projection, the recurrence's launches
and the weight gradients, over device arrays from a workspace."""

from typing import NamedTuple

from numba import cuda

from . import recurrence as rec_kernels
from .products import add_row, column_sums, fill, matmul, previous_states, rows, transposed
from .recurrence import launch_shape, shared_bytes


class Cache(NamedTuple):
    """What backprop through time needs from a forward run (device arrays, (T, B, X)); a
    field a cell does not use is None."""

    hs: object  #: states, X = H
    acts: object  #: gate activations, X = G (zeros for a plain RNN's unused)
    cs: object = None  #: LSTM cell states c_t, X = H
    peep: object = None  #: LSTM peephole weights (3, H), zeros where none
    hn: object = None  #: GRU's recurrent part of n, X = H


def _full_peepholes(cell, w, hidden_size, ws):
    """The i, f, o peephole rows (zeros where the cell has none), on the device."""
    full = fill(ws.empty("peep", (3, hidden_size), w["weight_hh"].dtype), 0)
    for row, to in enumerate(cell.peephole_rows()):
        full[to].copy_to_device(w["weight_ch"][row])
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


def direction_forward(cell, x, w, lengths, reverse, ws):
    """Run one direction of one layer (see ``CPUBackend.direction_forward``, ``keep=True``)."""
    T, B, _ = x.shape
    G, H = w["weight_hh"].shape
    dtype = x.dtype
    xproj = matmul(rows(x), w["weight_ih"], trans_b=True, out=ws.empty("xproj", (T * B, G), dtype))
    add_row(xproj, w["bias_ih"])
    xproj = xproj.reshape(T, B, G)
    hs = ws.empty("hs", (T, B, H), dtype)
    acts = fill(ws.empty("acts", (T, B, G), dtype), 0)
    grid, block, group = launch_shape(B, H)
    w_hh, b_hh = w["weight_hh"], w["bias_hh"]
    w_t = transposed(w_hh, ws.empty("w_t", (H, G), dtype))
    none = ws.empty("none", (1, 1), dtype)
    per_step = H >= rec_kernels.PER_STEP_HIDDEN
    schedule = _schedule(T, reverse, per_step, False)
    launch = (grid, block, 0, shared_bytes(w_hh, per_step))
    if cell.name == "rnn":
        cache = Cache(hs, acts)
        for s0, s1, _, tp in schedule:
            rec = matmul(hs[tp], w_hh, trans_b=True) if tp >= 0 else none
            rec_kernels._rnn_forward[launch](xproj, w_t, b_hh, lengths, reverse,
                                             cell.nonlinearity == "relu", hs, group, s0, s1, rec,
                                             tp >= 0)
    elif cell.name == "lstm":
        cache = Cache(hs, acts, cs=ws.empty("cs", (T, B, H), dtype),
                      peep=_full_peepholes(cell, w, H, ws))
        for s0, s1, _, tp in schedule:
            rec = matmul(hs[tp], w_hh, trans_b=True) if tp >= 0 else none
            rec_kernels._lstm_forward[launch](xproj, w_t, b_hh, cache.peep, lengths, reverse,
                                              cell.coupled, hs, cache.cs, acts, group, s0, s1,
                                              rec, tp >= 0)
    else:
        cache = Cache(hs, acts, hn=fill(ws.empty("hn", (T, B, H), dtype), 0))
        hr = ws.empty("hr", (B, H), dtype)
        args = (xproj, w_t, b_hh, lengths, reverse, cell.reset_after, hs, acts, cache.hn, hr,
                group)
        for s0, s1, _, tp in schedule:
            if tp < 0:
                rec_kernels._gru_forward[launch](*args, s0, s1, none, none, False, True, True)
                continue
            rec = matmul(hs[tp], w_hh[: 2 * H], trans_b=True)
            rec_kernels._gru_forward[launch](*args, s0, s1, rec, none, True, True, False)
            rec_n = matmul(hs[tp] if cell.reset_after else hr, w_hh[2 * H :], trans_b=True)
            rec_kernels._gru_forward[launch](*args, s0, s1, none, rec_n, True, False, True)
    return hs, cache


def direction_backward(cell, x, w, cache, dhs, lengths, reverse, ws):
    """Backprop through time (see ``CPUBackend.direction_backward``)."""
    T, B, D = x.shape
    w_hh = w["weight_hh"]
    G, H = w_hh.shape
    hs, dtype = cache.hs, x.dtype
    dxproj = ws.empty("dxproj", (T, B, G), dtype)
    carry = fill(ws.empty("carry", (B, H), dtype), 0)
    grid, block, group = launch_shape(B, H)
    none = ws.empty("none", (1, 1), dtype)
    per_step = H >= rec_kernels.PER_STEP_HIDDEN
    schedule = _schedule(T, reverse, per_step, True)
    launch = (grid, block, 0, shared_bytes(w_hh, per_step))
    state_grads = {"h": dhs}
    if cell.name == "rnn":
        for s0, s1, _, tn in schedule:
            rec = matmul(dxproj[tn], w_hh) if tn >= 0 else none
            rec_kernels._rnn_backward[launch](dhs, hs, w_hh, lengths, reverse,
                                              cell.nonlinearity == "relu", dxproj, carry, group,
                                              s0, s1, rec, tn >= 0)
    elif cell.name == "lstm":
        dcs = state_grads["c"] = ws.empty("dcs", (T, B, H), dtype)
        dc = fill(ws.empty("dc", (B, H), dtype), 0)
        for s0, s1, _, tn in schedule:
            rec = matmul(dxproj[tn], w_hh) if tn >= 0 else none
            rec_kernels._lstm_backward[launch](dhs, cache.acts, cache.cs, w_hh, cache.peep,
                                               lengths, reverse, cell.coupled, dxproj, dcs, carry,
                                               dc, group, s0, s1, rec, tn >= 0)
    else:
        dhn = ws.empty("dhn", (T, B, H), dtype)
        args = (dhs, cache.acts, cache.hn, hs, w_hh, lengths, reverse, cell.reset_after, dxproj,
                dhn, carry, group)
        for s0, s1, t, tn in schedule:
            if t < 0:  # the single launch of the persistent path
                rec_kernels._gru_backward[launch](*args, s0, s1, none, none, False, True, True)
                continue
            rec = matmul(dxproj[tn][:, : 2 * H], w_hh[: 2 * H]) if tn >= 0 else none
            rec_kernels._gru_backward[launch](*args, s0, s1, rec, none, tn >= 0, True, False)
            rec_n = matmul(dhn[t], w_hh[2 * H :])
            rec_kernels._gru_backward[launch](*args, s0, s1, none, rec_n, True, False, True)
    return _input_grad(x, w, dxproj, ws), _weight_grads(cell, cache, dxproj, x, reverse,
                                                        dhn if cell.name == "gru" else None,
                                                        ws), state_grads


def _input_grad(x, w, dxproj, ws):
    T, B, D = x.shape
    return matmul(rows(dxproj), w["weight_ih"], out=ws.empty("dx", (T * B, D), x.dtype)
                  ).reshape(T, B, D)


def _weight_grads(cell, cache, dxproj, x, reverse, dhn, ws):
    """The gradients of the direction's weights from the pre-activations' (``dxproj``)."""
    hs, dtype = cache.hs, x.dtype
    G, H = dxproj.shape[2], hs.shape[2]
    rows_x, rows_d = rows(x), rows(dxproj)
    prev = rows(previous_states(hs, reverse))
    grads = {"weight_ih": matmul(rows_d, rows_x, trans_a=True), "bias_ih": column_sums(rows_d)}
    grads["weight_hh"] = cuda.device_array((G, H), dtype)
    grads["bias_hh"] = cuda.device_array(G, dtype)
    if cell.name == "gru":
        rows_n = rows(dhn)
        n_input = prev if cell.reset_after else rows(previous_states(hs, reverse,
                                                                     cache.acts[:, :, :H]))
        matmul(rows_d[:, : 2 * H], prev, trans_a=True, out=grads["weight_hh"][: 2 * H])
        matmul(rows_n, n_input, trans_a=True, out=grads["weight_hh"][2 * H :])
        grads["bias_hh"][: 2 * H].copy_to_device(grads["bias_ih"][: 2 * H])
        column_sums(rows_n, out=grads["bias_hh"][2 * H :])
    else:
        matmul(rows_d, prev, trans_a=True, out=grads["weight_hh"])
        grads["bias_hh"].copy_to_device(grads["bias_ih"])
    if cell.peepholes:
        # the i and f pre-activations see c_{t-1}, the o pre-activation sees c_t
        seen = {"i": rows(previous_states(cache.cs, reverse)), "o": rows(cache.cs)}
        seen["f"] = seen["i"]
        grads["weight_ch"] = cuda.device_array((len(cell.peepholes), H), dtype)
        for row, g in enumerate(cell.peepholes):
            column_sums(rows_d[:, cell.block(g, H)], seen[g], out=grads["weight_ch"][row])
    return grads


def gate_activations(cell, cache):
    """Gate activations (T, B, H) by name, copied to the host."""
    return cell.named_gates(cache.acts.copy_to_host()) if cell.name != "rnn" else {}

