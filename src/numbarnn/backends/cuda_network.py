"""The network and its training loop on a CUDA GPU.

:class:`DeviceNetwork` is a :class:`~numbarnn.network.RecurrentNetwork` whose layers
run on the GPU: its ``forward``, ``backward``, ``predict`` and ``gate_activations``
take and give host arrays as the CPU network's do (so diagnostics work unchanged), and
:class:`DeviceTrainer` keeps the parameters, the optimizer's state and the training
data on the device for a whole fit. Per batch the host only launches kernels (and
sends dropout masks, drawn from the same generator as on the CPU); it reads the loss
and the weights back once per epoch. A non-finite loss, gradient norm or updated
weight raises a flag on the device that stops every later update of the epoch, so
the weights read back are the last good ones, as on the CPU.
"""

import math

import numpy as np
from numba import cuda

from ..exceptions import TrainingDivergedError
from ..network import RecurrentNetwork
from ..optim import SGD, adam_element, sgd_element
from ..validation import check_lengths
from ..cells.activations import ZERO
from . import cuda as gpu
from .cuda import MAX_THREADS, _blocks, _rows, column_sums, matmul, zeros

# slots of the training state vector (float64, on the device)
EPOCH_LOSS, BATCH_LOSS, NORM_SQ, FLAG, BAD_BATCH, BAD_LOSS, BAD_WEIGHTS = range(7)


# --- glue kernels ----------------------------------------------------------------------------


@cuda.jit
def _copy_masked(src, dst, lengths, valid_only, mask, masked, accumulate):
    """dst = (dst +) src over (T, B, N) views, times ``mask`` if ``masked``, and zero at
    steps t >= lengths[b] if ``valid_only``."""
    i = cuda.grid(1)
    T, B, N = src.shape
    if i < src.size:
        t, b, j = i // (B * N), i // N % B, i % N
        value = src[t, b, j] * mask[t, b, j] if masked else src[t, b, j]
        if valid_only and t >= lengths[b]:
            value = ZERO * value
        dst[t, b, j] = dst[t, b, j] + value if accumulate else value


def _copy(src, dst, lengths, valid_only=True, mask=None, accumulate=False):
    """Copy (or add) a (T, B, N) device array or view into another, masked."""
    _copy_masked[_blocks(src.size), MAX_THREADS](src, dst, lengths, valid_only,
                                                 src if mask is None else mask, mask is not None,
                                                 accumulate)


@cuda.jit
def _gather(src, order, start, out):
    """out[t, b] = src[t, order[start + b]] for (T, n, N) ``src``."""
    i = cuda.grid(1)
    T, B, N = out.shape
    if i < out.size:
        t, b, j = i // (B * N), i // N % B, i % N
        out[t, b, j] = src[t, order[start + b], j]


@cuda.jit
def _gather_rows(src, order, start, out):
    i = cuda.grid(1)
    if i < out.shape[0]:
        out[i] = src[order[start + i]]


@cuda.jit
def _mse(output, target, lengths, per_step, scale, doutput, state):
    """Squared error over (T, B, k) ``output`` (at valid steps if ``per_step``), times
    scale / 2 into state[BATCH_LOSS]; doutput = scale * diff."""
    i = cuda.grid(1)
    T, B, K = output.shape
    if i < output.size:
        t, b, j = i // (B * K), i // K % B, i % K
        diff = output[t, b, j] - target[t, b, j]
        if per_step and t >= lengths[b]:
            diff = 0 * diff
        doutput[t, b, j] = diff * scale
        cuda.atomic.add(state, BATCH_LOSS, diff * diff * (scale / 2))


@cuda.jit
def _sum_squares(x, state):
    """state[NORM_SQ] += sum of x**2: per block in shared memory, one atomic per block."""
    partial = cuda.shared.array(MAX_THREADS, np.float64)
    total = np.float64(0)
    for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
        total += x[i] * x[i]
    partial[cuda.threadIdx.x] = total
    cuda.syncthreads()
    step = cuda.blockDim.x // 2
    while step > 0:
        if cuda.threadIdx.x < step:
            partial[cuda.threadIdx.x] += partial[cuda.threadIdx.x + step]
        cuda.syncthreads()
        step //= 2
    if cuda.threadIdx.x == 0:
        cuda.atomic.add(state, NORM_SQ, partial[0])


