"""The performance page's tables, written as reStructuredText from the files in
``benchmarks/results/`` each time the site is built (conf.py reads the files and writes what
these functions return under ``docs/generated/``).

Each function takes a parsed result file and its name and returns the lines of an
``.rst.inc`` file; none reads or writes files itself.
"""

import re
import statistics

_PHRASES = {"predict": "for a prediction", "forward pass": "for a forward pass",
            "train step": "for a train step"}


def list_table(title, header, rows):
    """A ``list-table`` with one header row."""
    lines = [f".. list-table:: {title}", "   :header-rows: 1", ""]
    for row in [header] + rows:
        lines.append(f"   * - {row[0]}")
        lines.extend(f"     - {cell}" for cell in row[1:])
    return lines + [""]


def _ms(value):
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def newest(runs):
    """The (name, run) of the newest of ``runs`` ({file name: parsed run}): by the run's
    date, then the time it was recorded, then the file name."""
    return max(runs.items(), key=lambda item: (item[1]["date"], item[1].get("recorded", ""),
                                               item[0]))


def ratio_summary(run, name, operations, peer):
    """A headline and a compact table of ``peer``'s time over numbarnn's, a row per cell and
    operation and a column per size; ``operations`` pairs each operation's name with its
    key in the run's cases."""
    shapes = {case["size"]: tuple(case.get(k) for k in "BTDH") for case in run["cases"]}
    sizes = list(shapes)
    cells = list(dict.fromkeys(case["cell"] for case in run["cases"]))
    ratio = {(case["cell"], key, case["size"]): case[key] for case in run["cases"]
             for _, key in operations}

    def span(key):
        values = [v for (_, k, _), v in ratio.items() if k == key]
        return f"{min(values):.2f} to {max(values):.2f}"

    named = ", ".join(size if None in shape else f"{size} {shape}"
                      for size, shape in shapes.items())
    spans = " and ".join(f"{span(key)} {_PHRASES[operation]}" for operation, key in operations)
    rows = [[cell.upper(), operation] + [f"{ratio[cell, key, size]:.2f}"
                                         if (cell, key, size) in ratio else "—"
                                         for size in sizes]
            for cell in cells for operation, key in operations]
    return [f"{peer}'s time over numbarnn's (above 1: numbarnn is faster) is {spans}, over "
            f"the cells and the sizes (batch, steps, features, hidden units) "
            f"{named}; "
            f"float32, recorded on "
            f"{run['date']} (``benchmarks/results/{name}``).", ""] + list_table(
        f"{peer}'s time / numbarnn's, same run (above 1: numbarnn is faster)",
        ["cell", "operation"] + sizes, rows)


def cpu_summary(run, name):
    """The headline and compact table of a ``compare_torch.py`` run."""
    return ([f"An {run['machine']} machine, {run['threads']} threads:", ""]
            + ratio_summary(run, name, (("predict", "predict_speedup"),
                                        ("train step", "train_speedup")), "PyTorch"))


def cpu_full(run, name):
    """Every case of a ``compare_torch.py`` run, in milliseconds and ratios."""
    rows, slower = [], []
    for case in run["cases"]:
        rows.append([case["cell"].upper(), case["size"],
                     _ms(case["predict_ms"]), _ms(case["torch_predict_ms"]),
                     f"{case['predict_speedup']:.2f}",
                     _ms(case["train_step_ms"]), _ms(case["torch_train_step_ms"]),
                     f"{case['train_speedup']:.2f}"])
        for what, key in (("predict", "predict_speedup"), ("train step", "train_speedup")):
            if case[key] < 1:
                slower.append(f"{case['cell'].upper()} {what} at {case['size']} "
                              f"({case[key]:.2f})")
    lines = [
        f"Recorded on {run['date']} (``benchmarks/results/{name}``): "
        f"{run['machine']}, {run['threads']} threads, numba {run['numba']}, "
        f"PyTorch {run['torch']}, NumPy {run['numpy']}, median of {run['repeats']} "
        f"interleaved rounds (fewer at L); NumPy's float32 GEMM ran at "
        f"{run['sgemm_gflops']:.0f} GFLOP/s on this machine.",
        "",
    ] + list_table(
        "numbarnn and PyTorch on the CPU, float32 (ratio: median over rounds of PyTorch "
        "time / numbarnn time in the same round; above 1: numbarnn is faster)",
        ["cell", "size", "predict ms", "PyTorch predict ms", "predict ratio",
         "train step ms", "PyTorch train step ms", "train step ratio"], rows)
    if slower:
        return lines + ["In this run numbarnn was slower than PyTorch (ratio below 1) in: "
                        + "; ".join(slower) + "."]
    return lines + ["In this run numbarnn was not slower than PyTorch in any case."]


