"""Sphinx configuration of numbarnn's documentation.

Build: python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

import importlib
import inspect
import json
import re
import statistics
from pathlib import Path

import matplotlib

matplotlib.use("agg")

from sphinx.util import logging  # noqa: E402

import numbarnn  # noqa: E402

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
logger = logging.getLogger(__name__)

project = "numbarnn"
copyright = "the numbarnn developers"
release = numbarnn.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build"]
default_role = "code"

# --- API reference ------------------------------------------------------------------

autosummary_generate = True
autodoc_typehints = "none"
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# The public API: the package's ``__all__`` (the estimators and the engine, re-exported
# from their modules) and the public submodules' names, their ``__all__`` or, without
# one, every function and class defined in the module. Each must have an entry in the
# API reference; ``check_api_coverage`` below turns a missing one into a warning, which
# the -W build makes an error.
PUBLIC_MODULES = [
    "numbarnn",
    "numbarnn.cells",
    "numbarnn.datasets",
    "numbarnn.diagnostics",
    "numbarnn.exceptions",
    "numbarnn.io",
    "numbarnn.parallel",
    "numbarnn.preprocessing",
]

# scikit-learn's metadata-routing and output-container methods, inherited by every
# estimator: their docstrings point into scikit-learn's own documentation.
SKLEARN_MACHINERY = re.compile(r"set_\w+_request|get_metadata_routing|set_output")


def skip_sklearn_machinery(app, what, name, obj, skip, options):
    return True if SKLEARN_MACHINERY.fullmatch(name) else None


# --- Gallery --------------------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",  # only these run; the others are shown
    "abort_on_example_error": True,
    "within_subsection_order": "ExampleTitleSortKey",
    "image_scrapers": ("matplotlib",),
    "doc_module": ("numbarnn",),
    "backreferences_dir": "generated/backreferences",
    "log_level": {"backreference_missing": "debug"},
    "remove_config_comments": True,
    "min_reported_time": 0,
}

# --- HTML -----------------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"numbarnn {release}"
html_show_sourcelink = False
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}


# --- Build-time content ----------------------------------------------------------------

def _ms(value):
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def _results(pattern, name, missing):
    """The generated file ``name`` and the result files matching ``pattern``, sorted; with
    none, the file says ``missing`` and a warning is logged."""
    out = DOCS / "generated" / name
    out.parent.mkdir(exist_ok=True)
    files = sorted((ROOT / "benchmarks" / "results").glob(pattern))
    if not files:
        logger.warning(f"no benchmarks/results/{pattern} to show on the performance page")
        out.write_text(f"{missing} are recorded.\n")
    return out, files


def write_benchmark_table(app):
    """Write the newest ``benchmarks/results/cpu-*.json`` as a table for performance.rst."""
    out, files = _results("cpu-*.json", "benchmark_cpu.rst.inc", "No CPU benchmark results")
    if not files:
        return
    runs = {path: json.loads(path.read_text()) for path in files}
    path = max(files, key=lambda p: (runs[p]["date"], runs[p].get("recorded", ""), p.name))
    run = runs[path]
    rows = []
    slower = []
    for case in run["cases"]:
        size = f"{case['size']} ({case['B']}, {case['T']}, {case['D']}, {case['H']})"
        rows.append([case["cell"].upper(), size,
                     _ms(case["predict_ms"]), _ms(case["torch_predict_ms"]),
                     f"{case['predict_speedup']:.2f}",
                     _ms(case["train_step_ms"]), _ms(case["torch_train_step_ms"]),
                     f"{case['train_speedup']:.2f}"])
        for what, key in (("predict", "predict_speedup"), ("train step", "train_speedup")):
            if case[key] < 1:
                slower.append(f"{case['cell'].upper()} {what} at {case['size']} "
                              f"({case[key]:.2f})")
    header = ["cell", "size (B, T, D, H)", "predict numbarnn ms", "predict PyTorch ms",
              "predict ratio", "train step numbarnn ms", "train step PyTorch ms",
              "train step ratio"]
    lines = [
        f"Recorded on {run['date']} (``benchmarks/results/{path.name}``): "
        f"{run['machine']}, {run['threads']} threads, numba {run['numba']}, "
        f"PyTorch {run['torch']}, NumPy {run['numpy']}, median of {run['repeats']} "
        f"interleaved rounds (fewer at L); NumPy's float32 GEMM ran at "
        f"{run['sgemm_gflops']:.0f} GFLOP/s on this machine.",
        "",
        ".. list-table:: numbarnn and PyTorch on the CPU, float32 "
        "(ratio: median over rounds of PyTorch time / numbarnn time in the same round; "
        "above 1: numbarnn is faster)",
        "   :header-rows: 1",
        "",
    ]
    for row in [header] + rows:
        lines.append(f"   * - {row[0]}")
        lines.extend(f"     - {cell}" for cell in row[1:])
    lines.append("")
    if slower:
        lines.append("In this run numbarnn was slower than PyTorch (ratio below 1) in: "
                     + "; ".join(slower) + ".")
    else:
        lines.append("In this run numbarnn was not slower than PyTorch in any case.")
    text = "\n".join(lines) + "\n"
    if not out.exists() or out.read_text() != text:
        out.write_text(text)


def write_accuracy_table(app):
    """Write the newest ``benchmarks/results/accuracy-*.json`` (``benchmarks/accuracy.py``)
    as tables of test RMSE and fit seconds for performance.rst."""
    out, files = _results("accuracy-*.json", "accuracy.rst.inc", "No accuracy results")
    if not files:
        return
    path = files[-1]
    run = json.loads(path.read_text())
    tasks = list(dict.fromkeys(r["task"] for r in run["runs"]))
    models = list(dict.fromkeys(r["model"] for r in run["runs"]))

    def cell(task, model, key):
        values = [r[key] for r in run["runs"] if r["task"] == task and r["model"] == model]
        if not values:
            return "—"
        mean, sd = sum(values) / len(values), statistics.pstdev(values)
        return f"{mean:.3g} ± {sd:.2g}" if key == "rmse" else f"{mean:.2f}"

    lines = [f"Recorded on {run['date']} (``benchmarks/results/{path.name}``), "
             f"{run['seeds']} seeds, numba {run['numba']}, PyTorch {run['torch']}; numbarnn "
             f"with its default parameters{_except(run['params'])}."
             + (f" {run['note']}" if "note" in run else ""),
             ""]
    for key, title in (("rmse", "Test RMSE (mean ± sd over seeds; lower is better)"),
                       ("seconds", "Fit seconds (mean over seeds)")):
        lines += [f".. list-table:: {title}", "   :header-rows: 1", "",
                  "   * - model"] + [f"     - {task}" for task in tasks]
        for model in models:
            lines.append(f"   * - {model}")
            lines.extend(f"     - {cell(task, model, key)}" for task in tasks)
        lines.append("")
    text = "\n".join(lines) + "\n"
    if not out.exists() or out.read_text() != text:
        out.write_text(text)


def _except(params):
    changed = {k: v for k, v in params.items() if k != "n_threads"}
    return f" except {changed}" if changed else ""


def _documented_object(fullname):
    module, _, attribute = fullname.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError):
        return None


def public_objects():
    """(full name, object) of every public name of the modules in PUBLIC_MODULES."""
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        names = getattr(module, "__all__", None)
        if names is None:
            names = [name for name, value in vars(module).items()
                     if not name.startswith("_")
                     and (inspect.isfunction(value) or inspect.isclass(value))
                     and value.__module__ == module_name]
        for name in names:
            yield f"{module_name}.{name}", getattr(module, name)


def check_api_coverage(app, env):
    """Warn about public names that have no entry in the API reference."""
    documented = set()
    for fullname, entry in env.get_domain("py").objects.items():
        if entry.objtype in ("class", "exception", "function", "data"):
            obj = _documented_object(fullname)
            if obj is not None:
                documented.add(id(obj))
    missing = sorted(name for name, obj in public_objects() if id(obj) not in documented)
    if missing:
        logger.warning("public names without an API reference entry (add them to api.rst): %s",
                       ", ".join(missing))


def setup(app):
    app.connect("autodoc-skip-member", skip_sklearn_machinery)
    app.connect("builder-inited", write_benchmark_table)
    app.connect("builder-inited", write_accuracy_table)
    app.connect("env-check-consistency", check_api_coverage)
