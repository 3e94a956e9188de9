"""Seconds a new machine spends compiling: the first fit + predict of each cell in a new
process with an empty Numba cache, then the same in a second process with the cache warm,
and where the compile time goes (Numba's compile events, exclusive seconds per function).

Each model is tiny (16 sequences, 10 steps, hidden 4, 2 epochs, float32, default options),
so the run itself takes milliseconds and the first fit's time is compilation. "all" fits
the three cells in one process (what they share compiles once).

    python benchmarks/compile_time.py [--cells rnn lstm gru all] [--top 12] [--out FILE]
"""

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import json, sys, time, warnings
start = time.perf_counter()
import numpy as np
from numba.core import event
import numbarnn
seconds_import = time.perf_counter() - start
names = {"rnn": "RNNRegressor", "lstm": "LSTMRegressor", "gru": "GRURegressor"}
cells = list(names) if sys.argv[1] == "all" else [sys.argv[1]]
X = np.random.default_rng(0).standard_normal((16, 10, 1)).astype(np.float32)
stack, spans = [], []

class Spans(event.Listener):
    def on_start(self, ev):
        f = ev.data["dispatcher"].py_func
        stack.append((time.perf_counter(), f"{f.__module__}.{f.__qualname__}"))

    def on_end(self, ev):
        begun, name = stack.pop()
        spans.append((name, time.perf_counter() - begun, len(stack)))

fits = {}
warnings.simplefilter("ignore")
with event.install_listener("numba:compile", Spans()):
    for cell in cells:
        begun = time.perf_counter()
        getattr(numbarnn, names[cell])(hidden_size=4, max_iter=2).fit(X, X[:, -1, 0]).predict(X)
        fits[cell] = time.perf_counter() - begun
json.dump({"import": seconds_import, "fits": fits, "spans": spans}, sys.stdout)
"""


def run(cell, cache):
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    out = subprocess.run([sys.executable, "-c", CHILD, cell], env=env, capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)


def exclusive(spans):
    """Seconds per function, less the compiles nested in it (spans end children first)."""
    below = collections.defaultdict(float)
    totals = collections.defaultdict(float)
    for name, seconds, depth in spans:
        own = seconds - below.pop(depth + 1, 0.0)
        below[depth] += seconds
        totals[name] += own
    return totals


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", nargs="+", default=["rnn", "lstm", "gru", "all"])
    parser.add_argument("--top", type=int, default=12, help="functions listed per cell")
    parser.add_argument("--out", help="also write the report here")
    args = parser.parse_args()
    lines = ["| cells | import s | first fit + predict s (compiling) | second process s |",
             "|---|---|---|---|"]
    details = []
    for cell in args.cells:
        with tempfile.TemporaryDirectory() as cache:
            cold, warm = run(cell, cache), run(cell, cache)
        lines.append(f"| {cell} | {cold['import']:.2f} | {sum(cold['fits'].values()):.2f} | "
                     f"{sum(warm['fits'].values()):.2f} |")
        totals = exclusive(cold["spans"])
        details += [f"\n{cell}: {len(cold['spans'])} functions compiled, "
                    f"{sum(totals.values()):.1f} s; the most expensive (exclusive s):"]
        details += [f"  {seconds:6.2f}  {name}" for name, seconds in
                    sorted(totals.items(), key=lambda item: -item[1])[: args.top]]
    report = "\n".join(lines + details)
    print(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report + "\n")


if __name__ == "__main__":
    main()
