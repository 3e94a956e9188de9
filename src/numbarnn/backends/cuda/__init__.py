"""CUDA backend: the CPU backend's contract on ``numba.cuda`` device arrays.

Split by concern: :mod:`.device` (launch sizes, the check for a GPU, workspaces, and the
cells' scalar math as device functions), :mod:`.recurrence` (the persistent kernels over
time), :mod:`.products` (the tiled product, tree reductions, element-wise glue) and
:mod:`.driver` (one direction of one layer). ``numba.cuda`` is imported with this package,
so :func:`numbarnn.backends.get` imports it only for ``device='cuda'``.
"""

import math

import numpy as np
from numba import cuda

from ...losses import divisor
from . import driver, products
from .device import MAX_THREADS, Workspace, adam_element, blocks, require, sgd_element
from .products import copy, copy_valid, matmul, rows


@cuda.jit
def _adam_step(params, grad, m, v, lr, beta1, beta2, eps, weight_decay, decoupled, step_size,
               root_bias2):
    i = cuda.grid(1)
    if i < params.size:
        params[i], m[i], v[i] = adam_element(params[i], grad[i], m[i], v[i], lr, beta1, beta2,
                                             eps, weight_decay, decoupled, step_size, root_bias2)


@cuda.jit
def _sgd_step(params, grad, buf, lr, momentum, nesterov, weight_decay):
    i = cuda.grid(1)
    if i < params.size:
        params[i], buf[i] = sgd_element(params[i], grad[i], buf[i], lr, momentum, nesterov,
                                        weight_decay)


@cuda.jit
def _scale(x, factor):
    i = cuda.grid(1)
    if i < x.size:
        x[i] *= factor


@cuda.jit
def _count_nonfinite(x, bad):
    i = cuda.grid(1)
    if i < x.size and not math.isfinite(x[i]):
        bad[0] = 1


