"""Two versions of numbarnn against each other, in alternating processes.

Each round starts one process per source tree (``--a`` then ``--b``, the order swapped
every other round) that runs ``compare_torch.py`` (numbarnn against PyTorch, interleaved)
and then times estimator epochs (``partial_fit`` over 8 batches, the asv ``Epoch`` case).
After all rounds it prints, for every case, the median over rounds of each version's time,
of its ratio to PyTorch, and the ratio b / a. Both trees need their Numba cache warm: the
first round of each is run and dropped.

    python benchmarks/ab_versions.py --a OLD/src --b NEW/src [--rounds 11] [--out FILE]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent

EPOCHS = """
import json, sys, time
import numpy as np
from numbarnn import GRURegressor, LSTMRegressor, RNNRegressor
SIZES = {"S": (32, 50, 1, 32), "M": (64, 100, 8, 128)}
out = {}
for cell, cls in (("rnn", RNNRegressor), ("lstm", LSTMRegressor), ("gru", GRURegressor)):
    for size, (B, T, D, H) in SIZES.items():
        rng = np.random.default_rng(0)
        X = rng.standard_normal((8 * B, T, D), dtype=np.float32)
        y = X[:, -1, 0].copy()
        model = cls(hidden_size=H, batch_size=B, random_state=0, n_threads=2)
        model.partial_fit(X, y)
        times = []
        for _ in range(5):
            start = time.perf_counter()
            model.partial_fit(X, y)
            times.append(time.perf_counter() - start)
        out[f"{cell} {size} epoch"] = 1e3 * float(np.median(times))
json.dump(out, open(sys.argv[1], "w"))
"""


def run_one(src, sizes, repeats):
    """One process of ``src``: compare_torch's cases and the epochs, as {case: ms} and ratios."""
    env = dict(os.environ, PYTHONPATH=str(Path(src).resolve()))
    with tempfile.TemporaryDirectory() as tmp:
        cases = Path(tmp) / "cases.json"
        epochs = Path(tmp) / "epochs.json"
        subprocess.run([sys.executable, str(HERE / "compare_torch.py"), "--sizes", *sizes,
                        "--repeats", str(repeats), "--json", str(cases)],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([sys.executable, "-c", EPOCHS, str(epochs)], env=env, check=True)
        times, ratios = {}, {}
        for case in json.loads(cases.read_text())["cases"]:
            for kind in ("predict", "train_step"):
                key = f"{case['cell']} {case['size']} {kind}"
                times[key] = case[f"{kind}_ms"]
                ratios[key] = case["predict_speedup" if kind == "predict" else "train_speedup"]
        times.update(json.loads(epochs.read_text()))
    return times, ratios


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", required=True, help="source tree of version a (the baseline)")
    parser.add_argument("--b", required=True, help="source tree of version b")
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--repeats", type=int, default=7, help="compare_torch rounds a process")
    parser.add_argument("--sizes", nargs="+", default=["S", "M", "L"])
    parser.add_argument("--out", help="also write the table here")
    args = parser.parse_args()

    versions = {"a": args.a, "b": args.b}
    for src in versions.values():  # warms each tree's Numba cache; dropped
        run_one(src, args.sizes, 1)
    runs = {"a": [], "b": []}
    for round_ in range(args.rounds):
        for name in ("a", "b") if round_ % 2 == 0 else ("b", "a"):
            runs[name].append(run_one(versions[name], args.sizes, args.repeats))
        print(f"round {round_ + 1} of {args.rounds} done", file=sys.stderr, flush=True)

    lines = [f"a = {args.a}", f"b = {args.b}",
             f"{args.rounds} rounds, alternating processes; ms and ratio to PyTorch "
             "(torch / numbarnn) are medians over rounds; b/a is the median over rounds of "
             "b's time over a's time in the same round (above 1: b slower)", "",
             f"{'case':22} {'a ms':>9} {'b ms':>9} {'b/a':>6}  {'a vs torch':>10} "
             f"{'b vs torch':>10}"]
    for key in runs["a"][0][0]:
        a_ms = [times[key] for times, _ in runs["a"]]
        b_ms = [times[key] for times, _ in runs["b"]]
        ratio = statistics.median(b / a for a, b in zip(a_ms, b_ms))
        row = (f"{key:22} {statistics.median(a_ms):9.3f} {statistics.median(b_ms):9.3f} "
               f"{ratio:6.3f}")
        if key in runs["a"][0][1]:
            row += "  " + "  ".join(
                f"{statistics.median(r[key] for _, r in runs[name]):9.2f}x" for name in "ab")
        lines.append(row)
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