def gpu_summaries(runs):
    """For each GPU in ``runs`` ({file name: parsed ``compare_cuda.py`` run}), the headline
    and compact table of its newest run against cuDNN."""
    if not runs:
        return ["No GPU timings are recorded yet: the CUDA backend (:doc:`guide/gpu`) is "
                "tested for correctness under Numba's CUDA simulator, and every kernel is "
                "compiled by numba-cuda in the tests, which says nothing about speed. "
                ":doc:`performance-method` says how to measure it."]
    lines = []
    for device in sorted({run["device"] for run in runs.values()}):
        name, run = newest({n: r for n, r in runs.items() if r["device"] == device})
        cudnn = run["cudnn"]  # 91900 is 9.19.0
        lines += [f"On the {device} (numba {run['numba']}, cuDNN {cudnn // 10000}."
                  f"{cudnn % 10000 // 100}.{cudnn % 100} through PyTorch {run['torch']}):", ""]
        lines += ratio_summary(run, name, (("forward pass", "forward_speedup"),
                                           ("train step", "train_speedup")), "cuDNN")
    return lines


def compile_table(text, name):
    """The first-fit table of a ``benchmarks/compile_time.py`` report (its Markdown table:
    cells, import s, first fit + predict s, second process s)."""
    rows = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"[\d.]+", cells[2]):
            label = "all three" if cells[0] == "all" else cells[0].upper()
            rows.append([label, cells[2], cells[3]])
    if not rows:
        raise ValueError(f"{name} has no table of first fits")
    return [f"Measured with ``benchmarks/compile_time.py`` (``benchmarks/results/{name}``): a "
            "new process fits and predicts a tiny model, float32, default options.",
            ""] + list_table(
        "First fit + predict in a new process, seconds",
        ["cells", "empty cache (compiling)", "cache warm (a second process)"], rows)


def accuracy_tables(run, name):
    """Test RMSE and fit seconds per model and task of a ``benchmarks/accuracy.py`` run."""
    tasks = list(dict.fromkeys(r["task"] for r in run["runs"]))
    models = list(dict.fromkeys(r["model"] for r in run["runs"]))

    def cell(task, model, key):
        values = [r[key] for r in run["runs"] if r["task"] == task and r["model"] == model]
        if not values:
            return "—"
        mean, sd = statistics.mean(values), statistics.pstdev(values)
        return f"{mean:.3g} ± {sd:.2g}" if key == "rmse" else f"{mean:.2f}"

    changed = {k: v for k, v in run["params"].items() if k != "n_threads"}
    lines = [f"Recorded on {run['date']} (``benchmarks/results/{name}``), "
             f"{run['seeds']} seeds, numba {run['numba']}, PyTorch {run['torch']}; numbarnn "
             f"with its default parameters{f' except {changed}' if changed else ''}."
             + (f" {run['note']}" if "note" in run else ""), ""]
    for key, title in (("rmse", "Test RMSE (mean ± sd over seeds; lower is better)"),
                       ("seconds", "Fit seconds (mean over seeds)")):
        lines += list_table(title, ["model"] + tasks,
                            [[model] + [cell(task, model, key) for task in tasks]
                             for model in models])
    return lines
