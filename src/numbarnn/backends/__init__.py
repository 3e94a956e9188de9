"""Backends: where a network's arithmetic runs, chosen once, by device.

``get("cpu")`` or ``get("cuda")`` returns the backend object; a
:class:`~numbarnn.RecurrentNetwork` holds the one for its device and calls nothing else.
Every backend keeps the same contract, on arrays of its own kind (NumPy arrays on the CPU,
``numba.cuda`` device arrays on the GPU):

- arrays: ``asarray``, ``to_host``, ``zeros``, ``copy_into``, ``take`` (sequences of a
  time-major array), ``workspace`` (arrays reused from pass to pass), ``scope`` (a
  context manager around a pass);
- one direction of one layer: ``direction_forward``, ``direction_backward`` (backprop
  through time) and ``gate_activations``;
- the token embedding: ``embed``, ``embedding_backward``;
- the glue of the layer stack and the head: ``layer_output``, ``masked``,
  ``final_states``, ``final_states_grad``, ``direction_part``, ``accumulate``, ``linear``,
  ``linear_backward``, ``loss``;
- the optimizer's step: ``clip_grad_norm``, ``all_finite``, ``adam_update``,
  ``sgd_update``.

A backend imports the cells and low-level helpers only, never the network, the
optimizers, training, the estimators or io. ``numba.cuda`` is imported only when the
CUDA backend is asked for.
"""

from ..exceptions import DeviceUnavailableError

DEVICES = ("cpu", "cuda")


def get(device):
    """The backend of ``device``.

    Parameters
    ----------
    device : {'cpu', 'cuda'}

    Returns
    -------
    CPUBackend or CUDABackend

    Raises
    ------
    DeviceUnavailableError
        For 'cuda' without numba-cuda or a usable NVIDIA GPU, saying which is missing.
    ValueError
        For an unknown device.
    """
    if device == "cpu":
        from .cpu import backend
        return backend
    if device == "cuda":
        try:
            from .cuda import backend
        except ImportError as error:
            raise DeviceUnavailableError(f"device='cuda' needs numba-cuda, which did not import "
                                         f"({error}); pip install 'numbarnn[cuda]'") from error
        backend.require()
        return backend
    raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
