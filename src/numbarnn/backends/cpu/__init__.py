"""CPU backend: the time loops compiled with Numba, their products in BLAS, NumPy glue.

The package is split by concern: :mod:`.gates` (one step's gate math for a block of rows),
:mod:`.loops` (the time loops, one block of rows per thread), :mod:`.driver` (one
direction of one layer: weights laid out for the loops, named caches, reused arrays),
:mod:`.updates` (the optimizers' element-wise updates) and :mod:`.blas`.
"""

import math

import numpy as np

from ...losses import divisor
from ...threads import serial_blas
from . import driver, embedding, losses, updates


class CPUBackend:
    """The backend contract (see :mod:`numbarnn.backends`) on NumPy arrays."""

    name = "cpu"

    def __reduce__(self):
        return _get, ()

    # --- arrays ----------------------------------------------------------------------

    def asarray(self, a, dtype=None):
        """A host array as this backend's array (here: itself if C-contiguous)."""
        return np.ascontiguousarray(a, dtype)

    def to_host(self, a):
        """This backend's array as a NumPy array (here: itself)."""
        return a

    def zeros(self, shape, dtype):
        """A new array of zeros."""
        return np.zeros(shape, dtype)

    def copy_into(self, dst, src):
        """dst[...] = src, for arrays of one shape on this backend."""
        dst[...] = src

    def take(self, x, idx):
        """x[:, idx]: the sequences ``idx`` (host ints) of a time-major array."""
        return np.take(x, idx, axis=1)

    def workspace(self):
        """A :class:`~.driver.Workspace`: arrays reused from one pass to the next."""
        return driver.Workspace()

    def scope(self):
        """Context manager around a pass: BLAS on one thread, Numba's threads do the work."""
        return serial_blas()

    # --- one direction of one layer --------------------------------------------------

    def direction_forward(self, cell, x, w, lengths, reverse, keep=True, workspace=None,
                          final_only=False):
        """Run one direction of one layer.

        Parameters
        ----------
        cell : RNNCell, LSTMCell or GRUCell
        x : array of shape (T, B, D)
            Input sequence, time-major, C-contiguous.
        w : dict of array
            ``weight_ih`` (G*H, D), ``weight_hh`` (G*H, H), ``bias_ih``, ``bias_hh``
            (G*H,) and, for a peephole LSTM, ``weight_ch`` (P, H).
        lengths : array of int64, shape (B,)
            Valid steps per sequence.
        reverse : bool
            Run from the last valid step back to step 0.
        keep : bool, default=True
            Keep what backprop through time needs; False (inference) keeps nothing.
        workspace : Workspace, optional
            Where the states and the cache come from (default: new arrays).
        final_only : bool, default=False
            Return the final state alone, as ``hs`` of shape (1, B, H): inference for a
            head that reads nothing else. Needs ``keep=False``.

        Returns
        -------
        hs : array of shape (T, B, H), or (1, B, H) with ``final_only``
            State after each step; padded steps carry the state through.
        cache : Cache or None
            What :meth:`direction_backward` needs; None unless ``keep``.
        """
        if keep and final_only:
            raise ValueError("final_only keeps no states for backprop through time: pass "
                             "keep=False")
        with serial_blas():
            return driver.direction_forward(cell, x, w, lengths, reverse, keep, final_only,
                                            workspace if workspace is not None else
                                            driver.Workspace())

    def direction_backward(self, cell, x, w, cache, dhs, lengths, reverse, workspace=None):
        """Backprop through time for one direction of one layer.

        Parameters
        ----------
        cell, x, w, lengths, reverse
            As given to :meth:`direction_forward`.
        cache : Cache
            As returned by :meth:`direction_forward`.
        dhs : array of shape (T, B, H), C-contiguous
            dL/dh_t from the layer above or the head (the final state's gradient
            included). Overwritten with the total dL/dh_t, through later steps too.
        workspace : Workspace, optional
            Where the gradients come from (default: new arrays).

        Returns
        -------
        dx : array of shape (T, B, D)
            Gradient of the input sequence.
        grads : dict of array
            Gradients of the parameters in ``w``, same names and shapes.
        state_grads : dict of array
            ``"h"``: the total dL/dh_t (``dhs``); for an LSTM also ``"c"``: dL/dc_t.
        """
        with serial_blas():
            return driver.direction_backward(cell, x, w, cache, dhs, lengths, reverse,
                                             workspace if workspace is not None else
                                             driver.Workspace())

    def gate_activations(self, cell, cache):
        """Gate activations (T, B, H) by name, as NumPy arrays, from a forward cache."""
        if cache.acts is None:
            return {}
        T, B, _ = cache.hs.shape
        return cell.named_gates(driver.unblocked(cache.acts, T, B, cache.n_blocks))

    # --- the token embedding ------------------------------------------------------------

    def embed(self, weight, ids):
        """The rows of the embedding table ``weight`` (V, D) for token ids (T, B, 1):
        the first layer's input (T, B, D)."""
        return weight[ids[..., 0]]

    def embedding_backward(self, dx, ids, lengths, dweight):
        """Add the input gradient dx (T, B, D) of every valid step into row ``ids[t, b]``
        of ``dweight`` (V, D)."""
        embedding.scatter_rows(dx, ids, lengths, dweight)

    # --- between layers and the head -------------------------------------------------

    @staticmethod
    def _valid(T, lengths):
        """(T, B, 1): whether each step of each sequence is valid (not padding)."""
        return (np.arange(T)[:, None] < lengths[None, :])[..., None]

    def layer_output(self, states, lengths, mask=None):
        """The directions' states side by side (T, B, n * H), zero at padded steps, times
        the dropout ``mask`` if given: the input of the layer above, or of the head."""
        y = states[0] if len(states) == 1 else np.concatenate(states, axis=2)
        y = y * self._valid(y.shape[0], lengths)
        return y if mask is None else y * mask

    def masked(self, x, lengths, mask=None):
        """x (T, B, N) times the dropout ``mask`` if given, zero at padded steps."""
        x = x if mask is None else x * mask
        return x * self._valid(x.shape[0], lengths)

    def final_states(self, states):
        """(1, B, n * H): the forward direction's state at the last step, the reverse's at
        step 0 (where each direction's last valid step left it)."""
        last = states[0][-1:]
        return last if len(states) == 1 else np.concatenate((last, states[1][:1]), axis=2)

    def final_states_grad(self, dfeatures, T, n_directions):
        """The gradient (T, B, n * H) of the states from that of :meth:`final_states`."""
        H = dfeatures.shape[2] // n_directions
        dy = np.zeros((T,) + dfeatures.shape[1:], dfeatures.dtype)
        dy[T - 1, :, :H] = dfeatures[0, :, :H]
        if n_directions == 2:
            dy[0, :, H:] = dfeatures[0, :, H:]
        return dy

    def direction_part(self, dy, d, hidden_size):
        """Direction d's part of dy (T, B, n * H), C-contiguous (T, B, H)."""
        return np.ascontiguousarray(dy[:, :, d * hidden_size : (d + 1) * hidden_size])

    def accumulate(self, a, b):
        """a += b; returns a."""
        a += b
        return a

    def linear(self, features, weight, bias):
        """features (S, B, F) @ weight.T + bias: the head's output (S, B, k)."""
        S, B, F = features.shape  # as rows: a 3-D matmul takes a slower path in NumPy
        return (features.reshape(S * B, F) @ weight.T + bias).reshape(S, B, -1)

    def linear_backward(self, features, weight, doutput, dweight, dbias):
        """Backward of :meth:`linear`: fills ``dweight`` and ``dbias``, returns dfeatures."""
        rows_out = doutput.reshape(-1, doutput.shape[2])
        dweight[...] = rows_out.T @ features.reshape(-1, features.shape[2])
        dbias[...] = rows_out.sum(axis=0)
        return doutput @ weight

    def loss(self, kind, output, target, batch, per_step, weights=None):
        """A loss over (S, B, k) outputs and its gradient (see :mod:`numbarnn.losses`).

        Parameters
        ----------
        kind : int
            The loss, a code of :data:`numbarnn.losses.KINDS`.
        output, target : array of shape (S, B, k)
            The head's output and the targets (the class index in ``target[..., :1]``
            for cross-entropy), time-major.
        batch : Batch
            The batch's lengths (:class:`~numbarnn.network.Batch`).
        per_step : bool
            Whether rows are steps (``return_sequences``): padded ones are left out.
        weights : StepWeights, optional
            Sample weights (S, B, 1), zero at padded steps
            (:class:`~numbarnn.network.StepWeights`).

        Returns
        -------
        loss : float
            The weighted mean: sum(w * row loss) / (sum(w) * k), or / sum(w) for
            cross-entropy; 0.0 when every weight is zero.
        doutput : array like ``output``
            The gradient of ``loss``.
        """
        count = divisor(kind, output.shape, batch.lengths, per_step,
                        None if weights is None else weights.total)
        doutput = np.empty_like(output)
        loss = losses.loss_rows(kind, output, target, batch.lengths, per_step,
                                output if weights is None else weights.values,
                                weights is not None, 1.0 / count if count > 0 else 0.0, doutput)
        return loss, doutput

    # --- the optimizer's step ---------------------------------------------------------

    def clip_grad_norm(self, grad, max_norm):
        """Scale ``grad`` in place to a global L2 norm of at most ``max_norm``; returns the
        norm before (see :func:`numbarnn.clip_grad_norm`)."""
        norm = math.sqrt(updates.sum_squares(grad))
        scale = max_norm / (norm + 1e-6)
        if scale < 1.0:
            grad *= grad.dtype.type(scale)
        return norm

    def all_finite(self, a):
        """Whether no element of ``a`` is NaN or infinite."""
        return bool(np.isfinite(a).all())

    def adam_update(self, params, grad, m, v, *hyper):
        """Adam's update in place (arguments as :func:`numbarnn.updates.adam_element`'s)."""
        updates.adam_update(params, grad, m, v, *hyper)

    def sgd_update(self, params, grad, buf, *hyper):
        """SGD's update in place (arguments as :func:`numbarnn.updates.sgd_element`'s)."""
        updates.sgd_update(params, grad, buf, *hyper)


backend = CPUBackend()


def _get():
    return backend
