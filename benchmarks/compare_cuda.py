"""numbarnn's CUDA backend against cuDNN (through PyTorch) on one GPU, median of repeats.

Before timing, it checks the GPU against the CPU path (forward and gradient of every
cell, float64 and float32). Then, for each cell and size S, M, L, XL, it times the
forward pass and a train step (forward + BPTT + Adam on one batch, last-step MSE head)
on device-resident data in both libraries, synchronising the device after each call,
interleaved, and writes ``benchmarks/results/gpu-<date>.json`` with the device name.

    python benchmarks/compare_cuda.py [--sizes S M L XL] [--repeats 20]
"""

import argparse
import datetime
from pathlib import Path

import numpy as np
from compare_torch import interleaved, write_results  # same directory: the same method

SIZES = {"S": (32, 50, 1, 32), "M": (64, 100, 8, 128), "L": (128, 200, 32, 256),
         "XL": (256, 500, 64, 512)}
CELLS = ("rnn", "lstm", "gru")


def _network(cell, D, H, device="cuda"):
    from numbarnn import GRUCell, LSTMCell, RecurrentNetwork, RNNCell

    spec = {"rnn": RNNCell(), "lstm": LSTMCell(), "gru": GRUCell()}[cell]
    return RecurrentNetwork(spec, D, H, device=device)


def check_against_cpu():
    """Largest relative difference GPU vs CPU of the loss gradient, per cell and dtype."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((8, 12, 3)), rng.standard_normal((8, 1))
    lengths = rng.integers(1, 13, 8)
    worst = {}
    for cell in CELLS:
        for dtype in (np.float64, np.float32):
            cpu, gpu = _network(cell, 3, 16, "cpu"), _network(cell, 3, 16)
            params = cpu.init_params(0, dtype)
            _, g_cpu = cpu.loss_and_grad(params, X, y, lengths)
            _, g_gpu = gpu.loss_and_grad(params, X, y, lengths)
            worst[f"{cell}-{np.dtype(dtype).name}"] = float(
                np.max(np.abs(g_gpu - g_cpu)) / np.max(np.abs(g_cpu)))
    return worst


def numbarnn_case(cell, B, T, D, H):
    from numba import cuda

    from numbarnn import Adam, training

    net = _network(cell, D, H)
    params = net.init_params(0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((B, T, D), dtype=np.float32)
    y = rng.standard_normal((B, 1), dtype=np.float32)
    lengths = np.full(B, T, np.int64)
    epochs = training.epochs(net, params, Adam(), (X, y, lengths, None))
    run_epoch = epochs.__enter__()  # for the process's life: data and state stay on the GPU
    batch = net.batch(X, lengths)
    d_params = net.backend.asarray(params)

    def forward():
        net._forward(d_params, batch, None, keep=False)
        cuda.synchronize()

    def step():  # one epoch of one batch: gather, forward, loss, BPTT, clip, Adam
        run_epoch(B, rng, 1.0, 1, shuffle=False)

    step.keep_alive = epochs  # the context manager's exit would end the fit's state
    return forward, step


def torch_case(cell, B, T, D, H):
    import torch

    torch.manual_seed(0)
    dev = torch.device("cuda")
    rnn = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
        D, H, batch_first=True).to(dev)
    head = torch.nn.Linear(H, 1).to(dev)
    optimizer = torch.optim.Adam(list(rnn.parameters()) + list(head.parameters()))
    X, y = torch.randn(B, T, D, device=dev), torch.randn(B, 1, device=dev)

    def output():
        out = rnn(X)[1]
        return head((out[0] if isinstance(out, tuple) else out)[-1])

    def forward():
        with torch.no_grad():
            output()
        torch.cuda.synchronize()

    def step():
        optimizer.zero_grad()
        torch.mean((output() - y) ** 2).backward()
        optimizer.step()
        torch.cuda.synchronize()

    return forward, step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--cells", nargs="+", default=list(CELLS), choices=list(CELLS))
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    import numba
    import torch
    from numba import cuda

    name = cuda.get_current_device().name
    results = {"date": datetime.date.today().isoformat(),
               "device": name.decode() if isinstance(name, bytes) else name,
               "numba": numba.__version__, "torch": torch.__version__,
               "cudnn": torch.backends.cudnn.version(), "repeats": args.repeats,
               "gpu_vs_cpu_gradient": check_against_cpu(), "cases": []}
    print(f"{results['device']}; GPU vs CPU gradients, largest relative difference:")
    for key, value in results["gpu_vs_cpu_gradient"].items():
        print(f"  {key:14} {value:.2e}")
    print(f"\n{'cell':5} {'size':4} {'forward ms':>21} {'ratio':>6}   {'train step ms':>21} "
          f"{'ratio':>6}")
    for size in args.sizes:
        B, T, D, H = SIZES[size]
        for cell in args.cells:
            ours, theirs = numbarnn_case(cell, B, T, D, H), torch_case(cell, B, T, D, H)
            (f_ours, f_torch, f_ratio), (s_ours, s_torch, s_ratio) = interleaved(
                [(ours[0], theirs[0], args.repeats), (ours[1], theirs[1], args.repeats)])
            results["cases"].append({
                "cell": cell, "size": size, "B": B, "T": T, "D": D, "H": H,
                "forward_ms": f_ours * 1e3, "cudnn_forward_ms": f_torch * 1e3,
                "forward_speedup": f_ratio, "train_step_ms": s_ours * 1e3,
                "cudnn_train_step_ms": s_torch * 1e3, "train_speedup": s_ratio})
            print(f"{cell:5} {size:4} {f_ours * 1e3:9.2f} vs {f_torch * 1e3:8.2f} "
                  f"{f_ratio:6.2f}x  {s_ours * 1e3:9.2f} vs {s_torch * 1e3:8.2f} "
                  f"{s_ratio:6.2f}x", flush=True)
    out = write_results(results, "gpu")
    print("\nratio: median over rounds of cuDNN time / numbarnn time in the same round "
          f"(above 1: numbarnn faster). Written to "
          f"{out.resolve().relative_to(Path(__file__).resolve().parents[1])}")


if __name__ == "__main__":
    main()
