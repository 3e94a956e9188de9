"""GRU cell, gate order r, z, n as in PyTorch, in both published forms.

    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))      reset_after=True  (cuDNN, PyTorch)
    n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)      reset_after=False (Cho et al. 2014)
    h' = (1 - z) * n + z * h
"""

from dataclasses import dataclass

from .._compile import pointwise
from .activations import ONE, ZERO, tanh
from .layout import GateLayout


@dataclass(frozen=True)
class GRUCell(GateLayout):
    """GRU cell.

    Parameters
    ----------
    reset_after : bool, default=True
        Apply the reset gate after the recurrent matrix product (cuDNN, PyTorch,
        Keras default) rather than before it (Cho et al. 2014).

    Examples
    --------
    >>> from numbarnn import GRUCell, RecurrentNetwork
    >>> cell = GRUCell()
    >>> cell.gates, cell.block("z", hidden_size=4)  # z's rows in the stacked weights
    (('r', 'z', 'n'), slice(4, 8, None))
    >>> RecurrentNetwork(cell, input_size=1, hidden_size=4).layout.shapes["weight_hh_l0"]
    (12, 4)
    >>> GRUCell(reset_after=False) == GRUCell(False)  # cells compare by their options
    True
    """

    reset_after: bool = True

    name = "gru"
    states = ("h",)
    reported_gates = ("r", "z")

    @property
    def gates(self):
        """Names of the gate blocks stacked in ``weight_ih`` and ``weight_hh``."""
        return ("r", "z", "n")

    @property
    def peepholes(self):
        """Names of the gates with a peephole weight (none)."""
        return ()


@pointwise
def step(r, z, x_n, hn, h_prev, reset_after):
    """New state from the gates r, z, the input part ``x_n`` of n and its recurrent part.

    ``hn`` is W_hn h + b_hn (reset after) or W_hn (r * h) + b_hn (reset before).
    Returns (n, h').
    """
    if reset_after:
        n = tanh(x_n + r * hn)
    else:
        n = tanh(x_n + hn)
    return n, (ONE - z) * n + z * h_prev


@pointwise
def step_grad(dh, r, z, n, hn, h_prev, reset_after):
    """Backward of :func:`step` and of the gates' sigmoids.

    Returns (da_r, da_z, da_n, dhn, dh_prev): gradients of the r and z
    pre-activations, of the input part of n, of ``hn``, and the direct part of
    the gradient of h_{t-1} (through z). With ``reset_after=False`` the reset
    gate acts through W_hn (r * h), so ``da_r`` comes from :func:`reset_before_grad`
    (zero here).
    """
    da_n = dh * (ONE - z) * (ONE - n * n)
    da_z = dh * (h_prev - n) * z * (ONE - z)
    if reset_after:
        return da_n * hn * r * (ONE - r), da_z, da_n, da_n * r, dh * z
    return ZERO * da_n, da_z, da_n, da_n, dh * z


@pointwise
def reset_before_grad(back, r, h_prev):
    """With ``reset_after=False``, what the n gate's recurrent product sends back.

    ``back`` is W_hn^T dhn for one unit, the gradient of r * h_{t-1}. Returns (da_r,
    dh_prev): the gradient of the r pre-activation and the part of dL/dh_{t-1} through
    r * h_{t-1}.
    """
    return back * h_prev * r * (ONE - r), back * r
