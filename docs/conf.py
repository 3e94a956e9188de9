"""Sphinx configuration of numbarnn's documentation.

Build: python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

import json
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("agg")

from sphinx.util import logging  # noqa: E402

import numbarnn  # noqa: E402

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS))
import inventories  # noqa: E402
import public_api  # noqa: E402
import results_tables  # noqa: E402
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
# written by ``write_inventories`` from inventories.py rather than downloaded; the links
# themselves point at each project's published pages.
intersphinx_mapping = {
    project_name: (url, str(DOCS / "generated" / "inventories" / f"{project_name}.inv"))
    for project_name, url in inventories.URLS.items()
}

# The public API (public_api.py): each name must have an entry in the API reference;
# ``check_api_coverage`` below turns a missing one into a warning, which the -W build makes
# an error.

# scikit-learn's metadata-routing and output-container methods, inherited by every
# estimator: their docstrings point into scikit-learn's own documentation.
SKLEARN_MACHINERY = re.compile(r"set_\w+_request|get_metadata_routing|set_output")


def skip_sklearn_machinery(app, what, name, obj, skip, options):
    return True if SKLEARN_MACHINERY.fullmatch(name) else None


def _update(path, data):
    """Write ``data`` (bytes) to ``path``, left alone when it holds them already (so that
    Sphinx does not rebuild what depends on it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)


def write_inventories(app):
    """Write the inventories of :mod:`inventories` for intersphinx."""
    for project_name, entries in inventories.INVENTORIES.items():
        _update(DOCS / "generated" / "inventories" / f"{project_name}.inv",
                inventories.inventory(project_name, entries))


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

RESULTS = ROOT / "benchmarks" / "results"


def _write(name, lines):
    """Write ``lines`` to ``docs/generated/<name>``."""
    _update(DOCS / "generated" / name, ("\n".join(lines) + "\n").encode())


def _json_results(pattern):
    return {path.name: json.loads(path.read_text()) for path in sorted(RESULTS.glob(pattern))}


def _missing(pattern, what):
    logger.warning(f"no benchmarks/results/{pattern} to show on the performance page")
    return [f"No {what} are recorded."]


def write_result_tables(app):
    """Write the performance pages' tables from the newest result files
    (:mod:`results_tables`)."""
    cpu = _json_results("cpu-*.json")
    if cpu:
        name, run = results_tables.newest(cpu)
        _write("benchmark_cpu.rst.inc", results_tables.cpu_full(run, name))
        _write("benchmark_cpu_summary.rst.inc", results_tables.cpu_summary(run, name))
    else:
        for inc in ("benchmark_cpu.rst.inc", "benchmark_cpu_summary.rst.inc"):
            _write(inc, _missing("cpu-*.json", "CPU benchmark results"))
    _write("benchmark_gpu_summary.rst.inc",
           results_tables.gpu_summaries(_json_results("gpu-*.json")))
    # compile-time-<date>-<what>.txt; a "-before" file records the code before a change
    reports = sorted(RESULTS.glob("compile-time-*.txt"),
                     key=lambda p: (re.search(r"\d{4}-\d\d-\d\d", p.name)[0],
                                    "-before" not in p.name, p.name))
    _write("compile_time.rst.inc",
           results_tables.compile_table(reports[-1].read_text(), reports[-1].name)
           if reports else _missing("compile-time-*.txt", "compile times"))
    accuracy = _json_results("accuracy-*.json")
    _write("accuracy.rst.inc",
           results_tables.accuracy_tables(accuracy[max(accuracy)], max(accuracy))
           if accuracy else _missing("accuracy-*.json", "accuracy results"))


def check_api_coverage(app, env):
    """Warn about public names that have no entry in the API reference."""
    documented = set()
    for fullname, entry in env.get_domain("py").objects.items():
        if entry.objtype in ("class", "exception", "function", "data"):
            obj = public_api.resolve(fullname)
            if obj is not None:
                documented.add(id(obj))
    missing = sorted(name for name, obj in public_api.public_objects()
                     if id(obj) not in documented)
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
    app.connect("builder-inited", write_result_tables)
    app.connect("env-check-consistency", check_api_coverage)
