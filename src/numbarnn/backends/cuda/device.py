"""What the CUDA kernels share: launch sizes, the check for a GPU, arrays reused between
passes, and the cells', losses' and optimizers' scalar math compiled as device functions.

The scalar math is the same source as on the CPU (:mod:`numbarnn.cells`,
:mod:`numbarnn.updates`); :func:`numbarnn._compile.retarget` gives numba-cuda its own
copies, inlined by NVVM (``forceinline``). The CUDA simulator runs the Python functions
themselves.
"""

import importlib.util
import math

import numba
from numba import cuda

from ... import losses, updates
from ..._compile import retarget
from ...cells import activations, gru, lstm, rnn
from ...exceptions import DeviceUnavailableError

SIMULATOR = bool(numba.config.ENABLE_CUDASIM)
TILE = 4 if SIMULATOR else 16  # the simulator runs one Python thread per GPU thread
MAX_THREADS = 16 if SIMULATOR else 256

if SIMULATOR:
    def _device(function):
        return function
else:
    from numba.cuda.extending import overload

    _device = retarget(cuda.jit(device=True, forceinline=True), overload)

sigmoid = _device(activations.sigmoid)
rnn_step, rnn_step_grad = _device(rnn.step), _device(rnn.step_grad)
lstm_step, lstm_step_grad = _device(lstm.step), _device(lstm.step_grad)
gru_step, gru_step_grad = _device(gru.step), _device(gru.step_grad)
gru_reset_before_grad = _device(gru.reset_before_grad)
adam_element, sgd_element = _device(updates.adam_element), _device(updates.sgd_element)
row_loss = _device(losses.row_loss)


def require():
    """Raise :class:`~numbarnn.exceptions.DeviceUnavailableError` unless a CUDA GPU is usable."""
    if SIMULATOR:
        return
    if not cuda.is_available():
        if importlib.util.find_spec("numba_cuda") is None:
            raise DeviceUnavailableError(
                "device='cuda' needs numba-cuda and an NVIDIA GPU: numba-cuda is not installed "
                "(pip install 'numbarnn[cuda]')")
        raise DeviceUnavailableError(
            "device='cuda' found no usable NVIDIA GPU or CUDA driver "
            "(numba.cuda.is_available() is False; numba.cuda.detect() tells why)")


def blocks(n):
    """Blocks of MAX_THREADS threads for one thread per item."""
    return max(1, math.ceil(n / MAX_THREADS))


class Workspace:
    """Device arrays handed out again from one pass to the next, as the CPU's
    :class:`~numbarnn.backends.cpu.driver.Workspace`: a training step then asks the driver
    for no new memory. An array from a workspace is overwritten by the next pass that uses
    it; without a workspace (inference), every array is new."""

    def __init__(self, reuse=True):
        self._arrays = {}
        self._reuse = reuse

    def empty(self, name, shape, dtype):
        """An uninitialised device array: the last one given for ``name`` if shape and dtype
        match."""
        a = self._arrays.get(name) if self._reuse else None
        if a is None or a.shape != tuple(shape) or a.dtype != dtype:
            a = cuda.device_array(shape, dtype)
            if self._reuse:
                self._arrays[name] = a
        return a

    def part(self, name):
        """The workspace of one part (a layer's direction), created on first use."""
        return self._arrays.setdefault(name, Workspace(self._reuse))
