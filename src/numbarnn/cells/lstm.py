"""LSTM cell, gate order i, f, g, o as in PyTorch, with peephole and coupled variants.

    i = sigmoid(a_i + p_i * c_{t-1})        (coupled: i = 1 - f)
    f = sigmoid(a_f + p_f * c_{t-1})
    g = tanh(a_g)
    c_t = f * c_{t-1} + i * g
    o = sigmoid(a_o + p_o * c_t)
    h_t = o * tanh(c_t)

where a = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh and the peephole weights p are zero
unless ``peephole=True`` (diagonal, Gers & Schmidhuber 2000).
"""

from dataclasses import dataclass

from .._compile import pointwise
from .activations import ONE, ZERO, sigmoid, tanh
from .layout import GateLayout


@dataclass(frozen=True)
class LSTMCell(GateLayout):
    """LSTM cell.

    Parameters
    ----------
    peephole : bool, default=False
        Diagonal peephole weights: c_{t-1} into the i and f gates, c_t into o.
    coupled : bool, default=False
        Couple the input and forget gates (i = 1 - f); the i block of the weights
        then does not exist.

    Examples
    --------
    >>> from numbarnn import LSTMCell, RecurrentNetwork
    >>> LSTMCell().gates, LSTMCell().states
    (('i', 'f', 'g', 'o'), ('h', 'c'))
    >>> cell = LSTMCell(peephole=True, coupled=True)
    >>> cell.gates, cell.peepholes
    (('f', 'g', 'o'), ('f', 'o'))
    >>> shapes = RecurrentNetwork(cell, input_size=1, hidden_size=4).layout.shapes
    >>> shapes["weight_hh_l0"], shapes["weight_ch_l0"]  # 3 gate blocks; 2 peepholes
    ((12, 4), (2, 4))
    """

    peephole: bool = False
    coupled: bool = False

    name = "lstm"
    states = ("h", "c")
    reported_gates = ("i", "f", "o")

    @property
    def gates(self):
        """Names of the gate blocks stacked in ``weight_ih`` and ``weight_hh``."""
        return ("f", "g", "o") if self.coupled else ("i", "f", "g", "o")

    @property
    def peepholes(self):
        """Names of the gates with a peephole weight, in the rows of ``weight_ch``."""
        if not self.peephole:
            return ()
        return ("f", "o") if self.coupled else ("i", "f", "o")

    def named_gates(self, acts):
        """As :meth:`GateLayout.named_gates`; a coupled cell's i gate is 1 - f."""
        gates = super().named_gates(acts)
        return {"i": 1.0 - gates["f"], **gates} if self.coupled else gates


@pointwise
def step(a_i, a_f, a_g, a_o, c_prev, p_i, p_f, p_o, coupled):
    """One unit's step: gate pre-activations and c_{t-1} in, (i, f, g, o, c_t, h_t) out."""
    f = sigmoid(a_f + p_f * c_prev)
    if coupled:
        i = ONE - f
    else:
        i = sigmoid(a_i + p_i * c_prev)
    g = tanh(a_g)
    c = f * c_prev + i * g
    o = sigmoid(a_o + p_o * c)
    return i, f, g, o, c, o * tanh(c)


@pointwise
def step_grad(dh, dc, i, f, g, o, c, c_prev, p_i, p_f, p_o, coupled):
    """Backward of :func:`step`: (da_i, da_f, da_g, da_o, dc_t, dc_{t-1}).

    ``dh`` and ``dc`` are the gradients of h_t and c_t arriving from later steps
    and from above; ``da_*`` are gradients of the gate pre-activations (``da_i`` is
    zero for a coupled cell); ``dc_t`` is the total gradient of c_t.
    """
    tc = tanh(c)
    da_o = dh * tc * o * (ONE - o)
    dc = dc + dh * o * (ONE - tc * tc) + da_o * p_o
    if coupled:
        da_i = ZERO * dc
        da_f = dc * (c_prev - g) * f * (ONE - f)
    else:
        da_i = dc * g * i * (ONE - i)
        da_f = dc * c_prev * f * (ONE - f)
    da_g = dc * i * (ONE - g * g)
    return da_i, da_f, da_g, da_o, dc, dc * f + da_i * p_i + da_f * p_f
