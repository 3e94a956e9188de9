"""The file format of saved estimators: a zip of ``.npy`` arrays plus JSON, no pickle.

A file is what :func:`numpy.savez` writes: a zip archive whose members are stored
uncompressed, one ``<name>.npy`` per array, plus ``__numbarnn__.npy``, the UTF-8 bytes
of a JSON object with ``format`` (``"numbarnn-estimator"``), ``format_version`` and what
the writer puts there (for an estimator: its class, parameters and fitted attributes).

Reading trusts nothing in the file. :class:`Reader` checks the zip directory before it
decompresses anything: only stored (uncompressed) ``.npy`` members, whose declared
sizes fit in the file, and a metadata member of at most :data:`MAX_META_BYTES`. An array
is read only when asked for, with the shape the caller expects, after its ``.npy``
header says that shape and a real floating-point dtype; no pickle is ever read. Every
refusal is a :class:`ValueError` naming the file and the problem. This module knows no
estimator class; :func:`numbarnn.load` builds the estimator.
"""

import ast
import json
import os
import zipfile

import numpy as np

FORMAT = "numbarnn-estimator"
FORMAT_VERSION = 2
META = "__numbarnn__"
MAX_META_BYTES = 1 << 20
MAX_HEADER_BYTES = 1 << 12


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

    Raises
    ------
    TypeError
        If ``meta`` holds something JSON cannot store; nothing is written then.

    Examples
    --------
    >>> import os
    >>> import tempfile
    >>> import numpy as np
    >>> from numbarnn.io import Reader, write
    >>> folder = tempfile.TemporaryDirectory()
    >>> path = os.path.join(folder.name, "arrays.npz")
    >>> write(path, {"weight": np.eye(2)}, {"note": "identity"})
    >>> with Reader(path) as reader:
    ...     print(reader.meta["format"], reader.meta["note"])
    numbarnn-estimator identity
    >>> folder.cleanup()
    """
    try:
        text = json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION, **meta},
                          allow_nan=True).encode("utf-8")
    except (TypeError, ValueError) as err:
        raise TypeError(f"cannot save: {err}") from None
    with open(path, "wb") as f:
        np.savez(f, **arrays, **{META: np.frombuffer(text, np.uint8)})


class Reader:
    """A file written by :func:`write`, checked, with its arrays read on demand.

    Parameters
    ----------
    path : str or path-like

    Attributes
    ----------
    meta : dict
        The JSON metadata (a JSON object), format and version included.
    headers : dict of str to (tuple, numpy.dtype)
        Every array's shape and dtype, from its ``.npy`` header.

    Raises
    ------
    ValueError
        If the file is not a zip of stored ``.npy`` members, a member is larger
        than the file, the metadata is missing, too long, not a JSON object, or of
        another format or version, or an array's header is malformed or not a
        real floating-point array.

    Notes
    -----
    Use as a context manager, or call :meth:`close`.

    Examples
    --------
    >>> import os
    >>> import tempfile
    >>> import numpy as np
    >>> from numbarnn.io import Reader, write
    >>> folder = tempfile.TemporaryDirectory()
    >>> path = os.path.join(folder.name, "arrays.npz")
    >>> write(path, {"weight": np.arange(6.0).reshape(2, 3)}, {"note": "example"})
    >>> reader = Reader(path)
    >>> reader.meta["note"], reader.headers
    ('example', {'weight': ((2, 3), dtype('float64'))})
    >>> reader.array("weight", (2, 3))
    array([[0., 1., 2.],
           [3., 4., 5.]])
    >>> reader.array("weight", (3, 2))
    Traceback (most recent call last):
        ...
    ValueError: ...arrays.npz: array 'weight' has shape (2, 3), expected (3, 2)
    >>> reader.close()

    Anything but a file of this format is refused before an array is read:

    >>> np.savez(path, weight=np.zeros(2))
    >>> Reader(path)
    Traceback (most recent call last):
        ...
    ValueError: ...arrays.npz: not a numbarnn estimator file (no __numbarnn__ entry)
    >>> folder.cleanup()
    """

    def __init__(self, path):
        self.path = path
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, EOFError, OSError) as err:
            if isinstance(err, (FileNotFoundError, IsADirectoryError, PermissionError)):
                raise
            raise ValueError(f"{path} is not a numbarnn estimator file (not a zip archive: "
                             f"{err})") from None
        try:
            self._members = self._check_directory(os.path.getsize(path))
            self._headers = {name: self._header(name) for name in self._members}
            self.meta = self._read_meta()
            self.headers = {name: header[:2] for name, header in self._headers.items()
                            if name != META}
        except BaseException:
            self._zip.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Close the file."""
        self._zip.close()

    def _fail(self, problem):
        raise ValueError(f"{self.path}: {problem}")

    def _check_directory(self, file_size):
        members = {}
        for info in self._zip.infolist():
            name = info.filename
            if not name.endswith(".npy") or "/" in name or name[:-4] in members:
                self._fail(f"unexpected member {name!r} (a numbarnn file holds .npy arrays)")
            if info.compress_type != zipfile.ZIP_STORED:
                self._fail(f"member {name!r} is compressed; numbarnn files store arrays as is")
            if info.file_size != info.compress_size or info.file_size > file_size:
                self._fail(f"member {name!r} declares {info.file_size} bytes, more than the "
                           "file holds")
            members[name[:-4]] = info
        if META not in members:
            self._fail(f"not a numbarnn estimator file (no {META} entry)")
        return members

    def _header(self, name):
        """(shape, dtype, offset of the data) of a member, from its ``.npy`` header."""
        info = self._members[name]
        head = self._read(name, min(MAX_HEADER_BYTES, info.file_size))
        if head[:6] != b"\x93NUMPY" or len(head) < 10 or head[6] not in (1, 2, 3):
            self._fail(f"member {name!r} is not a .npy array")
        size_bytes = 2 if head[6] == 1 else 4
        start = 8 + size_bytes
        length = int.from_bytes(head[8:start], "little")
        if start + length > len(head):
            self._fail(f"member {name!r} has a .npy header longer than {MAX_HEADER_BYTES} bytes")
        try:
            header = ast.literal_eval(head[start : start + length].decode("latin1"))
            dtype = np.dtype(header["descr"])
            shape = tuple(header["shape"])
            fortran = header["fortran_order"]
            if not (isinstance(header, dict) and isinstance(fortran, bool) and all(
                    isinstance(n, int) and n >= 0 for n in shape)):
                raise TypeError
        except (ValueError, SyntaxError, TypeError, KeyError, MemoryError, RecursionError):
            self._fail(f"member {name!r} has a malformed .npy header")
        expected_kind = "u" if name == META else "f"
        if dtype.kind != expected_kind or dtype.hasobject or dtype.fields is not None:
            self._fail(f"member {name!r} has dtype {dtype}, not "
                       f"{'bytes' if name == META else 'real floating point'}")
        count = 1
        for n in shape:
            count *= n
        if start + length + count * dtype.itemsize != info.file_size:
            self._fail(f"member {name!r}: its header declares {count} values of {dtype}, its "
                       f"size is {info.file_size} bytes")
        return shape, dtype, start + length, fortran

    def _read_meta(self):
        shape, dtype, _, _ = self._headers[META]
        if len(shape) != 1 or dtype.itemsize != 1 or shape[0] > MAX_META_BYTES:
            self._fail(f"its metadata is not a byte string of at most {MAX_META_BYTES} bytes")
        try:
            meta = json.loads(self._data(META).tobytes().decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            self._fail("its metadata is not valid JSON")
        if not isinstance(meta, dict):
            self._fail("its metadata is not a JSON object")
        version = meta.get("format_version", meta.get("version"))
        if meta.get("format") != FORMAT or version not in (1, FORMAT_VERSION):
            self._fail(f"unsupported format {meta.get('format')!r} version {version!r}")
        return meta

    def _read(self, name, size=None):
        """The first ``size`` bytes of a member (all of it, CRC checked, if None)."""
        try:
            with self._zip.open(self._members[name]) as f:
                return f.read() if size is None else f.read(size)
        except (zipfile.BadZipFile, EOFError, OSError) as err:
            self._fail(f"member {name!r} cannot be read ({err})")

    def _data(self, name):
        shape, dtype, offset, fortran = self._headers[name]
        data = np.frombuffer(self._read(name), dtype, offset=offset)
        return data.reshape(shape, order="F" if fortran else "C")

    def array(self, name, shape):
        """The array ``name``, if it has ``shape``.

        Parameters
        ----------
        name : str
        shape : tuple of int
            The shape the caller expects; checked before anything is read.

        Returns
        -------
        ndarray
            A new, writable array, in native byte order.
        """
        if name not in self.headers:
            self._fail(f"no array {name!r}")
        if self.headers[name][0] != tuple(shape):
            self._fail(f"array {name!r} has shape {self.headers[name][0]}, expected {shape}")
        data = self._data(name)
        return data.astype(data.dtype.newbyteorder("="), order="C")
