"""A stack of recurrent layers and a linear head over one flat parameter vector.

Parameter names follow PyTorch (``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``,
``bias_hh_l0``, suffix ``_reverse``), with ``weight_ch_l{k}`` for LSTM peepholes and
``head.weight``, ``head.bias`` for the output layer.
"""

from contextlib import contextmanager

import numpy as np

from . import losses
from .backends import cpu
from .cells import LSTMCell
from .parameters import ParameterLayout
from .threads import serial_blas
from .validation import check_lengths


class RecurrentNetwork:
    """Stacked, optionally bidirectional recurrent layers with a linear head.

    Parameters
    ----------
    cell : RNNCell, LSTMCell or GRUCell
        The recurrent cell and its variant.
    input_size : int
        Features per time step.
    hidden_size : int
        Units per layer and direction.
    output_size : int, default=1
        Outputs of the head.
    num_layers : int, default=1
        Stacked recurrent layers.
    bidirectional : bool, default=False
        Run each layer forward and in reverse and concatenate both states.
    dropout : float, default=0.0
        Dropout probability on each layer's output except the last, in training.
    return_sequences : bool, default=False
        Apply the head at every step, giving (B, T, k); otherwise apply it to the
        final state of each direction (forward at the last valid step, reverse at
        step 0), giving (B, k).
    """

    _workspace = None  # set by reusing_memory
    _params_views = None  # (params, its named views), for the next pass with the same array

    def __init__(self, cell, input_size, hidden_size, output_size=1, num_layers=1,
                 bidirectional=False, dropout=0.0, return_sequences=False):
        self.cell = cell
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.output_size = output_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.return_sequences = return_sequences
        self.layout = ParameterLayout(self._shapes())

    @contextmanager
    def reusing_memory(self):
        """Context manager: each forward and backward pass reuses the last one's arrays.

        Training asks for the same large arrays at every step; reusing them spares the
        system allocator's fresh pages (see :class:`~numbarnn.backends.cpu.Workspace`).
        :meth:`~numbarnn.LSTMRegressor.fit` and the other estimators train inside it;
        use it around a training loop of your own.

        Inside the block, the cache of :meth:`forward` and the state gradients of
        :meth:`backward` are overwritten by the next pass; :meth:`predict` is not
        affected.
        """
        self._workspace = cpu.Workspace()
        try:
            yield
        finally:
            self._workspace = None

    def _part(self, k, suffix, keep=True):
        """The workspace of direction ``suffix`` of layer ``k``, or None outside
        :meth:`reusing_memory` (and for inference)."""
        if self._workspace is None or not keep:
            return None
        return self._workspace.part(f"l{k}{suffix}")

    @property
    def directions(self):
        """Name suffixes of the directions: ``('',)`` or ``('', '_reverse')``."""
        return ("", "_reverse") if self.bidirectional else ("",)

    def _shapes(self):
        G = len(self.cell.gates) * self.hidden_size
        H = self.hidden_size
        shapes = {}
        for k in range(self.num_layers):
            d_in = self.input_size if k == 0 else H * len(self.directions)
            for suffix in self.directions:
                shapes[f"weight_ih_l{k}{suffix}"] = (G, d_in)
                shapes[f"weight_hh_l{k}{suffix}"] = (G, H)
                shapes[f"bias_ih_l{k}{suffix}"] = (G,)
                shapes[f"bias_hh_l{k}{suffix}"] = (G,)
                if self.cell.peepholes:
                    shapes[f"weight_ch_l{k}{suffix}"] = (len(self.cell.peepholes), H)
        shapes["head.weight"] = (self.output_size, H * len(self.directions))
        shapes["head.bias"] = (self.output_size,)
        return shapes

    def init_params(self, random_state=None, dtype=np.float32, orthogonal=False,
                    forget_bias=None):
        """New parameters, initialised as PyTorch does.

        Every recurrent weight and bias is drawn from U(-1/sqrt(H), 1/sqrt(H)); the
        head from U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

        Parameters
        ----------
        random_state : int, numpy.random.Generator or None
            Seed or generator.
        dtype : dtype, default=float32
        orthogonal : bool, default=False
            Make each gate block of every ``weight_hh`` a random orthogonal matrix.
        forget_bias : float or None
            LSTM only: set ``bias_ih``'s forget-gate block to this value and
            ``bias_hh``'s to zero, so the gate's total bias is ``forget_bias``.

        Returns
        -------
        ndarray of shape (layout.size,)
        """
        rng = np.random.default_rng(random_state)
        H = self.hidden_size
        flat = np.empty(self.layout.size, dtype)
        views = self.layout.views(flat)
        for name, view in views.items():
            fan = view.shape[-1] if name.startswith("head") else H
            view[...] = rng.uniform(-1.0, 1.0, view.shape) / np.sqrt(fan)
            if orthogonal and name.startswith("weight_hh"):
                for g in range(len(self.cell.gates)):
                    q, r = np.linalg.qr(rng.standard_normal((H, H)))
                    view[g * H : (g + 1) * H] = q * np.sign(np.diag(r))
        if forget_bias is not None:
            if not isinstance(self.cell, LSTMCell):
                raise ValueError("forget_bias applies to LSTM cells only")
            f = self.cell.gates.index("f")
            for name, view in views.items():
                if name.startswith("bias_"):
                    view[f * H : (f + 1) * H] = forget_bias if name.startswith("bias_ih") else 0.0
        return flat

    def _views(self, params):
        """The named views of ``params``, made anew only when another array is passed (a
        train step's two passes and the steps after it use the same one)."""
        cached = self._params_views
        if cached is None or cached[0] is not params:
            cached = self._params_views = (params, self.layout.views(params))
        return cached[1]

    def _direction_weights(self, views, k, suffix):
        return {key: views[f"{key}_l{k}{suffix}"]
                for key in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_ch")
                if f"{key}_l{k}{suffix}" in views}

    def forward(self, params, X, lengths=None, dropout_rng=None):
        """Network output for a batch.

        Parameters
        ----------
        params : ndarray of shape (layout.size,)
            Flat parameter vector; its dtype is the compute dtype.
        X : ndarray of shape (B, T, D)
            Input sequences, batch first.
        lengths : array-like of int, shape (B,), optional
            Valid steps per sequence (default: all T).
        dropout_rng : numpy.random.Generator, optional
            Training mode: draw dropout masks from it. None means inference.

        Returns
        -------
        output : ndarray of shape (B, k), or (B, T, k) with ``return_sequences``
        cache : dict
            What :meth:`backward` needs.
        """
        with serial_blas():
            return self._forward(params, X, lengths, dropout_rng, keep=True)

    def _forward(self, params, X, lengths, dropout_rng, keep):
        views = self._views(params)
        B, T, _ = X.shape
        lengths = check_lengths(lengths, B, T)
        # (T, B, 1), for what reads every step's state: the layer above, or the head
        valid = (np.arange(T)[:, None] < lengths[None, :])[..., None] if (
            self.num_layers > 1 or self.return_sequences) else None
        x = np.ascontiguousarray(X.transpose(1, 0, 2), dtype=params.dtype)
        layers = []
        for k in range(self.num_layers):
            last = k == self.num_layers - 1 and not self.return_sequences
            runs = [cpu.direction_forward(self.cell, x, self._direction_weights(views, k, s),
                                          lengths, reverse=bool(s), keep=keep,
                                          workspace=self._part(k, s, keep),
                                          final_only=last and not keep)
                    for s in self.directions]
            layers.append({"x": x, "runs": runs})
            if last:
                break  # the head reads the final states from runs
            y = np.concatenate([hs for hs, _ in runs], axis=2) * valid
            if dropout_rng is not None and self.dropout > 0 and k < self.num_layers - 1:
                kept = dropout_rng.random(y.shape) >= self.dropout
                layers[-1]["mask"] = kept.astype(params.dtype) / params.dtype.type(1 - self.dropout)
                y = y * layers[-1]["mask"]
            x = y
        W, b = views["head.weight"], views["head.bias"]
        if self.return_sequences:
            features = x
            output = (features @ W.T + b).transpose(1, 0, 2)
        else:
            runs = layers[-1]["runs"]
            features = runs[0][0][-1]
            if self.bidirectional:
                features = np.concatenate((features, runs[1][0][0]), axis=1)
            output = features @ W.T + b
        cache = {"layers": layers, "lengths": lengths, "valid": valid, "features": features}
        return output, cache

    def backward(self, params, cache, doutput, state_grads=None):
        """Gradient of the loss with respect to ``params``, given its gradient on the output.

        Parameters
        ----------
        params : ndarray of shape (layout.size,)
        cache : dict
            From :meth:`forward`.
        doutput : ndarray
            Gradient of the loss with respect to the output.
        state_grads : dict, optional
            If given, receives for every layer and direction (keys ``'l0'``,
            ``'l0_reverse'``, ...) a dict with ``'h'``, the total dL/dh_t of shape
            (T, B, H) (through later steps and layers above), and for an LSTM ``'c'``,
            dL/dc_t.

        Returns
        -------
        ndarray of shape (layout.size,)
        """
        with serial_blas():
            return self._backward(params, cache, doutput, state_grads)

    def _backward(self, params, cache, doutput, state_grads):
        views = self._views(params)
        grad = np.zeros_like(params)
        gviews = self.layout.views(grad)
        W = views["head.weight"]
        features, valid, lengths = cache["features"], cache["valid"], cache["lengths"]
        H = self.hidden_size
        if self.return_sequences:
            dy = np.ascontiguousarray(doutput.transpose(1, 0, 2))
            gviews["head.weight"][...] = dy.reshape(-1, dy.shape[2]).T @ features.reshape(-1, features.shape[2])
            gviews["head.bias"][...] = dy.sum(axis=(0, 1))
            dy = (dy @ W) * valid
        else:
            gviews["head.weight"][...] = doutput.T @ features
            gviews["head.bias"][...] = doutput.sum(axis=0)
            dfeatures = doutput @ W
            T = cache["layers"][0]["x"].shape[0]
            dy = np.zeros((T,) + features.shape, params.dtype)
            dy[T - 1, :, :H] = dfeatures[:, :H]
            if self.bidirectional:
                dy[0, :, H:] = dfeatures[:, H:]
        for k in reversed(range(self.num_layers)):
            layer = cache["layers"][k]
            dx = None
            for d, suffix in enumerate(self.directions):
                dhs = np.ascontiguousarray(dy[:, :, d * H : (d + 1) * H])
                w = self._direction_weights(views, k, suffix)
                dxd, grads, states = cpu.direction_backward(
                    self.cell, layer["x"], w, layer["runs"][d][1], dhs, lengths,
                    reverse=bool(suffix), workspace=self._part(k, suffix))
                if state_grads is not None:
                    state_grads[f"l{k}{suffix}"] = states
                for key, g in grads.items():
                    gviews[f"{key}_l{k}{suffix}"][...] = g
                dx = dxd if dx is None else dx + dxd
            if k > 0:
                below = cache["layers"][k - 1]
                dy = dx * below["mask"] if "mask" in below else dx
                dy = dy * valid
        return grad

    def predict(self, params, X, lengths=None):
        """Network output in inference mode: no dropout, and nothing kept for a backward pass.

        Parameters
        ----------
        params, X, lengths
            As for :meth:`forward`.

        Returns
        -------
        ndarray of shape (B, k), or (B, T, k) with ``return_sequences``
        """
        with serial_blas():
            return self._forward(params, X, lengths, None, keep=False)[0]

    def gate_activations(self, cache):
        """Gate activations from a :meth:`forward` cache.

        Parameters
        ----------
        cache : dict
            From :meth:`forward` (the GPU network's too); padded steps hold zeros.

        Returns
        -------
        dict
            For every layer and direction (``'l0'``, ``'l0_reverse'``, ...), a dict of
            gate name to activations of shape (T, B, H): LSTM i, f, g, o; GRU r, z, n;
            empty for a plain RNN.
        """
        return {f"l{k}{suffix}": cpu.gate_activations(self.cell, run[1])
                for k, layer in enumerate(cache["layers"])
                for suffix, run in zip(self.directions, layer["runs"])}

    def loss_and_grad(self, params, X, y, lengths=None, dropout_rng=None, state_grads=None):
        """Mean squared error on a batch and its gradient as one flat vector.

        Parameters
        ----------
        params, X
            As for :meth:`forward`.
        y : ndarray of shape (B, k), or (B, T, k) with ``return_sequences``
            Targets; with ``return_sequences`` padded steps are left out of the loss.
        lengths, dropout_rng
            As for :meth:`forward`.
        state_grads : dict, optional
            Receives the gradients of the hidden (and cell) states, as in
            :meth:`backward`.

        Returns
        -------
        loss : float
            Mean of (output - y)**2 over every valid output value, as
            ``torch.nn.MSELoss``.
        grad : ndarray of shape (layout.size,)
            dloss/dparams, laid out as ``params``.
        """
        with serial_blas():  # once for both passes: the passes' own entries are then free
            output, cache = self.forward(params, X, lengths, dropout_rng)
            mask = cache["valid"][..., 0].T if self.return_sequences else None
            loss, doutput = losses.mse(output, np.asarray(y, params.dtype), mask)
            return loss, self.backward(params, cache, doutput, state_grads)