@cuda.jit
def _check_batch(state, batch, n_rows):
    """Raise the flag on a non-finite loss, gradient or weight; else add the batch's loss."""
    if cuda.grid(1) == 0 and state[FLAG] == 0:
        loss = state[BATCH_LOSS]
        if state[BAD_WEIGHTS] != 0:  # the last step broke the weights: report that batch
            state[FLAG] = 1
            state[BAD_BATCH] = batch - 1
        elif not (math.isfinite(loss) and math.isfinite(state[NORM_SQ])):
            state[FLAG] = 1
            state[BAD_BATCH] = batch
            state[BAD_LOSS] = loss
        else:
            state[EPOCH_LOSS] += loss * n_rows
            state[BAD_LOSS] = loss
        state[BATCH_LOSS] = 0
        state[NORM_SQ] = 0


@cuda.jit
def _clip_scale(state, clip_norm, out):
    if cuda.grid(1) == 0:
        scale = clip_norm / (math.sqrt(state[NORM_SQ]) + 1e-6)
        out[0] = scale if scale < 1.0 else 1.0


@cuda.jit
def _adam_step(params, grad, m, v, last_good, state, scale, lr, beta1, beta2, eps, weight_decay,
               decoupled, step_size, root_bias2):
    i = cuda.grid(1)
    if i < params.size and state[FLAG] == 0:
        last_good[i] = params[i]
        params[i], m[i], v[i] = adam_element(params[i], grad[i] * scale[0], m[i], v[i], lr, beta1,
                                             beta2, eps, weight_decay, decoupled, step_size,
                                             root_bias2)
        if not math.isfinite(params[i]):
            state[BAD_WEIGHTS] = 1


@cuda.jit
def _sgd_step(params, grad, buf, last_good, state, scale, lr, momentum, nesterov, weight_decay):
    i = cuda.grid(1)
    if i < params.size and state[FLAG] == 0:
        last_good[i] = params[i]
        params[i], buf[i] = sgd_element(params[i], grad[i] * scale[0], buf[i], lr, momentum,
                                        nesterov, weight_decay)
        if not math.isfinite(params[i]):
            state[BAD_WEIGHTS] = 1


# --- the network -------------------------------------------------------------------------------


def _time_major(X, dtype):
    return np.ascontiguousarray(np.asarray(X).transpose(1, 0, 2), dtype=dtype)


