"""What happens inside a fitted network: gradient flow over time steps and gate activity.

A plain RNN's gradient dL/dh_t shrinks (or grows) by a factor tanh'(a) W_hh at every
step back in time; an LSTM's cell state passes it on through the forget gate f, and a
GRU's state through its update gate z (h_t = (1 - z) n + z h_{t-1}).
:func:`gradient_flow` measures that decay with the same compiled backprop through time
that trains the model; :func:`gate_statistics` shows
how open or saturated the gates are.

The plot helpers need matplotlib (the ``plot`` extra); importing this
module does not import it.
"""

import numpy as np

from . import threads
from .preprocessing import standardized
from .validation import valid_steps

SATURATION = (0.05, 0.95)
MEMORY = 0.9  #: a unit whose forget (LSTM) or update (GRU) gate averages above this keeps state


def _valid_mean(values, valid):
    """Mean over the sequences valid at each step: (T, B) -> (T,), NaN where none is."""
    counts = valid.sum(axis=1)
    return np.where(counts > 0, (values * valid).sum(axis=1) / np.maximum(counts, 1), np.nan)


def _prepare(estimator, X, lengths):
    """X checked as for ``predict``, lengths, and the valid steps (T, B)."""
    X, lengths = estimator._checked_input(X, lengths)
    return X, lengths, valid_steps(lengths, X.shape[1]).T


def gradient_flow(estimator, X, y, lengths=None, weights="fitted", relative=False):
    """Norm of the loss gradient with respect to the hidden state at every time step.

    Parameters
    ----------
    estimator : fitted estimator (any of the six)
        The model to examine; it is not changed.
    X : array-like of shape (n, T, d) or (n, T), or list of arrays
        A batch of sequences, as for ``fit``.
    y : array-like
        Their targets or labels, as for ``fit`` (labels must be among
        ``classes_``); the loss is the training loss (MSE or cross-entropy, without
        sample or class weights) on the batch, in the units the network learns in.
    lengths : array-like of int, shape (n,), optional
        Valid steps per sequence.
    weights : {'fitted', 'initial'}, default='fitted'
        The fitted weights, or those a fit from scratch starts from, drawn again
        from ``random_state`` (an int gives the same ones as the fit; a RandomState
        instance is drawn from): gradient flow before training.
    relative : bool, default=False
        Divide each curve by its value at the last step, ||dL/dh_t|| / ||dL/dh_T||
        (at the first step for a reverse direction, where its final state is):
        how much of the gradient at the end reaches t steps back, comparable
        between models whose losses differ.

    Returns
    -------
    dict
        For every layer and direction (``'l0'``, ``'l0_reverse'``, ``'l1'``, ...), a
        dict with ``'h'``: array (T,) of ||dL/dh_t||_2 averaged over the sequences
        valid at step t, and for an LSTM ``'c'``: the same for dL/dc_t. The gradient
        is the total one, through later steps and the layers above.

    Raises
    ------
    ValueError
        For ``weights`` other than 'fitted' or 'initial'.

    Examples
    --------
    >>> import numpy as np
    >>> from numbarnn import LSTMRegressor
    >>> from numbarnn.diagnostics import gradient_flow
    >>> X = np.random.default_rng(0).standard_normal((16, 8, 1))
    >>> y = X[:, 0, 0]  # the first step's input: the gradient must reach back to it
    >>> model = LSTMRegressor(hidden_size=4, max_iter=2, random_state=0).fit(X, y)
    >>> flow = gradient_flow(model, X, y)
    >>> {key: {state: norms.shape for state, norms in curves.items()}
    ...  for key, curves in flow.items()}
    {'l0': {'h': (8,), 'c': (8,)}}

    Relative to the last step, before training:

    >>> start = gradient_flow(model, X, y, weights="initial", relative=True)["l0"]["h"]
    >>> float(start[-1]), bool(start[0] < start[-1])  # less reaches the first step
    (1.0, True)
    """
    if weights not in ("fitted", "initial"):
        raise ValueError(f"weights must be 'fitted' or 'initial', got {weights!r}")
    X, lengths, valid = _prepare(estimator, X, lengths)
    y, _ = estimator._check_targets(y, X, lengths, training=True)  # unknown labels: an error
    X = standardized(X, estimator.input_mean_, estimator.input_scale_)
    y = standardized(y, estimator.target_mean_, estimator.target_scale_)
    network = estimator.network_.to(estimator.device)
    params = estimator.params_
    if weights == "initial":
        params = estimator._init_params(network, estimator._new_rng()).astype(params.dtype)
    states = {}
    with threads.limit(estimator.n_threads):
        network.loss_and_grad(params, X, y, lengths, state_grads=states)
    flow = {key: {name: _valid_mean(np.linalg.norm(g, axis=2), valid)
                  for name, g in grads.items()} for key, grads in states.items()}
    if relative:
        flow = {key: {name: values / _entry(values, key.endswith("_reverse"))
                      for name, values in curves.items()} for key, curves in flow.items()}
    return flow


