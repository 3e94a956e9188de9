"""What the estimator adds to a small call: ``partial_fit`` of one batch and ``predict`` at
size S (32 sequences, 50 steps, 1 feature, 32 units), against the same train step and
prediction through :class:`~numbarnn.RecurrentNetwork` (on standardised data, reusing its
arrays, as fit does). Calls interleaved, 15 rounds of 20 calls, medians.

    python benchmarks/estimator_overhead.py [--cells lstm gru rnn] [--out FILE]
"""

import argparse
import time

import numpy as np

from numbarnn import Adam, GRURegressor, LSTMRegressor, RNNRegressor
from numbarnn.threads import limit

ESTIMATORS = {"rnn": RNNRegressor, "lstm": LSTMRegressor, "gru": GRURegressor}
B, T, D, H = 32, 50, 1, 32


def calls(cell):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((B, T, D), dtype=np.float32)
    y = rng.standard_normal(B).astype(np.float32)
    model = ESTIMATORS[cell](hidden_size=H, batch_size=B, random_state=0, n_threads=2)
    model.partial_fit(X, y).predict(X)
    net, params, optimizer = model.network_, model.params_.copy(), Adam()
    memory = net.reusing_memory()
    memory.__enter__()  # for good, as the benchmarks of the network do
    Xs = ((X - model.input_mean_) / model.input_scale_).astype(np.float32)

    def network_step():
        with limit(2):
            optimizer.step(params, net.loss_and_grad(params, Xs, y[:, None])[1])

    def network_predict():
        with limit(2):
            net.predict(params, Xs)

    network_step.memory = memory
    return {"network step": network_step, "partial_fit": lambda: model.partial_fit(X, y),
            "network predict": network_predict, "predict": lambda: model.predict(X)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", nargs="+", default=list(ESTIMATORS))
    parser.add_argument("--out")
    args = parser.parse_args()
    lines = ["| cell | network step ms | partial_fit ms | ratio | network predict ms | "
             "predict ms | ratio |", "|---|---|---|---|---|---|---|"]
    for cell in args.cells:
        functions = calls(cell)
        times = {name: [] for name in functions}
        for _ in range(15):
            for name, f in functions.items():
                start = time.perf_counter()
                for _ in range(20):
                    f()
                times[name].append((time.perf_counter() - start) / 20 * 1e3)
        ms = {name: float(np.median(t)) for name, t in times.items()}
        lines.append(f"| {cell} | {ms['network step']:.3f} | {ms['partial_fit']:.3f} | "
                     f"{ms['partial_fit'] / ms['network step']:.2f} | "
                     f"{ms['network predict']:.3f} | {ms['predict']:.3f} | "
                     f"{ms['predict'] / ms['network predict']:.2f} |")
    print("\n".join(lines))
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
