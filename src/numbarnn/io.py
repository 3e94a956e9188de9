"""The file format of saved estimators: one ``.npz`` of arrays plus JSON, no pickle.

The file holds named arrays and one entry, ``__numbarnn__``, with UTF-8 JSON metadata
(what the writer puts there: for an estimator, its class, parameters and fitted
attributes). Reading uses ``allow_pickle=False``: no code from the file runs. This module
knows no estimator class; :func:`numbarnn.load` builds the estimator.
"""

import json

import numpy as np

FORMAT = "numbarnn-estimator"
VERSION = 1
META = "__numbarnn__"


def write(path, arrays, meta):
    """Write named arrays and a JSON-able metadata dict to ``path`` (``.npz``).

    Parameters
    ----------
    path : str or path-like
        File to write, used as given (``.npz`` is the usual suffix).
    arrays : mapping of str to ndarray
        The arrays, by name.
    meta : dict
        Metadata, stored as JSON with the format's name and version added.
    """
    text = json.dumps({"format": FORMAT, "version": VERSION, **meta},
                      allow_nan=True).encode("utf-8")
    with open(path, "wb") as f:
        np.savez(f, **arrays, **{META: np.frombuffer(text, np.uint8)})


def read(path):
    """Read a file written by :func:`write`.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    arrays : dict of str to ndarray
    meta : dict
        The metadata, format and version included.

    Raises
    ------
    ValueError
        If the file is not a numbarnn file, or of an unknown format version.
    """
    with np.load(path, allow_pickle=False) as data:
        if META not in data.files:
            raise ValueError(f"{path} is not a numbarnn estimator file (no {META} entry)")
        meta = json.loads(bytes(data[META]).decode("utf-8"))
        arrays = {k: data[k] for k in data.files if k != META}
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise ValueError(f"{path}: unsupported format {meta.get('format')} "
                         f"version {meta.get('version')}")
    return arrays, meta
