"""Every public class and function has a numpydoc "Examples" section, and its examples run.

The public names are those the API reference must document:

- those of docs/public_api.py, which the documentation build checks against the API
  reference: the ``__all__`` of each module in its PUBLIC_MODULES, or, for a module
  without one, the functions and classes it defines at module level whose names do not
  start with ``_``;
- and every ``autosummary`` entry of docs/api.rst, relative to the module named by the
  ``.. currentmodule::`` or ``.. automodule::`` above it, which adds names of other modules
  (``numbarnn.metrics.perplexity``, ``numbarnn.losses.row_loss``, ...).

Of these, the classes and functions are checked (not data, such as
``numbarnn.datasets.REBER_SYMBOLS``); an object with two public names
(``numbarnn.RNNCell`` is ``numbarnn.cells.RNNCell``) is checked once, under the first.
The names in EXEMPT need no example, and say why.

Each name's docstring, with the docstrings of the methods its class defines, runs as a
doctest: one test per name, with ELLIPSIS and NORMALIZE_WHITESPACE, in a namespace of its
own (an example imports what it uses, as a reader copying it would). An example that
imports an optional dependency (Dask, matplotlib), or ``numbarnn.parallel``, which needs
Dask, is skipped where that is not installed; matplotlib draws on its Agg backend. Nothing
under ``numbarnn.backends.cuda`` is imported.
"""

import doctest
import inspect
import re
import sys

import pytest

import docs_modules

API_RST = docs_modules.DOCS / "api.rst"
public_api = docs_modules.load("public_api")

EXEMPT = {
    "numbarnn.exceptions.DeviceUnavailableError": (
        "raised by a fit with device='cuda' only where numba-cuda or a GPU is missing, so "
        "an example's output would depend on the machine, and running it would import the "
        "CUDA backend"),
}
# what an example that imports these modules (or their submodules) needs: without it, skipped
OPTIONAL = {"dask": "dask", "distributed": "distributed", "matplotlib": "matplotlib",
            "numbarnn.parallel": "distributed"}
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _api_rst_names():
    """The full names of docs/api.rst's autosummary entries (none without the file)."""
    if not API_RST.exists():
        return []
    names, module, listing = [], None, False
    for line in API_RST.read_text(encoding="utf-8").splitlines():
        directive = re.match(r"\.\. (currentmodule|automodule|autosummary)::\s*(\S*)", line)
        if directive:
            listing = directive[1] == "autosummary"
            module = module if listing else directive[2]
        elif line.strip() and not line.startswith(" "):
            listing = False
        elif listing and line.strip() and not line.strip().startswith(":"):
            names.append(f"{module}.{line.strip()}")
    return names


def public_objects():
    """{full name: object} of every public class and function, each object once."""
    found, seen = {}, set()
    fullnames = [name for name, _ in public_api.public_objects()]
    for fullname in fullnames + _api_rst_names():
        obj = public_api.resolve(fullname)
        if (inspect.isclass(obj) or inspect.isfunction(obj)) and id(obj) not in seen:
            seen.add(id(obj))
            found[fullname] = obj
    return found


PUBLIC = public_objects()
CHECKED = sorted(set(PUBLIC) - set(EXEMPT))


def test_the_public_names_are_found():
    assert {"numbarnn.LSTMRegressor", "numbarnn.load", "numbarnn.parallel.fit_many",
            "numbarnn.preprocessing.SequenceScaler"} <= set(PUBLIC)


def test_exempt_names_are_public_exceptions_or_warnings():
    for name in EXEMPT:
        assert name in PUBLIC, f"{name} is exempt but not public: remove it from EXEMPT"
        assert issubclass(PUBLIC[name], (Exception, Warning)), name


def _sections(doc):
    """The numpydoc section titles of a docstring, in order."""
    return re.findall(r"^(\S[^\n]*)\n-{3,}[ \t]*$", doc, re.M)


@pytest.mark.parametrize("name", CHECKED)
def test_has_an_examples_section(name):
    doc = inspect.cleandoc(PUBLIC[name].__doc__ or "")
    sections = _sections(doc)
    assert "Examples" in sections, f"{name}'s docstring has no Examples section"
    assert sections[-1] == "Examples", f"{name}: Examples must be the last section: {sections}"
    assert ">>>" in re.split(r"^Examples\n-{3,}[ \t]*$", doc, flags=re.M)[-1], (
        f"{name}'s Examples section has no example (>>>)")


def _doctests(name):
    obj = PUBLIC[name]
    return doctest.DocTestFinder().find(obj, name, module=inspect.getmodule(obj), globs={})


@pytest.mark.parametrize("name", CHECKED)
def test_examples_run(name):
    tests = _doctests(name)
    sources = "".join(example.source for test in tests for example in test.examples)
    imported = re.findall(r"^\s*(?:from|import)\s+([\w.]+)", sources, re.M)
    needed = {needs for module in imported for prefix, needs in OPTIONAL.items()
              if (module + ".").startswith(prefix + ".")}
    for module in sorted(needed):
        pytest.importorskip(module)
    if "matplotlib" in needed:
        import matplotlib
        matplotlib.use("agg")
    cuda_loaded = any(m.startswith("numbarnn.backends.cuda") for m in sys.modules)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report = []
    try:
        for test in tests:
            runner.run(test, out=report.append)
    finally:
        if "matplotlib" in needed:
            import matplotlib.pyplot as plt
            plt.close("all")
    if runner.failures:
        pytest.fail("".join(report), pytrace=False)
    assert runner.tries > 0, f"{name} has no examples to run"
    assert cuda_loaded or not any(m.startswith("numbarnn.backends.cuda") for m in sys.modules), (
        f"{name}'s examples imported the CUDA backend")
