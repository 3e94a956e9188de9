"""Compiles every recorded CUDA kernel signature to PTX with numba-cuda, with no GPU.

Run by tests/test_cuda_compile.py (not under the simulator): reads the JSON of
record.py and compiles each kernel for every compute capability given. Prints one line
per failure and exits 1 if any failed.

numba-cuda asks the current device for its compute capability when a kernel calls device
functions (``numba.cuda.dispatcher`` calls ``get_current_device()`` in
``compile_device``); without a driver that fails, so a stand-in answers it here.
"""

import importlib
import json
import sys
import traceback

from numba import cuda, types
from numba.cuda import api, dispatcher


class _StandIn:
    """The current device, as far as numba-cuda's compiler asks (no GPU is needed)."""

    def __init__(self, cc):
        self.compute_capability = cc


def _numba_type(spec):
    if spec[0] == "array":
        _, dtype, ndim, layout = spec
        return types.Array(getattr(types, dtype), ndim, layout)
    return {"bool": types.boolean}.get(spec[1]) or getattr(types, spec[1])


def main(path, capabilities):
    with open(path) as f:
        launches = json.load(f)
    failures = 0
    for cc in capabilities:
        api.get_current_device = dispatcher.get_current_device = lambda cc=cc: _StandIn(cc)
        for module, name, arguments in launches:
            kernel = getattr(importlib.import_module(module), name)
            signature = tuple(_numba_type(a) for a in arguments)
            try:
                ptx, _ = cuda.compile_ptx(kernel.py_func, signature, cc=cc)
                assert ".entry" in ptx
            except Exception:  # reported with the kernel and signature, then counted
                failures += 1
                print(f"FAILED sm_{cc[0]}{cc[1]} {module}.{name}{signature}")
                print(traceback.format_exc(limit=-3))
    print(f"compiled {len(launches)} kernel signatures for {len(capabilities)} compute "
          f"capabilities, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], [tuple(int(c) for c in cc.split(".")) for cc in sys.argv[2:]]))
