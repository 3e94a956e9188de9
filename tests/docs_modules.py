"""The documentation build's own modules (docs/*.py: not a package, and docs/conf.py
configures Sphinx), loaded by file for the tests."""

import importlib.util
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def load(name):
    """The module docs/<name>.py."""
    spec = importlib.util.spec_from_file_location(name, DOCS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
