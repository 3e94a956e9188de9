"""A stack of recurrent layers, a linear head and a loss over one flat parameter vector.

Parameter names follow PyTorch (``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``,
``bias_hh_l0``, suffix ``_reverse``), with ``weight_ch_l{k}`` for LSTM peepholes,
``embedding.weight`` for the token embedding (an ``nn.Embedding``) and ``head.weight``,
``head.bias`` for the output layer.

The network holds the backend of its device (:func:`numbarnn.backends.get`) and runs one
layer stack on it, whatever the device: the backend does the arithmetic, the network
says what to compute. Inside, arrays are time-major, (T, B, ...), on the backend.
"""

from contextlib import contextmanager
from typing import NamedTuple

import numpy as np

from . import backends
from .cells import LSTMCell
from .losses import KINDS
from .parameters import ParameterLayout
from .validation import check_lengths, check_sample_weight, check_token_ids, valid_steps

PREDICT_CHUNK = 1024  # sequences per forward pass in predict: bounds the memory used
MAX_PARAMETERS = 2**31  # a larger flat vector is surely a mistake (8 GiB in float32)


class Batch(NamedTuple):
    """A batch on the network's backend: time-major inputs and its valid steps."""

    x: object  #: inputs (T, B, D) in the compute dtype, or token ids (T, B, 1) int64
    lengths: np.ndarray  #: valid steps per sequence (B,), int64, on the host
    on_backend: object  #: the same lengths on the backend


class StepWeights(NamedTuple):
    """Weights of a batch's outputs in the loss (sample weights), on the network's backend."""

    values: object  #: (S, B, 1) in the compute dtype, zero at padded steps (S = 1 per sequence)
    total: float  #: their sum, on the host