class DeviceNetwork(RecurrentNetwork):
    """A :class:`~numbarnn.network.RecurrentNetwork` computed on the GPU.

    Same parameters, names and results (to rounding) as the CPU network; host arrays in
    and out of ``forward``, ``backward``, ``predict`` and ``gate_activations``.
    """

    def __init__(self, *args, **kwargs):
        gpu.require()
        super().__init__(*args, **kwargs)

    # host API, as RecurrentNetwork's

    def forward(self, params, X, lengths=None, dropout_rng=None):
        """As :meth:`RecurrentNetwork.forward`; the cache holds device arrays."""
        B, T, _ = X.shape
        lengths = check_lengths(lengths, B, T)
        masks = self._dropout_masks(dropout_rng, T, B, params.dtype)
        d_out, cache = self.device_forward(cuda.to_device(params), cuda.to_device(
            _time_major(X, params.dtype)), cuda.to_device(lengths), masks)
        cache["valid"] = (np.arange(T)[:, None] < lengths[None, :])[..., None]
        return self._batch_first(d_out.copy_to_host()), cache

    def predict(self, params, X, lengths=None):
        """As :meth:`RecurrentNetwork.predict`."""
        return self.forward(params, X, lengths)[0]

    def backward(self, params, cache, doutput, state_grads=None):
        """As :meth:`RecurrentNetwork.backward`."""
        d_doutput = cuda.to_device(np.ascontiguousarray(self._time_major_output(doutput)))
        device_states = {} if state_grads is not None else None
        grad = self.device_backward(cuda.to_device(params), cache, d_doutput, device_states)
        if state_grads is not None:
            for key, states in device_states.items():
                state_grads[key] = {name: a.copy_to_host() for name, a in states.items()}
        return grad.copy_to_host()

    def gate_activations(self, cache):
        """As :meth:`RecurrentNetwork.gate_activations` (host arrays)."""
        return {f"l{k}{suffix}": gpu.gate_activations(self.cell, run[1])
                for k, layer in enumerate(cache["layers"])
                for suffix, run in zip(self.directions, layer["runs"])}

    def _batch_first(self, output):
        return output.transpose(1, 0, 2) if self.return_sequences else output[0]

    def _time_major_output(self, doutput):
        return doutput.transpose(1, 0, 2) if self.return_sequences else doutput[None]

    def _dropout_masks(self, rng, T, B, dtype):
        """Dropout masks for the layers below the last, drawn as the CPU network draws them."""
        if rng is None or self.dropout == 0:
            return [None] * self.num_layers
        width = self.hidden_size * len(self.directions)
        keep = dtype.type(1 - self.dropout)
        return [cuda.to_device((rng.random((T, B, width)) >= self.dropout).astype(dtype) / keep)
                if k < self.num_layers - 1 else None for k in range(self.num_layers)]

    def trainer(self, params, optimizer, data):
        """A :class:`DeviceTrainer` for the epochs of one fit."""
        return DeviceTrainer(self, params, optimizer, data)

    # device API

    def device_forward(self, d_params, x, lengths, masks):
        """Output (T, B, k) per step, or (1, B, k), and the cache, all on the device.

        ``x`` is time-major (T, B, D); ``masks`` holds each layer's dropout mask or None.
        """
        views = self.layout.views(d_params)
        T, B, _ = x.shape
        H, width = self.hidden_size, self.hidden_size * len(self.directions)
        layers = []
        for k in range(self.num_layers):
            runs = [gpu.direction_forward(self.cell, x, self._direction_weights(views, k, s),
                                          lengths, reverse=bool(s)) for s in self.directions]
            y = cuda.device_array((T, B, width), x.dtype)
            for d, (hs, _) in enumerate(runs):
                part = slice(d * H, (d + 1) * H)
                _copy(hs, y[:, :, part], lengths,
                      mask=None if masks[k] is None else masks[k][:, :, part])
            layers.append({"x": x, "runs": runs, "mask": masks[k]})
            x = y
        W, b = views["head.weight"], views["head.bias"]
        if self.return_sequences:
            features = x
        else:
            features = cuda.device_array((1, B, width), x.dtype)
            for d, (hs, _) in enumerate(layers[-1]["runs"]):
                t = 0 if d else T - 1
                _copy(hs[t : t + 1], features[:, :, d * H : (d + 1) * H], lengths, False)
        output = matmul(_rows(features), W, trans_b=True)
        gpu._add_row[_blocks(output.size), MAX_THREADS](output, b)
        output = output.reshape(features.shape[0], B, W.shape[0])
        return output, {"layers": layers, "lengths": lengths, "features": features}

    def device_backward(self, d_params, cache, doutput, state_grads=None):
        """Flat gradient on the device from the gradient of the (time-major) output."""
        views = self.layout.views(d_params)
        grad = zeros(d_params.shape, d_params.dtype)
        gviews = self.layout.views(grad)
        W = views["head.weight"]
        features, lengths = cache["features"], cache["lengths"]
        T, B, _ = cache["layers"][0]["x"].shape
        H = self.hidden_size
        rows_out = _rows(doutput)
        matmul(rows_out, _rows(features), trans_a=True, out=gviews["head.weight"])
        column_sums(rows_out, out=gviews["head.bias"])
        dfeatures = matmul(rows_out, W).reshape(features.shape)
        if self.return_sequences:
            dy = cuda.device_array_like(dfeatures)
            _copy(dfeatures, dy, lengths)
        else:
            dy = zeros((T, B, features.shape[2]), d_params.dtype)
            for d in range(len(self.directions)):
                t = 0 if d else T - 1
                _copy(dfeatures[:, :, d * H : (d + 1) * H], dy[t : t + 1, :, d * H : (d + 1) * H],
                      lengths, False)
        for k in reversed(range(self.num_layers)):
            layer = cache["layers"][k]
            dx = None
            for d, suffix in enumerate(self.directions):
                dhs = cuda.device_array((T, B, H), d_params.dtype)
                _copy(dy[:, :, d * H : (d + 1) * H], dhs, lengths, False)
                dxd, grads, states = gpu.direction_backward(
                    self.cell, layer["x"], self._direction_weights(views, k, suffix),
                    layer["runs"][d][1], dhs, lengths, reverse=bool(suffix))
                if state_grads is not None:
                    state_grads[f"l{k}{suffix}"] = states
                for key, g in grads.items():
                    gviews[f"{key}_l{k}{suffix}"].copy_to_device(g)
                if dx is None:
                    dx = dxd
                else:
                    _copy(dxd, dx, lengths, accumulate=True)
            if k > 0:
                dy = cuda.device_array_like(dx)
                _copy(dx, dy, lengths, mask=cache["layers"][k - 1]["mask"])
        return grad


