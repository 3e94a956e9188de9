"""Sphinx configuration of numbarnn's documentation.

Build: python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

import importlib
import inspect
import json
import re
import statistics
import sys
import zlib
from pathlib import Path

import matplotlib

matplotlib.use("agg")

from sphinx.util import logging  # noqa: E402

import numbarnn  # noqa: E402

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS))
from offline import site_external_loads  # noqa: E402

ROOT = DOCS.parent
logger = logging.getLogger(__name__)

project = "numbarnn"
copyright = "the numbarnn developers"
release = numbarnn.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax served from _static: the pages render offline
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build"]
default_role = "code"
smartquotes_action = "qe"  # quotes and ellipses; "--" stays two hyphens (command options)

# --- API reference ------------------------------------------------------------------

autosummary_generate = True
autodoc_typehints = "none"
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = True
numpydoc_xref_ignore = "all"  # only the names below become links
numpydoc_xref_aliases = {
    "ndarray": "numpy.ndarray",
    "array-like": ":term:`numpy:array_like`",
    "array_like": ":term:`numpy:array_like`",
    "Generator": "numpy.random.Generator",
    "RandomState": "numpy.random.RandomState",
    "dtype": "numpy.dtype",
    "Path": "pathlib.Path",
    "Client": "distributed.Client",
}

# --- Links to other projects' documentation -------------------------------------------

# The build runs offline, so the inventories of the names these pages link to are
# written by ``write_inventories`` from INVENTORIES below rather than downloaded; the
# links themselves point at each project's published pages.
intersphinx_mapping = {
    project_name: (url, str(DOCS / "generated" / "inventories" / f"{project_name}.inv"))
    for project_name, (url, _) in {
        "python": ("https://docs.python.org/3/", None),
        "numpy": ("https://numpy.org/doc/stable/", None),
        "sklearn": ("https://scikit-learn.org/stable/", None),
        "torch": ("https://docs.pytorch.org/docs/stable/", None),
        "distributed": ("https://distributed.dask.org/en/stable/", None),
        "dask": ("https://docs.dask.org/en/stable/", None),
    }.items()
}

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


# Each project's names these pages link to: (name, Sphinx object type, page and anchor
# under the project's URL above; "$" stands for the name).
INVENTORIES = {
    "python": [(name, "py:exception", "library/exceptions.html#$")
               for name in ("ValueError", "TypeError", "RuntimeError", "OSError",
                            "Warning", "UserWarning")]
              + [(name, "py:data", "library/constants.html#$") for name in ("None", "True",
                                                                           "False")]
              + [(name, "py:class", "library/stdtypes.html#$")
                 for name in ("list", "tuple", "str", "dict")]
              + [(name, "py:class", "library/functions.html#$") for name in ("float", "int")]
              + [(name, "std:term", "glossary.html#term-$")
                 for name in ("iterable", "sequence", "generator")]
              + [("bltin-boolean-values", "std:label", "library/stdtypes.html#$"),
                 ("callable", "py:function", "library/functions.html#$"),
                 ("contextlib.contextmanager", "py:function", "library/contextlib.html#$"),
                 ("collections.namedtuple", "py:function", "library/collections.html#$"),
                 ("logging", "py:module", "library/logging.html#module-$"),
                 ("pathlib.Path", "py:class", "library/pathlib.html#$"),
                 ("zipfile", "py:module", "library/zipfile.html#module-$"),
                 ("json", "py:module", "library/json.html#module-$"),
                 ("pickle", "py:module", "library/pickle.html#module-$")],
    "numpy": [("numpy.ndarray", "py:class", "reference/generated/$.html#$"),
              ("numpy.dtype", "py:class", "reference/generated/$.html#$"),
              ("numpy.random.Generator", "py:class", "reference/random/generator.html#$"),
              ("numpy.random.RandomState", "py:class", "reference/random/legacy.html#$"),
              ("numpy.savez", "py:function", "reference/generated/$.html#$"),
              ("numpy.load", "py:function", "reference/generated/$.html#$"),
              ("numpy.float32", "py:class", "reference/arrays.scalars.html#$"),
              ("numpy.float64", "py:class", "reference/arrays.scalars.html#$"),
              ("numpy.inf", "py:data", "reference/constants.html#$"),
              ("numpy.nan", "py:data", "reference/constants.html#$"),
              ("numpy", "py:module", "reference/index.html#module-$"),
              ("arrays.scalars", "std:label", "reference/arrays.scalars.html#arrays-scalars"),
              ("array_like", "std:term", "glossary.html#term-array_like")],
    "sklearn": [(f"sklearn.{name}", kind, "modules/generated/$.html#$") for name, kind in (
        ("base.BaseEstimator", "py:class"), ("base.RegressorMixin", "py:class"),
        ("base.ClassifierMixin", "py:class"), ("base.clone", "py:function"),
        ("pipeline.Pipeline", "py:class"), ("pipeline.make_pipeline", "py:function"),
        ("model_selection.GridSearchCV", "py:class"),
        ("model_selection.TimeSeriesSplit", "py:class"),
        ("model_selection.cross_val_score", "py:function"),
        ("metrics.r2_score", "py:function"), ("metrics.accuracy_score", "py:function"),
        ("metrics.mean_squared_error", "py:function"),
        ("preprocessing.StandardScaler", "py:class"),
        ("neural_network.MLPRegressor", "py:class"),
        ("neural_network.MLPClassifier", "py:class"), ("linear_model.Ridge", "py:class"),
        ("ensemble.RandomForestRegressor", "py:class"),
        ("neighbors.KNeighborsClassifier", "py:class"),
        ("exceptions.ConvergenceWarning", "py:class"),
        ("utils.check_random_state", "py:function"))],
    "torch": [(f"torch.nn.{name}", "py:class", "generated/$.html#$")
              for name in ("RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "Module")]
             + [("torch.nn.Module.state_dict", "py:method",
                 "generated/torch.nn.Module.html#$"),
                ("torch.Tensor", "py:class", "tensors.html#$")],
    "distributed": [("distributed.Client", "py:class", "api.html#$"),
                    ("distributed.LocalCluster", "py:class", "api.html#$")],
    "dask": [("dask.array.Array", "py:class", "generated/$.html#$")],
}


def write_inventories(app):
    """Write INVENTORIES as Sphinx inventory files (version 2) for intersphinx."""
    folder = DOCS / "generated" / "inventories"
    folder.mkdir(parents=True, exist_ok=True)
    for project_name, entries in INVENTORIES.items():
        lines = "".join(f"{name} {kind} 1 {uri} -\n" for name, kind, uri in entries)
        data = (f"# Sphinx inventory version 2\n# Project: {project_name}\n# Version: \n"
                "# The remainder of this file is compressed using zlib.\n").encode()
        data += zlib.compress(lines.encode())
        path = folder / f"{project_name}.inv"
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)


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
    "write_computation_times": False,  # its page loads jQuery from a CDN
}

# --- HTML -----------------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"numbarnn {release}"
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 8,  # API reference and Performance in the top bar
}
html_static_path = ["_static"]
html_css_files = ["custom.css"]
# Pages without sub-pages have nothing to show in the left column: leave it out.
html_sidebars = {page: [] for page in (
    "index", "install", "quickstart", "theory", "performance", "performance-method", "faq",
    "changelog", "citing", "contributing")}


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
        _write(DOCS / "generated" / "benchmark_cpu_summary.rst.inc",
               ["On the CPU", "----------", "", "No CPU benchmark results are recorded."])
        return
    runs = {path: json.loads(path.read_text()) for path in files}
    path = max(files, key=lambda p: (runs[p]["date"], runs[p].get("recorded", ""), p.name))
    run = runs[path]
    rows = []
    slower = []
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
    header = ["cell", "size", "predict ms", "PyTorch predict ms", "predict ratio",
              "train step ms", "PyTorch train step ms", "train step ratio"]
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
    _write(out, lines)
    _write(DOCS / "generated" / "benchmark_cpu_summary.rst.inc", _cpu_summary(run, path))


def _write(out, lines):
    text = "\n".join(lines) + "\n"
    if not out.exists() or out.read_text() != text:
        out.write_text(text)


def _cpu_summary(run, path):
    """The performance page's headline and compact table of a ``compare_torch.py`` run:
    PyTorch's time over numbarnn's per cell, operation and size."""
    sizes = list(dict.fromkeys(case["size"] for case in run["cases"]))
    cells = list(dict.fromkeys(case["cell"] for case in run["cases"]))
    ratio = {(c["cell"], key, c["size"]): c[key] for c in run["cases"]
             for key in ("predict_speedup", "train_speedup")}
    operations = (("predict", "predict_speedup"), ("train step", "train_speedup"))

    def span(key):
        values = [v for (_, k, _), v in ratio.items() if k == key]
        return f"{min(values):.1f}–{max(values):.1f} times"

    lines = [
        "On the CPU",
        "----------",
        "",
        f"On {run['threads']} CPU cores, numbarnn runs a train step {span('train_speedup')} "
        f"as fast as PyTorch, and predicts {span('predict_speedup')} as fast, over the "
        f"three cells and the reference sizes S, M and L (batch, steps, features, hidden "
        f"units: S (32, 50, 1, 32), M (64, 100, 8, 128), L (128, 200, 32, 256)); float32, "
        f"recorded on {run['date']} (``benchmarks/results/{path.name}``).",
        "",
        ".. list-table:: PyTorch's time / numbarnn's, same run (above 1: numbarnn is faster)",
        "   :header-rows: 1",
        "",
        "   * - cell",
        "     - operation",
    ] + [f"     - {size}" for size in sizes]
    for cell in cells:
        for name, key in operations:
            lines += [f"   * - {cell.upper()}", f"     - {name}"]
            lines += [f"     - {ratio[cell, key, size]:.2f}" if (cell, key, size) in ratio
                      else "     - —" for size in sizes]
    return lines + [""]


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
    _write(out, lines)


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


def check_offline(app, exception):
    """Warn about every page or style sheet that loads something from another host."""
    if exception is None and app.builder.format == "html":
        for path, loads in site_external_loads(app.outdir).items():
            logger.warning("%s loads from another host (the site must work offline): %s",
                           path, ", ".join(loads))


def setup(app):
    app.connect("builder-inited", write_inventories, priority=100)  # before intersphinx
    app.connect("build-finished", check_offline, priority=900)  # after MathJax is copied
    app.connect("autodoc-skip-member", skip_sklearn_machinery)
    app.connect("builder-inited", write_benchmark_table)
    app.connect("builder-inited", write_accuracy_table)
    app.connect("env-check-consistency", check_api_coverage)
