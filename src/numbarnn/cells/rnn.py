"""Elman RNN cell: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), act tanh or relu."""

from dataclasses import dataclass

from .._compile import pointwise
from .activations import ONE, ZERO, tanh
from .layout import GateLayout


@dataclass(frozen=True)
class RNNCell(GateLayout):
    """Elman RNN cell.

    Parameters
    ----------
    nonlinearity : {'tanh', 'relu'}, default='tanh'
        Activation of the hidden state.

    Examples
    --------
    >>> from numbarnn import RecurrentNetwork, RNNCell
    >>> cell = RNNCell("relu")
    >>> cell.gates, cell.states
    (('h',), ('h',))
    >>> RecurrentNetwork(cell, input_size=3, hidden_size=4).layout.shapes["weight_ih_l0"]
    (4, 3)
    >>> RNNCell("sigmoid")
    Traceback (most recent call last):
        ...
    ValueError: nonlinearity must be 'tanh' or 'relu', got 'sigmoid'
    """

    nonlinearity: str = "tanh"

    name = "rnn"
    states = ("h",)
    reported_gates = ()

    def __post_init__(self):
        if self.nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"nonlinearity must be 'tanh' or 'relu', got {self.nonlinearity!r}"
            )

    @property
    def gates(self):
        """Names of the gate blocks stacked in ``weight_ih`` and ``weight_hh``."""
        return ("h",)

    @property
    def peepholes(self):
        """Names of the gates with a peephole weight (none)."""
        return ()


@pointwise
def step(a, relu):
    """Hidden state from its pre-activation ``a``."""
    if relu:
        return a if a > 0 else ZERO * a
    return tanh(a)


@pointwise
def step_grad(dh, h, relu):
    """Gradient of the pre-activation from the gradient of the hidden state ``h``."""
    if relu:
        return dh if h > 0 else ZERO * dh
    return dh * (ONE - h * h)
