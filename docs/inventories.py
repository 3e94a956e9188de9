"""The inventories of other projects' documentation that these pages link to through
intersphinx, written at build time (the build runs offline, so none is downloaded); the
links point at each project's published pages (conf.py's ``intersphinx_mapping``).
"""

import zlib

# Each project's published documentation.
URLS = {
    "python": "https://docs.python.org/3/",
    "numpy": "https://numpy.org/doc/stable/",
    "sklearn": "https://scikit-learn.org/stable/",
    "torch": "https://docs.pytorch.org/docs/stable/",
    "distributed": "https://distributed.dask.org/en/stable/",
    "dask": "https://docs.dask.org/en/stable/",
}

# Each project's names these pages link to: (name, Sphinx object type, page and anchor
# under the project's URL; "$" stands for the name).
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


def inventory(project, entries):
    """The bytes of a Sphinx inventory (version 2) of ``project`` holding ``entries``, as
    in INVENTORIES, with each "$" replaced by the entry's name."""
    lines = "".join(f"{name} {kind} 1 {uri.replace('$', name)} -\n"
                    for name, kind, uri in entries)
    header = (f"# Sphinx inventory version 2\n# Project: {project}\n# Version: \n"
              "# The remainder of this file is compressed using zlib.\n")
    return header.encode() + zlib.compress(lines.encode())