class CUDABackend:
    """The backend contract (see :mod:`numbarnn.backends`) on ``numba.cuda`` device arrays.

    The CPU backend's methods document the contract; here each takes and gives device
    arrays, and reads a number back to the host only where the contract returns one (a
    batch's loss, the gradient's norm, whether the weights are finite).
    """

    name = "cuda"

    def __reduce__(self):
        return _get, ()

    require = staticmethod(require)

    # --- arrays ----------------------------------------------------------------------

    def asarray(self, a, dtype=None):
        if _on_device(a) and (dtype is None or a.dtype == dtype):
            return a
        return cuda.to_device(np.ascontiguousarray(a, dtype))

    def to_host(self, a):
        return a.copy_to_host() if _on_device(a) else a

    def zeros(self, shape, dtype):
        return products.zeros(shape, dtype)

    def copy_into(self, dst, src):
        dst.copy_to_device(src)

    def take(self, x, idx):
        return products.take(x, cuda.to_device(np.asarray(idx, np.int64)))

    def workspace(self):
        return Workspace()

    def scope(self):
        return _NoScope()

    # --- one direction of one layer --------------------------------------------------

    def direction_forward(self, cell, x, w, lengths, reverse, keep=True, workspace=None,
                          final_only=False):
        """As the CPU's; the GPU keeps every step's state (``keep`` and ``final_only`` only
        save memory on the CPU)."""
        if keep and final_only:
            raise ValueError("final_only keeps no states for backprop through time: pass "
                             "keep=False")
        return driver.direction_forward(cell, x, w, lengths, reverse,
                                        workspace if workspace is not None else
                                        Workspace(reuse=False))

    def direction_backward(self, cell, x, w, cache, dhs, lengths, reverse, workspace=None):
        return driver.direction_backward(cell, x, w, cache, dhs, lengths, reverse,
                                         workspace if workspace is not None else
                                         Workspace(reuse=False))

    def gate_activations(self, cell, cache):
        return driver.gate_activations(cell, cache)

    # --- the token embedding ------------------------------------------------------------

    def embed(self, weight, ids):
        return products.gather_rows(weight, ids)

    def embedding_backward(self, dx, ids, lengths, dweight):
        """As the CPU's; rows that several steps share are added atomically, so the sum's
        order, and its last bits in float32, may differ from run to run."""
        products.scatter_rows(dx, ids, lengths, dweight)

    # --- between layers and the head -------------------------------------------------

    def layer_output(self, states, lengths, mask=None):
        T, B, H = states[0].shape
        y = cuda.device_array((T, B, H * len(states)), states[0].dtype)
        for d, hs in enumerate(states):
            part = slice(d * H, (d + 1) * H)
            copy_valid(hs, y[:, :, part], lengths, None if mask is None else mask[:, :, part])
        return y

    def masked(self, x, lengths, mask=None):
        out = cuda.device_array_like(x)
        copy_valid(x, out, lengths, mask)
        return out

    def final_states(self, states):
        T, B, H = states[0].shape
        features = cuda.device_array((1, B, H * len(states)), states[0].dtype)
        for d, hs in enumerate(states):
            t = 0 if d else hs.shape[0] - 1
            copy(hs[t : t + 1], features[:, :, d * H : (d + 1) * H])
        return features

    def final_states_grad(self, dfeatures, T, n_directions):
        _, B, width = dfeatures.shape
        H = width // n_directions
        dy = products.zeros((T, B, width), dfeatures.dtype)
        for d in range(n_directions):
            t = 0 if d else T - 1
            part = slice(d * H, (d + 1) * H)
            copy(dfeatures[:, :, part], dy[t : t + 1, :, part])
        return dy

    def direction_part(self, dy, d, hidden_size):
        T, B, _ = dy.shape
        out = cuda.device_array((T, B, hidden_size), dy.dtype)
        copy(dy[:, :, d * hidden_size : (d + 1) * hidden_size], out)
        return out

    def accumulate(self, a, b):
        copy(b, a, accumulate=True)
        return a

    def linear(self, features, weight, bias):
        S, B, _ = features.shape
        output = matmul(rows(features), weight, trans_b=True)
        products.add_row(output, bias)
        return output.reshape(S, B, weight.shape[0])

    def linear_backward(self, features, weight, doutput, dweight, dbias):
        rows_out = rows(doutput)
        matmul(rows_out, rows(features), trans_a=True, out=dweight)
        products.column_sums(rows_out, out=dbias)
        return matmul(rows_out, weight).reshape(features.shape)

    def loss(self, kind, output, target, batch, per_step, weights=None):
        """As the CPU's; the loss is read back to the host (one number)."""
        count = divisor(kind, output.shape, batch.lengths, per_step,
                        None if weights is None else weights.total)
        doutput = cuda.device_array_like(output)
        total = cuda.to_device(np.zeros(1))
        products.loss_rows(kind, output, target, batch.on_backend, per_step,
                           None if weights is None else weights.values,
                           1.0 / count if count > 0 else 0.0, doutput, total)
        return float(total.copy_to_host()[0]), doutput

    # --- the optimizer's step ---------------------------------------------------------

    def clip_grad_norm(self, grad, max_norm):
        total = cuda.to_device(np.zeros(1))
        products.sum_squares(grad, total, 0)
        norm = math.sqrt(total.copy_to_host()[0])
        scale = max_norm / (norm + 1e-6)
        if scale < 1.0:
            _scale[blocks(grad.size), MAX_THREADS](grad, grad.dtype.type(scale))
        return norm

    def all_finite(self, a):
        bad = cuda.to_device(np.zeros(1, np.int32))
        _count_nonfinite[blocks(a.size), MAX_THREADS](a, bad)
        return not bad.copy_to_host()[0]

    def adam_update(self, params, grad, m, v, *hyper):
        _adam_step[blocks(params.size), MAX_THREADS](params, grad, m, v, *hyper)

    def sgd_update(self, params, grad, buf, *hyper):
        _sgd_step[blocks(params.size), MAX_THREADS](params, grad, buf, *hyper)


def _on_device(a):
    """Whether ``a`` is a device array (the simulator's included)."""
    return hasattr(a, "copy_to_host")


class _NoScope:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


backend = CUDABackend()


def _get():
    return backend
