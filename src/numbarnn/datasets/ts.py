"""Reading time-series classification and regression problems in the ``.ts`` format of the
UCR/UEA archives (aeon and sktime write it too), and the bundled GunPoint problem.

The format: ``#`` comment lines; ``@`` header lines (``@problemName``, ``@timeStamps``,
``@missing``, ``@univariate``, ``@dimensions``, ``@equalLength``, ``@seriesLength``,
``@classLabel true <labels>`` or ``@targetLabel true``); ``@data``; then one case per line,
its channels separated by ``:``, values by ``,`` (``?`` is missing), and the label or target
last.
"""

import os
from importlib import resources

import numpy as np

_FLAGS = ("@timestamps", "@missing", "@univariate", "@equallength", "@classlabel",
          "@targetlabel")


def load_ts(path):
    """Read a ``.ts`` file: the sequences and their class labels (or regression targets).

    Parameters
    ----------
    path : str or path-like
        A ``.ts`` file with ``@classLabel true ...`` or ``@targetLabel true``.

    Returns
    -------
    X : ndarray of shape (n, T, d), or list of (T_i, d) arrays
        The cases, time-major per case (numbarnn's layout; aeon's is (n, d, T)); a
        list when their lengths differ, as the estimators take it. Missing values
        (``?``) are NaN, which ``fit`` refuses: fill them first.
    y : ndarray of shape (n,)
        Class labels as strings (as the file spells them), or float targets.

    Raises
    ------
    ValueError
        If the file is not in the format, naming the line: time stamps (not
        supported), a case whose channels differ in length or count, a value that
        is not a number, a label the header does not declare, or no labels.

    Examples
    --------
    Three univariate cases of different lengths, one with a missing value:

    >>> import os
    >>> import tempfile
    >>> from numbarnn.datasets import load_ts
    >>> folder = tempfile.TemporaryDirectory()
    >>> path = os.path.join(folder.name, "tiny.ts")
    >>> with open(path, "w") as f:
    ...     for line in ["@problemName tiny", "@classLabel true up down", "@data",
    ...                  "1,2,3:up", "3,2:down", "4,5,?,7:up"]:
    ...         print(line, file=f)
    >>> X, y = load_ts(path)
    >>> [x.shape for x in X], y
    ([(3, 1), (2, 1), (4, 1)], array(['up', 'down', 'up'], dtype='<U4'))
    >>> X[2][:, 0]
    array([ 4.,  5., nan,  7.])
    >>> folder.cleanup()
    """
    with open(os.fspath(path), encoding="utf-8-sig") as f:  # with or without a BOM
        return _parse(f.read().splitlines(), os.fspath(path))


def _parse(lines, name):
    header, cases, labels = {}, [], []
    data = False
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue

        def fail(problem, number=number):
            raise ValueError(f"{name}, line {number}: {problem}")

        if not data:
            if not line.startswith("@"):
                fail(f"expected a header line starting with '@' before @data, got {line[:40]!r}")
            key, *rest = line.split(None, 1)
            key, value = key.lower(), rest[0] if rest else ""
            if key == "@data":
                data = True
            elif key in _FLAGS:
                words = value.split()
                if not words or words[0].lower() not in ("true", "false"):
                    fail(f"{key} must be followed by true or false")
                header[key] = (words[0].lower() == "true", words[1:])
            else:
                header[key] = value.strip()
            continue
        if header.get("@timestamps", (False,))[0]:
            fail("time-stamped data is not supported")
        *channels, label = line.split(":")
        if not channels:
            fail("a case needs its values and a label, separated by ':'")
        try:
            values = [np.array([np.nan if v.strip() == "?" else float(v)
                                for v in c.split(",")]) for c in channels]
        except ValueError as err:
            fail(f"a value is not a number ({err})")
        if len({len(v) for v in values}) > 1:
            fail(f"the channels of a case have different lengths {[len(v) for v in values]}")
        if cases and len(values) != cases[0].shape[1]:
            fail(f"{len(values)} channel(s), where the first case has {cases[0].shape[1]}")
        classes, declared = header.get("@classlabel", (False, []))
        if classes and label.strip() not in declared:
            fail(f"label {label.strip()!r} is not among the declared classes {declared}")
        cases.append(np.stack(values, axis=1))
        labels.append(label.strip())
    if not data or not cases:
        raise ValueError(f"{name}: no @data section with cases")
    return _assembled(cases, labels, header, name)


def _assembled(cases, labels, header, name):
    if header.get("@classlabel", (False,))[0]:
        y = np.array(labels)
    elif header.get("@targetlabel", (False,))[0]:
        try:
            y = np.array([float(v) for v in labels])
        except ValueError as err:
            raise ValueError(f"{name}: a target is not a number ({err})") from None
    else:
        raise ValueError(f"{name}: the header declares neither @classLabel true nor "
                         "@targetLabel true: there are no labels to read")
    if len({len(c) for c in cases}) == 1:
        return np.stack(cases), y
    return cases, y


def load_gunpoint(split="train"):
    """The GunPoint problem of the UCR archive: 200 hand movements, drawing a gun or pointing.

    Univariate series of 150 steps (the x coordinate of the actor's right hand),
    two classes, '1' (Gun-Draw) and '2' (Point); 50 cases to train on and 150 to
    test on, as the archive splits them.

    Parameters
    ----------
    split : {'train', 'test'}, default='train'

    Returns
    -------
    X : ndarray of shape (50, 150, 1) or (150, 150, 1)
    y : ndarray of shape (50,) or (150,)
        Labels '1' and '2'.

    Notes
    -----
    Source: the UCR Time Series Classification Archive, GunPoint, as the archive
    distributes it in the ``.ts`` format (the file's header describes the data).
    Citation: Dau, H. A., Bagnall, A., Kamgar, K., Yeh, C.-C. M., Zhu, Y.,
    Gharghabi, S., Ratanamahatana, C. A. and Keogh, E. (2019). The UCR time series
    archive. *IEEE/CAA Journal of Automatica Sinica* 6(6), 1293-1305.

    Examples
    --------
    >>> import numpy as np
    >>> from numbarnn import LSTMClassifier
    >>> from numbarnn.datasets import load_gunpoint
    >>> X, y = load_gunpoint()
    >>> X_test, y_test = load_gunpoint("test")
    >>> X.shape, X_test.shape, np.unique(y)
    ((50, 150, 1), (150, 150, 1), array(['1', '2'], dtype='<U1'))
    >>> clf = LSTMClassifier(hidden_size=4, max_iter=2, random_state=0).fit(X, y)
    >>> clf.predict(X_test).shape
    (150,)
    >>> accuracy = clf.score(X_test, y_test)
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    text = resources.files(__package__).joinpath("data", f"GunPoint_{split.upper()}.ts")
    return _parse(text.read_text(encoding="utf-8-sig").splitlines(),
                  f"GunPoint_{split.upper()}.ts")