class Layer(NamedTuple):
    """What a forward pass keeps of one layer for the backward pass."""

    x: object  #: the layer's input (T, B, D)
    runs: list  #: (hs, cache) of each direction
    mask: object  #: the dropout mask applied to its output, or None


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
    device : {'cpu', 'cuda'}, default='cpu'
        Where the passes run (:func:`numbarnn.backends.get`); :meth:`to` gives the same
        network on another device. Host arrays go in and come out either way.
    loss : {'mse', 'cross_entropy', 'binary_cross_entropy'}, default='mse'
        What :meth:`loss_and_grad` minimises (:mod:`numbarnn.losses`): mean squared
        error; softmax cross-entropy of the ``output_size`` logits against a class
        index (targets (B, 1) or (B, T, 1)), as ``torch.nn.CrossEntropyLoss``; or
        binary cross-entropy of each logit against a target in [0, 1], as
        ``torch.nn.BCEWithLogitsLoss``.
    vocab_size : int, optional
        Take token ids in [0, vocab_size) instead of feature vectors: X is (B, T)
        integers, and an embedding table ``embedding.weight`` (vocab_size,
        input_size) turns each id into the first layer's input, as
        ``torch.nn.Embedding``.

    Examples
    --------
    A network, its weights in one flat vector, and a training loop of your own:

    >>> import numpy as np
    >>> from numbarnn import Adam, LSTMCell, RecurrentNetwork, clip_grad_norm
    >>> net = RecurrentNetwork(LSTMCell(), input_size=2, hidden_size=4)
    >>> list(net.layout)
    ['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0', 'head.weight', 'head.bias']
    >>> params = net.init_params(random_state=0)
    >>> params.shape, params.dtype
    ((133,), dtype('float32'))
    >>> X = np.random.default_rng(0).standard_normal((8, 5, 2)).astype(np.float32)
    >>> y = X.sum(axis=(1, 2))[:, None]  # (B, k): one output per sequence
    >>> net.predict(params, X).shape
    (8, 1)
    >>> optimizer, losses = Adam(lr=0.01), []
    >>> for step in range(20):
    ...     loss, grad = net.loss_and_grad(params, X, y)
    ...     _ = clip_grad_norm(grad, 1.0)
    ...     optimizer.step(params, grad)  # params updated in place
    ...     losses.append(loss)
    >>> bool(losses[-1] < losses[0])
    True
    """

    _workspace = None  # set by reusing_memory
    _params_views = None  # (params, its named views), for the next pass with the same array

    def __init__(self, cell, input_size, hidden_size, output_size=1, num_layers=1,
                 bidirectional=False, dropout=0.0, return_sequences=False, device="cpu",
                 loss="mse", vocab_size=None):
        if loss not in KINDS:
            raise ValueError(f"loss must be one of {sorted(KINDS)}, got {loss!r}")
        self.cell = cell
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.output_size = output_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.return_sequences = return_sequences
        self.device = device
        self.loss = loss
        self.vocab_size = vocab_size
        self.backend = backends.get(device)
        self.layout = ParameterLayout(self._shapes())

    def __getstate__(self):
        # the backend is found again by device: nothing of a device is pickled
        state = {k: v for k, v in vars(self).items() if k not in ("backend", "_params_views",
                                                                   "_workspace")}
        return state

    def __setstate__(self, state):
        vars(self).update(state)
        self.backend = backends.get(self.device)

    def to(self, device):
        """This network on ``device``: itself if already there, else a copy of its shape.

        Parameters
        ----------
        device : {'cpu', 'cuda'}

        Returns
        -------
        RecurrentNetwork

        Raises
        ------
        DeviceUnavailableError
            For 'cuda' without numba-cuda or a GPU.
        """
        if device == self.device:
            return self
        return RecurrentNetwork(self.cell, self.input_size, self.hidden_size, self.output_size,
                                self.num_layers, self.bidirectional, self.dropout,
                                self.return_sequences, device, self.loss, self.vocab_size)

    STRUCTURE = ("cell", "input_size", "hidden_size", "output_size", "num_layers",
                 "bidirectional", "return_sequences", "loss", "vocab_size")

    def differences(self, other):
        """The names in :attr:`STRUCTURE` (what the parameters mean, not how they are
        trained) whose values differ in ``other``.

        Parameters
        ----------
        other : RecurrentNetwork

        Returns
        -------
        list of str
        """
        return [name for name in self.STRUCTURE if getattr(self, name) != getattr(other, name)]

    @contextmanager
    def reusing_memory(self):
        """Context manager: each forward and backward pass reuses the last one's arrays.

        Training asks for the same large arrays at every step; reusing them spares the
        allocator (the system's fresh pages on the CPU, the driver on the GPU; see
        :class:`~numbarnn.backends.cpu.driver.Workspace`).
        :meth:`~numbarnn.LSTMRegressor.fit` and the other estimators train inside it;
        use it around a training loop of your own.

        Inside the block, the cache of :meth:`forward` and the state gradients of
        :meth:`backward` are overwritten by the next pass; :meth:`predict` is not
        affected.
        """
        self._workspace = self.backend.workspace()
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

    def parameter_count(self):
        """The length of the flat parameter vector, computed without listing the parameters.

        Returns
        -------
        int
        """
        G, H, n = len(self.cell.gates) * self.hidden_size, self.hidden_size, len(self.directions)
        per_direction = G * (H + 2) + len(self.cell.peepholes) * H
        first = G * self.input_size + per_direction
        above = G * H * n + per_direction
        embedding = (self.vocab_size or 0) * self.input_size
        return (embedding + n * (first + (self.num_layers - 1) * above)
                + self.output_size * (H * n + 1))

    def _shapes(self):
        count = self.parameter_count()
        if count > MAX_PARAMETERS:
            raise ValueError(f"this network would have {count:.3g} parameters, more than "
                             f"numbarnn's limit of {MAX_PARAMETERS:.3g} (2**31); make "
                             "hidden_size or num_layers smaller")
        G = len(self.cell.gates) * self.hidden_size
        H = self.hidden_size
        shapes = {}
        if self.vocab_size is not None:
            shapes["embedding.weight"] = (self.vocab_size, self.input_size)
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
        head from U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the embedding from N(0, 1).

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
            if name == "embedding.weight":
                view[...] = rng.standard_normal(view.shape)
                continue
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

    # --- host API: batch-first host arrays in and out -----------------------------------

    def batch(self, X, lengths=None, dtype=np.float32):
        """A batch of host sequences on the backend.

        Parameters
        ----------
        X : ndarray of shape (B, T, D), or (B, T) token ids with ``vocab_size``
            Input sequences, batch first.
        lengths : array-like of int, shape (B,), optional
            Valid steps per sequence (default: all T).
        dtype : dtype, default=float32
            The compute dtype.

        Returns
        -------
        Batch

        Raises
        ------
        ValueError
            With ``vocab_size``, for an id at a valid step that is not an integer in
            [0, vocab_size).
        """
        B, T = X.shape[:2]
        lengths = check_lengths(lengths, B, T)
        if self.vocab_size is not None:
            check_token_ids(X, lengths, self.vocab_size)
        return self._batch(X, lengths, dtype)

    def _batch(self, X, lengths, dtype):
        """As :meth:`batch`, for lengths (and token ids) already checked."""
        be = self.backend
        if self.vocab_size is None:
            x = be.asarray(X.transpose(1, 0, 2), dtype)
        else:  # ids of padded steps may be anything: they become 0, never looked at
            x = be.asarray(np.where(valid_steps(lengths, X.shape[1]), X, 0).T[..., None],
                           np.int64)
        return Batch(x, lengths, be.asarray(lengths))

    def time_major_targets(self, y, dtype):
        """Host targets (B, k), or (B, T, k) with ``return_sequences``, as the time-major
        (1, B, k) or (T, B, k) array on the backend that :meth:`batch_loss_and_grad` takes."""
        y = np.asarray(y)
        return self.backend.asarray(y.transpose(1, 0, 2) if self.return_sequences else y[None],
                                    dtype)

    def time_major_weights(self, sample_weight, dtype):
        """Host step weights (B, S, 1) (:func:`~numbarnn.validation.check_sample_weight`) as
        the time-major :class:`StepWeights` that :meth:`batch_loss_and_grad` takes."""
        w = np.asarray(sample_weight)
        return StepWeights(self.backend.asarray(w.transpose(1, 0, 2), dtype), float(w.sum()))

    def _batch_first(self, output):
        """A time-major output as the host's batch-first one."""
        output = self.backend.to_host(output)
        return output.transpose(1, 0, 2) if self.return_sequences else output[0]

    def forward(self, params, X, lengths=None, dropout_rng=None):
        """Network output for a batch.

        Parameters
        ----------
        params : ndarray of shape (layout.size,)
            Flat parameter vector; its dtype is the compute dtype.
        X : ndarray of shape (B, T, D), or (B, T) token ids with ``vocab_size``
            Input sequences, batch first.
        lengths : array-like of int, shape (B,), optional
            Valid steps per sequence (default: all T).
        dropout_rng : numpy.random.Generator, optional
            Training mode: draw dropout masks from it. None means inference.

        Returns
        -------
        output : ndarray of shape (B, k), or (B, T, k) with ``return_sequences``
        cache : dict
            What :meth:`backward` and :meth:`gate_activations` need.
        """
        with self.backend.scope():
            params = self.backend.asarray(params)
            batch = self.batch(X, lengths, params.dtype)
            output, cache = self._forward(params, batch, dropout_rng, keep=True)
            return self._batch_first(output), cache

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
        be = self.backend
        with be.scope():
            doutput = np.asarray(doutput)
            doutput = doutput.transpose(1, 0, 2) if self.return_sequences else doutput[None]
            params = be.asarray(params)
            grad = self._backward(params, cache, be.asarray(doutput, params.dtype), state_grads)
            return be.to_host(grad)

    def predict(self, params, X, lengths=None):
        """Network output in inference mode: no dropout, and nothing kept for a backward pass.

        Sequences are run ``PREDICT_CHUNK`` at a time, which bounds the memory used.

        Parameters
        ----------
        params, X, lengths
            As for :meth:`forward`.

        Returns
        -------
        ndarray of shape (B, k), or (B, T, k) with ``return_sequences``
        """
        B, T = X.shape[:2]
        lengths = check_lengths(lengths, B, T)
        if self.vocab_size is not None:
            check_token_ids(X, lengths, self.vocab_size)
        be = self.backend
        with be.scope():
            params = be.asarray(params)
            out = [self._batch_first(self._forward(
                params, self._batch(X[i : i + PREDICT_CHUNK], lengths[i : i + PREDICT_CHUNK],
                                    params.dtype), None, keep=False)[0])
                   for i in range(0, B, PREDICT_CHUNK)]
        return out[0] if len(out) == 1 else np.concatenate(out)

    def gate_activations(self, cache):
        """Gate activations from a :meth:`forward` cache.

        Parameters
        ----------
        cache : dict
            From :meth:`forward`; padded steps hold zeros.

        Returns
        -------
        dict
            For every layer and direction (``'l0'``, ``'l0_reverse'``, ...), a dict of
            gate name to activations of shape (T, B, H) as NumPy arrays: LSTM i, f, g, o;
            GRU r, z, n; empty for a plain RNN.
        """
        return {f"l{k}{suffix}": self.backend.gate_activations(self.cell, run[1])
                for k, layer in enumerate(cache["layers"])
                for suffix, run in zip(self.directions, layer.runs)}

    def loss_and_grad(self, params, X, y, lengths=None, dropout_rng=None, state_grads=None,
                      sample_weight=None):
        """The network's loss on a batch and its gradient as one flat vector.

        Parameters
        ----------
        params, X
            As for :meth:`forward`.
        y : ndarray of shape (B, k), or (B, T, k) with ``return_sequences``
            Targets; with ``return_sequences`` padded steps are left out of the loss.
            For ``loss='cross_entropy'``, k = 1: the class index, an integer in
            [0, output_size).
        lengths, dropout_rng
            As for :meth:`forward`.
        state_grads : dict, optional
            Receives the gradients of the hidden (and cell) states, as in
            :meth:`backward`.
        sample_weight : array-like of shape (B,), or (B, T) with ``return_sequences``, optional
            Weight of each sequence (or step) in the mean.

        Returns
        -------
        loss : float
            The mean loss over every valid output value (for cross-entropy: every
            valid output row), as PyTorch's loss with ``reduction='mean'``; with
            ``sample_weight``, the weighted mean sum(w * loss) / sum(w) (times k for
            the element-wise losses).
        grad : ndarray of shape (layout.size,)
            dloss/dparams, laid out as ``params``.

        Raises
        ------
        ValueError
            For cross-entropy, if a valid step's class index is not an integer in
            [0, output_size); for binary cross-entropy, if a valid target is not in
            [0, 1]; with ``vocab_size``, for an id outside the vocabulary.
        """
        be = self.backend
        with be.scope():  # once for both passes: the passes' own entries are then free
            params_b = be.asarray(params)
            batch = self.batch(X, lengths, params_b.dtype)
            weights = check_sample_weight(sample_weight, batch.lengths, X.shape[1],
                                          self.return_sequences)
            if self.loss != "mse":
                self._check_classes(y, batch.lengths)
            loss, grad = self.batch_loss_and_grad(
                params_b, batch, self.time_major_targets(y, params_b.dtype), dropout_rng,
                state_grads,
                None if weights is None else self.time_major_weights(weights, params_b.dtype))
            return loss, be.to_host(grad)

    # --- backend API: time-major arrays on the backend ----------------------------------

    def batch_loss_and_grad(self, params, batch, y, dropout_rng=None, state_grads=None,
                            weights=None):
        """As :meth:`loss_and_grad`, on the backend: ``params`` and the time-major targets
        ``y`` (from :meth:`time_major_targets`) are backend arrays, ``batch`` from
        :meth:`batch`, ``weights`` None or from :meth:`time_major_weights`; the gradient
        stays on the backend."""
        output, cache = self._forward(params, batch, dropout_rng, keep=True)
        loss, doutput = self.backend.loss(KINDS[self.loss], output, y, batch,
                                          self.return_sequences, weights)
        return loss, self._backward(params, cache, doutput, state_grads)

    def _check_classes(self, y, lengths):
        """ValueError unless every valid target is a class index in [0, output_size)
        (cross-entropy) or a probability in [0, 1] (binary cross-entropy)."""
        y = np.asarray(y)
        if self.return_sequences:
            y = y[valid_steps(lengths, y.shape[1])]
        if self.loss == "binary_cross_entropy":
            if not np.all((y >= 0) & (y <= 1)):
                raise ValueError("binary cross-entropy targets must lie in [0, 1]")
        elif y.shape[-1] != 1 or not np.all((y >= 0) & (y < self.output_size) & (y % 1 == 0)):
            raise ValueError(f"cross-entropy targets must be one class index per output row, "
                             f"integers in [0, {self.output_size})")

    def _dropout_mask(self, rng, shape, dtype):
        """A dropout mask on the backend, drawn on the host (the same draws on every device)."""
        keep = rng.random(shape) >= self.dropout
        return self.backend.asarray(keep.astype(dtype) / dtype.type(1 - self.dropout))

    def _forward(self, params, batch, dropout_rng, keep):
        be = self.backend
        views = self._views(params)
        x = batch.x if self.vocab_size is None else be.embed(views["embedding.weight"], batch.x)
        layers = []
        for k in range(self.num_layers):
            last = k == self.num_layers - 1
            final_only = last and not self.return_sequences
            runs = [be.direction_forward(self.cell, x, self._direction_weights(views, k, s),
                                         batch.on_backend, reverse=bool(s), keep=keep,
                                         workspace=self._part(k, s, keep),
                                         final_only=final_only and not keep)
                    for s in self.directions]
            mask = None
            if not last and dropout_rng is not None and self.dropout > 0:
                width = self.hidden_size * len(self.directions)
                mask = self._dropout_mask(dropout_rng, x.shape[:2] + (width,), params.dtype)
            layers.append(Layer(x, runs, mask))
            if final_only:
                break  # the head reads the final states from runs
            x = be.layer_output([hs for hs, _ in runs], batch.on_backend, mask)
        features = x if self.return_sequences else be.final_states([hs for hs, _ in runs])
        output = be.linear(features, views["head.weight"], views["head.bias"])
        return output, {"layers": layers, "batch": batch, "features": features}

    def _backward(self, params, cache, doutput, state_grads):
        be = self.backend
        views = self._views(params)
        grad = be.zeros(params.shape, params.dtype)
        gviews = self.layout.views(grad)
        lengths = cache["batch"].on_backend
        T = cache["layers"][0].x.shape[0]
        H = self.hidden_size
        dfeatures = be.linear_backward(cache["features"], views["head.weight"], doutput,
                                       gviews["head.weight"], gviews["head.bias"])
        if self.return_sequences:
            dy = be.masked(dfeatures, lengths)
        else:
            dy = be.final_states_grad(dfeatures, T, len(self.directions))
        for k in reversed(range(self.num_layers)):
            layer = cache["layers"][k]
            dx = None
            for d, suffix in enumerate(self.directions):
                dxd, grads, states = be.direction_backward(
                    self.cell, layer.x, self._direction_weights(views, k, suffix),
                    layer.runs[d][1], be.direction_part(dy, d, H), lengths,
                    reverse=bool(suffix), workspace=self._part(k, suffix))
                if state_grads is not None:
                    state_grads[f"l{k}{suffix}"] = {name: be.to_host(g)
                                                    for name, g in states.items()}
                for key, g in grads.items():
                    be.copy_into(gviews[f"{key}_l{k}{suffix}"], g)
                dx = dxd if dx is None else be.accumulate(dx, dxd)
            if k > 0:
                dy = be.masked(dx, lengths, cache["layers"][k - 1].mask)
            elif self.vocab_size is not None:
                be.embedding_backward(dx, cache["batch"].x, lengths, gviews["embedding.weight"])
        return grad
