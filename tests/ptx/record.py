"""Records the argument types of every CUDA kernel launch of fits on device='cuda'.

Run under the CUDA simulator (NUMBA_ENABLE_CUDASIM=1) by tests/test_cuda_compile.py; writes
JSON to the path given: a list of [module, kernel name, [argument type, ...]], each type
["array", dtype, ndim, layout] or ["scalar", name]. Every cell and variant, both dtypes,
the persistent and the per-step paths, stacked, bidirectional, dropout, per-step targets, token ids,
both optimizers and the classifiers' losses: whatever a fit launches, the real compiler is
then asked to compile.
A kernel run in several configurations gives the same signature whatever the variant.
"""

import json
import sys
import warnings

import numba
import numpy as np
from numba.cuda.simulator.kernel import FakeCUDAKernel
from sklearn.base import ClassifierMixin

from numbarnn import GRUClassifier, GRURegressor, LSTMClassifier, LSTMRegressor, RNNRegressor
from numbarnn.backends.cuda import recurrence

# A cell's variants (relu, peephole, coupled, reset before) are runtime arguments of the
# same kernels, so one signature compiles them all; the cases still mix every variant with
# the options that change what is launched (layers, directions, dropout, per-step targets,
# sample weights, the optimizers).
CASES = [
    (RNNRegressor, dict(nonlinearity="relu", bidirectional=True, num_layers=2, dropout=0.5,
                        solver="sgd", momentum=0.9, nesterov=True)),
    (LSTMRegressor, dict(peephole=True, coupled=True, return_sequences=True)),
    (GRURegressor, dict(reset_after=False, bidirectional=True, solver="adamw")),
    (LSTMClassifier, dict()),  # two classes: binary cross-entropy
    # three classes per step from token ids: cross-entropy and the embedding
    (GRUClassifier, dict(return_sequences=True, vocab_size=4, embedding_dim=2)),
]


def _type(value):
    if hasattr(value, "copy_to_host"):
        value = value._ary
    typ = numba.typeof(value)
    if isinstance(typ, numba.types.Array):
        return ["array", str(typ.dtype), typ.ndim, typ.layout]
    return ["scalar", str(typ)]


def main(path):
    seen = set()
    launch = FakeCUDAKernel.__call__

    def recording(self, *args):
        if not self._device:
            fn = self.fn
            seen.add(json.dumps([fn.__module__, fn.__name__, [_type(a) for a in args]]))
        return launch(self, *args)

    FakeCUDAKernel.__call__ = recording
    warnings.simplefilter("ignore")  # one epoch does not converge
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 2, 2))
    ids = np.array([[0, 3], [2, 0], [1, 1]])
    lengths = np.array([2, 1, 2])
    for per_step in (False, True):
        recurrence.PER_STEP_HIDDEN = 1 if per_step else 10**9
        for cls, options in CASES:
            y = rng.standard_normal((3, 2) if options.get("return_sequences") else 3)
            if issubclass(cls, ClassifierMixin):
                y = np.array([[0, 1], [2, 0], [1, 2]]) if options else np.array([0, 1, 1])
            # per-step sample weights for the per-step case: the weighted loss kernel
            weights = (np.abs(y) + 1.0) if options.get("return_sequences") else None
            for dtype in ("float32", "float64"):
                model = cls(hidden_size=2, max_iter=1, batch_size=2, dtype=dtype, device="cuda",
                            random_state=0, **options)
                inputs = ids if "vocab_size" in options else X
                model.fit(inputs, y, lengths, sample_weight=weights).predict(inputs, lengths)
    with open(path, "w") as f:
        json.dump([json.loads(s) for s in sorted(seen)], f, indent=0)


if __name__ == "__main__":
    main(sys.argv[1])
