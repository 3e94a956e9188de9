"""numbarnn against PyTorch on the CPU, in one process, interleaved, median of repeats.

For each cell (RNN, LSTM, GRU) and reference size S, M, L it times predict (forward)
and a train step (forward + BPTT + Adam on one batch, last-step MSE head) in both
libraries with the same threads, after warm-up, in rounds that time every case once
(A then B, each call after untimed ones of its own), and prints the median times and
the median of their ratio in each round (torch / numbarnn: above 1 means numbarnn is
faster). It also measures this machine's float32 GEMM rate with NumPy and writes
everything to ``benchmarks/results/cpu-<date>[-<tag>].json``.

    python benchmarks/compare_torch.py [--sizes S M L] [--repeats 31] [--threads 2] [--tag run1]
                                       [--json FILE]
"""

import argparse
import datetime
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np

SIZES = {"S": (32, 50, 1, 32), "M": (64, 100, 8, 128), "L": (128, 200, 32, 256)}
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def sgemm_gflops(n=2048, repeats=5):
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    a @ a
    best = min(_time(lambda: a @ a) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _time(f):
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


def train_step_flops(cell, B, T, D, H):
    """Multiply-adds of the GEMMs in one train step, times two (FLOPs)."""
    G = GATES[cell] * H
    forward = B * T * G * (D + H)
    return 2 * 3 * forward  # forward, and backward's two products of the same size


def numbarnn_case(cell, B, T, D, H, threads):
    from numbarnn import Adam, GRUCell, LSTMCell, RecurrentNetwork, RNNCell
    from numbarnn.threads import limit

    net = RecurrentNetwork({"rnn": RNNCell(), "lstm": LSTMCell(), "gru": GRUCell()}[cell], D, H)
    params = net.init_params(0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((B, T, D), dtype=np.float32)
    y = rng.standard_normal((B, 1), dtype=np.float32)
    optimizer = Adam()
    # for good, as fit does for all its steps; the context manager must stay referenced:
    # collected, it would run its exit and stop the reuse
    memory = net.reusing_memory()
    memory.__enter__()

    def predict():
        with limit(threads):
            net.predict(params, X)

    def step():
        with limit(threads):
            grad = net.loss_and_grad(params, X, y)[1]
            optimizer.step(params, grad)

    step.memory = memory
    return predict, step


def torch_case(cell, B, T, D, H, threads):
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    rnn = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
        D, H, batch_first=True)
    head = torch.nn.Linear(H, 1)
    params = list(rnn.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(params)
    X = torch.randn(B, T, D)
    y = torch.randn(B, 1)

    def forward():
        out = rnn(X)[1]
        return head((out[0] if isinstance(out, tuple) else out)[-1])

    def predict():
        with torch.no_grad():
            forward()

    def step():
        optimizer.zero_grad()
        torch.mean((forward() - y) ** 2).backward()
        optimizer.step()

    return predict, step


def write_results(results, kind, tag=None):
    """Write ``results`` to ``benchmarks/results/<kind>-<date>[-<tag>].json``; return the path."""
    name = f"{kind}-{results['date']}" + (f"-{tag}" if tag else "")
    out = Path(__file__).parent / "results" / f"{name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    return out


def interleaved(pairs, warmup=3):
    """Median times of each pair (a, b, repeats), timed in rounds, and their paired ratio.

    Every round times each pair that still needs repeats once, a then b. A slow spell
    of a shared machine (they last seconds to minutes here) then falls on every case
    alike, where timing one case's repeats back to back gave the same LSTM train step
    at M ratios of 0.97x and 2.45x in two runs. The ratio of a pair is the median over
    rounds of b's time over a's in the same round, which follows the machine's speed
    from minute to minute (the same PyTorch LSTM predict at S took 0.54 ms in one
    minute and 1.04 ms in the next).

    Each timed call follows untimed calls of the same function for at least 2 ms, so
    that it runs in its library's steady state: both libraries' OpenMP threads spin
    for a while after a call (GNU OpenMP's default is 300,000 spins), and a call timed
    right after the other library's ran at half speed (an LSTM predict at S: 0.53 ms
    after a PyTorch call, 0.26-0.29 ms after its own).

    Returns
    -------
    list of (median a, median b, median of b / a)
    """
    for a, b, _ in pairs:
        for _ in range(warmup):
            a(), b()
    times = [([], []) for _ in pairs]
    for round_ in range(max(n for _, _, n in pairs)):
        for (a, b, n), (ta, tb) in zip(pairs, times):
            if round_ < n:
                ta.append(_steady_time(a))
                tb.append(_steady_time(b))
    return [(statistics.median(ta), statistics.median(tb),
             statistics.median(y / x for x, y in zip(ta, tb))) for ta, tb in times]


def _steady_time(f, settle=0.002):
    start = time.perf_counter()
    f()
    while time.perf_counter() - start < settle:
        f()
    return _time(f)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--cells", nargs="+", default=list(GATES), choices=list(GATES))
    parser.add_argument("--repeats", type=int, default=31)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tag", help="suffix of the results file, to keep several runs of a day")
    parser.add_argument("--json", help="write the results here instead of benchmarks/results/")
    args = parser.parse_args()

    import numba
    import torch

    gflops = sgemm_gflops()
    now = datetime.datetime.now()
    results = {"date": now.date().isoformat(), "recorded": now.isoformat(timespec="seconds"),
               "machine": platform.processor() or
               platform.machine(), "threads": args.threads, "numba": numba.__version__,
               "torch": torch.__version__, "numpy": np.__version__, "repeats": args.repeats,
               "sgemm_gflops": gflops, "cases": []}
    print(f"numpy float32 GEMM 2048^3: {gflops:.0f} GFLOP/s; {args.threads} threads; "
          f"median of {args.repeats} rounds, A and B interleaved\n")
    print(f"{'cell':5} {'size':4} {'predict ms':>21} {'ratio':>6}   {'train step ms':>21} "
          f"{'ratio':>6}  {'GFLOP/s':>7}")
    keys = [(size, cell) for size in args.sizes for cell in args.cells]
    pairs = []
    for size, cell in keys:
        repeats = args.repeats if size != "L" else max(5, args.repeats // 3)
        ours = numbarnn_case(cell, *SIZES[size], args.threads)
        theirs = torch_case(cell, *SIZES[size], args.threads)
        pairs += [(ours[0], theirs[0], repeats), (ours[1], theirs[1], repeats)]
    medians = interleaved(pairs)
    for k, (size, cell) in enumerate(keys):
        B, T, D, H = SIZES[size]
        (p_ours, p_torch, p_ratio), (s_ours, s_torch, s_ratio) = medians[2 * k], medians[2 * k + 1]
        rate = train_step_flops(cell, B, T, D, H) / s_ours / 1e9
        case = {"cell": cell, "size": size, "B": B, "T": T, "D": D, "H": H,
                "predict_ms": p_ours * 1e3, "torch_predict_ms": p_torch * 1e3,
                "predict_speedup": p_ratio, "train_step_ms": s_ours * 1e3,
                "torch_train_step_ms": s_torch * 1e3, "train_speedup": s_ratio,
                "train_gflops": rate}
        results["cases"].append(case)
        print(f"{cell:5} {size:4} {p_ours * 1e3:9.2f} vs {p_torch * 1e3:8.2f} "
              f"{p_ratio:6.2f}x  {s_ours * 1e3:9.2f} vs {s_torch * 1e3:8.2f} "
              f"{s_ratio:6.2f}x  {rate:7.1f}", flush=True)
    # the peak, measured again after the cases: the larger of the two (the machine is shared)
    results["sgemm_gflops"] = max(gflops, sgemm_gflops())
    for case in results["cases"]:
        case["train_share_of_sgemm"] = case["train_gflops"] / results["sgemm_gflops"]
    print(f"\nnumpy float32 GEMM 2048^3 after the cases: {results['sgemm_gflops']:.0f} GFLOP/s "
          "(the larger)")
    if args.json:
        out = Path(args.json)
        out.write_text(json.dumps(results, indent=2) + "\n")
    else:
        out = write_results(results, "cpu", args.tag)
    print("\nms: medians over rounds; ratio: median over rounds of torch time / numbarnn time "
          f"in the same round (above 1: numbarnn faster). Written to {out}")


if __name__ == "__main__":
    main()