def _entry(values, reverse):
    """A curve's value where the head's gradient enters: its last step with valid sequences
    (the first step for a reverse direction)."""
    finite = values[np.isfinite(values)]
    return finite[0] if reverse else finite[-1]


def gate_statistics(estimator, X, lengths=None):
    """Mean activation and saturation of the gates at every time step, and per unit.

    Parameters
    ----------
    estimator : fitted LSTM or GRU estimator
        The model to examine.
    X : array-like of shape (n, T, d) or (n, T), or list of arrays
        A batch of sequences, as for ``predict``.
    lengths : array-like of int, shape (n,), optional
        Valid steps per sequence.

    Returns
    -------
    dict
        For every layer and direction (``'l0'``, ``'l0_reverse'``, ...), a dict of gate
        (LSTM ``'i'``, ``'f'``, ``'o'``; GRU ``'r'``, ``'z'``) to a dict with ``'mean'``,
        array (T,) of the mean activation over units and valid sequences,
        ``'saturated'``, array (T,) of the fraction of those activations below 0.05 or
        above 0.95, ``'unit_mean'``, array (H,) of each unit's mean over valid steps
        and sequences, and ``'above_0.9'``, the share of units whose mean is above
        :data:`MEMORY` (0.9): for the LSTM's forget gate f and the GRU's update gate
        z, the units that carry their state from step to step.

    Raises
    ------
    ValueError
        For a plain RNN, which has no gates.

    Examples
    --------
    >>> import numpy as np
    >>> from numbarnn import LSTMRegressor
    >>> from numbarnn.diagnostics import gate_statistics
    >>> X = np.random.default_rng(0).standard_normal((16, 8, 1))
    >>> model = LSTMRegressor(hidden_size=4, max_iter=2, random_state=0).fit(X, X[:, 0, 0])
    >>> stats = gate_statistics(model, X)
    >>> sorted(stats), sorted(stats["l0"])
    (['l0'], ['f', 'i', 'o'])
    >>> forget = stats["l0"]["f"]
    >>> sorted(forget)
    ['above_0.9', 'mean', 'saturated', 'unit_mean']
    >>> forget["mean"].shape, forget["saturated"].shape, forget["unit_mean"].shape
    ((8,), (8,), (4,))
    """
    X, lengths, valid = _prepare(estimator, X, lengths)
    network = estimator.network_.to(estimator.device)
    if not network.cell.reported_gates:
        raise ValueError("a plain RNN has no gates; use an LSTM or GRU estimator")
    X = standardized(X, estimator.input_mean_, estimator.input_scale_)
    with threads.limit(estimator.n_threads):
        _, cache = network.forward(estimator.params_, X, lengths)
    low, high = SATURATION
    result = {}
    for key, gates in network.gate_activations(cache).items():
        result[key] = {
            name: _gate_summary(gates[name], valid, low, high)
            for name in network.cell.reported_gates}
    return result


def _gate_summary(values, valid, low, high):
    """The statistics of one gate's activations (T, B, H) over the valid steps (T, B)."""
    unit_mean = values[valid].mean(axis=0)
    return {"mean": _valid_mean(values.mean(axis=2), valid),
            "saturated": _valid_mean(((values < low) | (values > high)).mean(axis=2), valid),
            "unit_mean": unit_mean,
            "above_0.9": float(np.mean(unit_mean > MEMORY))}


def _axes(ax):
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError("plotting needs matplotlib: pip install numbarnn[plot]") from error
    return plt.subplots()[1] if ax is None else ax


