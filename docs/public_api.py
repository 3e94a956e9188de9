"""numbarnn's public names: what the API reference must document (docs/conf.py warns about
a missing one) and what must carry a run example (tests/test_docstring_examples.py).

The public names are the ``__all__`` of each module in PUBLIC_MODULES or, for a module
without one, the functions and classes it defines at module level whose names do not start
with ``_``.
"""

import importlib
import inspect

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


def resolve(fullname):
    """The object a full name such as ``numbarnn.io.write`` names, or None if there is none
    (nothing under ``numbarnn.backends.cuda`` is imported)."""
    module, _, attribute = fullname.rpartition(".")
    if module.startswith("numbarnn.backends.cuda"):
        return None
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError):
        return None