class DeviceTrainer:
    """Parameters, optimizer state and data on the GPU for the epochs of one fit.

    Parameters
    ----------
    network : DeviceNetwork
    params : ndarray
        Host parameters; read back into it at the end of every epoch.
    optimizer : Adam, AdamW or SGD
        Its state moves to the device and back at :meth:`close`.
    data : tuple of ndarray
        (X (n, T, d), y, lengths (n,)) on the host.
    """

    def __init__(self, network, params, optimizer, data):
        X, y, lengths = data
        self.network, self.params, self.optimizer = network, params, optimizer
        self.lengths = lengths
        self.d_x = cuda.to_device(_time_major(X, params.dtype))
        y = np.asarray(y, params.dtype)
        self.d_y = cuda.to_device(_time_major(y, params.dtype) if network.return_sequences
                                  else y[None])
        self.d_lengths = cuda.to_device(lengths)
        self.d_params = cuda.to_device(params)
        self.d_last_good = cuda.to_device(params)
        if isinstance(optimizer, SGD):
            if optimizer.buf is None:
                optimizer.buf = np.zeros_like(params)
            self.d_moments = [cuda.to_device(optimizer.buf)]
        else:
            if optimizer.m is None:
                optimizer.m, optimizer.v = np.zeros_like(params), np.zeros_like(params)
            self.d_moments = [cuda.to_device(optimizer.m), cuda.to_device(optimizer.v)]

    def __call__(self, batch_size, rng, clip_norm, epoch, last_good, shuffle=True, progress=None):
        """One epoch, as :func:`numbarnn.training.train_epoch`; returns the mean loss."""
        net, n = self.network, len(self.lengths)
        order = rng.permutation(n) if shuffle else np.arange(n)
        d_order = cuda.to_device(order)
        state = cuda.to_device(np.zeros(7))
        scale = cuda.device_array(1, self.params.dtype)
        T, k = self.d_x.shape[0], self.d_y.shape[2]
        blocks = _blocks(self.params.size)
        dropout_rng = rng if net.dropout > 0 else None
        for batch, start in enumerate(range(0, n, batch_size), start=1):
            idx = order[start : start + batch_size]
            B = len(idx)
            x = cuda.device_array((T, B, self.d_x.shape[2]), self.params.dtype)
            _gather[_blocks(x.size), MAX_THREADS](self.d_x, d_order, start, x)
            y = cuda.device_array((self.d_y.shape[0], B, k), self.params.dtype)
            _gather[_blocks(y.size), MAX_THREADS](self.d_y, d_order, start, y)
            lengths = cuda.device_array(B, np.int64)
            _gather_rows[_blocks(B), MAX_THREADS](self.d_lengths, d_order, start, lengths)
            masks = net._dropout_masks(dropout_rng, T, B, self.params.dtype)
            output, cache = net.device_forward(self.d_params, x, lengths, masks)
            count = (int(self.lengths[idx].sum()) if net.return_sequences else B) * k
            doutput = cuda.device_array_like(output)
            _mse[_blocks(output.size), MAX_THREADS](output, y, lengths, net.return_sequences,
                                                   2.0 / count, doutput, state)
            grad = net.device_backward(self.d_params, cache, doutput)
            _sum_squares[min(blocks, 1024), MAX_THREADS](grad, state)
            _clip_scale[1, 1](state, np.inf if clip_norm is None else clip_norm, scale)
            _check_batch[1, 1](state, batch, B)
            self._step(grad, state, scale, blocks)
        host = state.copy_to_host()
        if host[FLAG] or host[BAD_WEIGHTS]:
            self.d_last_good.copy_to_host(self.params)
            last_good[...] = self.params
            raise TrainingDivergedError(epoch, int(host[BAD_BATCH]) or batch, host[BAD_LOSS])
        self.d_params.copy_to_host(self.params)
        return float(host[EPOCH_LOSS] / n)

    def _step(self, grad, state, scale, blocks):
        opt = self.optimizer
        opt.t += 1
        if isinstance(opt, SGD):
            _sgd_step[blocks, MAX_THREADS](self.d_params, grad, self.d_moments[0], self.d_last_good,
                                           state, scale, opt.lr, opt.momentum, opt.nesterov,
                                           opt.weight_decay)
        else:
            _adam_step[blocks, MAX_THREADS](self.d_params, grad, *self.d_moments, self.d_last_good,
                                            state, scale, opt.lr, opt.betas[0], opt.betas[1],
                                            opt.eps, opt.weight_decay, opt.decoupled,
                                            *opt.corrections())

    def close(self):
        """Read the optimizer's state back to the host (the parameters are read every epoch)."""
        names = ["buf"] if isinstance(self.optimizer, SGD) else ["m", "v"]
        for name, d in zip(names, self.d_moments):
            d.copy_to_host(getattr(self.optimizer, name))