def plot_gradient_flow(flow, ax=None, label=None):
    """Plot :func:`gradient_flow`'s result: gradient norm against time step, log scale.

    Parameters
    ----------
    flow : dict
        As returned by :func:`gradient_flow`.
    ax : matplotlib Axes, optional
        Axes to draw on (new figure if None); call again with the same ``ax`` to
        compare models.
    label : str, optional
        Prefix of the legend entries.

    Returns
    -------
    matplotlib Axes
        The axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from numbarnn import LSTMRegressor
    >>> from numbarnn.diagnostics import gradient_flow, plot_gradient_flow
    >>> X = np.random.default_rng(0).standard_normal((16, 8, 1))
    >>> model = LSTMRegressor(hidden_size=4, max_iter=2, random_state=0).fit(X, X[:, 0, 0])
    >>> ax = plot_gradient_flow(gradient_flow(model, X, X[:, 0, 0]), label="LSTM")
    >>> [line.get_label() for line in ax.get_lines()], ax.get_yscale()
    (['LSTM l0 dL/dh', 'LSTM l0 dL/dc'], 'log')
    >>> plt.close(ax.figure)
    """
    ax = _axes(ax)
    for key, norms in flow.items():
        for state, values in norms.items():
            name = f"{label + ' ' if label else ''}{key} dL/d{state}"
            ax.plot(values, linestyle="-" if state == "h" else "--", label=name)
    ax.set_yscale("log")
    ax.set_xlabel("time step t")
    ax.set_ylabel("mean ||dL/dh_t||")
    ax.legend(fontsize="small")
    return ax


def plot_gate_statistics(stats, ax=None, label=None, layer="l0"):
    """Plot :func:`gate_statistics`' mean gate activations against time step.

    Parameters
    ----------
    stats : dict
        As returned by :func:`gate_statistics`.
    ax : matplotlib Axes, optional
        Axes to draw on (new figure if None).
    label : str, optional
        Prefix of the legend entries.
    layer : str, default='l0'
        Layer and direction to show.

    Returns
    -------
    matplotlib Axes
        The axes drawn on; the mean of each gate is a solid line, the saturated
        fraction a dotted one.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from numbarnn import GRURegressor
    >>> from numbarnn.diagnostics import gate_statistics, plot_gate_statistics
    >>> X = np.random.default_rng(0).standard_normal((16, 8, 1))
    >>> model = GRURegressor(hidden_size=4, max_iter=2, random_state=0).fit(X, X[:, 0, 0])
    >>> ax = plot_gate_statistics(gate_statistics(model, X), label="GRU")
    >>> [line.get_label() for line in ax.get_lines()]
    ['GRU r mean', 'GRU r saturated', 'GRU z mean', 'GRU z saturated']
    >>> plt.close(ax.figure)
    """
    ax = _axes(ax)
    for gate, values in stats[layer].items():
        line, = ax.plot(values["mean"], label=f"{label + ' ' if label else ''}{gate} mean")
        ax.plot(values["saturated"], linestyle=":", color=line.get_color(),
                label=f"{label + ' ' if label else ''}{gate} saturated")
    ax.set_ylim(0, 1)
    ax.set_xlabel("time step t")
    ax.set_ylabel("activation / fraction")
    ax.legend(fontsize="small")
    return ax


def plot_loss_curves(estimators, ax=None):
    """Plot the training loss of each estimator per epoch (log scale).

    Parameters
    ----------
    estimators : dict of str to fitted estimator
        Legend label to estimator.
    ax : matplotlib Axes, optional
        Axes to draw on (new figure if None).

    Returns
    -------
    matplotlib Axes
        The axes drawn on.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from numbarnn import GRURegressor, LSTMRegressor
    >>> from numbarnn.diagnostics import plot_loss_curves
    >>> X = np.random.default_rng(0).standard_normal((16, 8, 1))
    >>> models = {"LSTM": LSTMRegressor(hidden_size=4, max_iter=3, random_state=0),
    ...           "GRU": GRURegressor(hidden_size=4, max_iter=3, random_state=0)}
    >>> for model in models.values():
    ...     _ = model.fit(X, X[:, 0, 0])
    >>> ax = plot_loss_curves(models)
    >>> [(line.get_label(), len(line.get_xdata())) for line in ax.get_lines()]
    [('LSTM', 3), ('GRU', 3)]
    >>> plt.close(ax.figure)
    """
    ax = _axes(ax)
    for label, estimator in estimators.items():
        ax.plot(np.arange(1, len(estimator.loss_curve_) + 1), estimator.loss_curve_, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.legend(fontsize="small")
    return ax
