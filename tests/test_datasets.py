"""Bundled series and synthetic tasks."""

import numpy as np
import pytest

from numbarnn import datasets


@pytest.mark.parametrize("name,length,first,last,low,high", [
    ("sunspots", 309, "1700", "2008", 0, 200),
    ("co2", 526, "1958-03", "2001-12", 310, 380),
    ("elnino", 732, "1950-01", "2010-12", 18, 30),
    ("nile", 100, "1871", "1970", 400, 1400),
])
def test_loaders(name, length, first, last, low, high):
    load = getattr(datasets, f"load_{name}")
    values = load()
    time, same = load(return_time=True)
    assert values.shape == (length,) and values.dtype == np.float64
    np.testing.assert_array_equal(values, same)
    assert (time[0], time[-1]) == (first, last)
    assert np.all(np.isfinite(values)) and low <= values.min() and values.max() <= high
    assert all(word in load.__doc__ for word in ("Source:", "Citation:", "Licence: public domain"))


def test_known_values():
    assert datasets.load_sunspots()[:3].tolist() == [5, 11, 16]
    assert datasets.load_nile()[:3].tolist() == [1120, 1160, 963]
    co2 = datasets.load_co2()
    assert co2[-1] > co2[0] + 50  # the Keeling curve rises


def test_adding_problem():
    X, y = datasets.make_adding_problem(2000, 50, random_state=0)
    assert X.shape == (2000, 50, 2) and y.shape == (2000,)
    markers = X[:, :, 1]
    assert np.all(markers.sum(axis=1) == 2)
    assert np.all(markers[:, :25].sum(axis=1) == 1)
    np.testing.assert_allclose((X[:, :, 0] * markers).sum(axis=1), y)
    assert np.mean((y - 1) ** 2) == pytest.approx(1 / 6, abs=0.015)
    X2, y2 = datasets.make_adding_problem(2000, 50, random_state=0)
    np.testing.assert_array_equal(X, X2)


def test_delayed_recall():
    X, y = datasets.make_delayed_recall(5, 10, delay=3, random_state=1)
    assert X.shape == (5, 10, 1) and y.shape == (5, 10)
    np.testing.assert_array_equal(y[:, 3:], X[:, :7, 0])
    np.testing.assert_array_equal(y[:, :3], 0)
    with pytest.raises(ValueError, match="delay"):
        datasets.make_delayed_recall(5, 10, delay=10)


def test_gunpoint_is_the_archive_split():
    X, y = datasets.load_gunpoint()
    X_test, y_test = datasets.load_gunpoint("test")
    assert X.shape == (50, 150, 1) and X_test.shape == (150, 150, 1)
    assert set(y) == set(y_test) == {"1", "2"}
    assert np.all(np.isfinite(X)) and np.all(np.isfinite(X_test))
    assert X[0, :2, 0].tolist() == [-0.6478854, -0.64199155]
    assert "Dau" in datasets.load_gunpoint.__doc__
    with pytest.raises(ValueError, match="split"):
        datasets.load_gunpoint("valid")


HEADER = "@problemName t\n@timeStamps false\n@classLabel true a b\n@data\n"


@pytest.mark.parametrize("body, expected", [
    ("1,2,3:a\n4,5,6:b\n", ((2, 3, 1), ["a", "b"])),
    ("1,2:3,4:a\n5,6:7,8:b\n", ((2, 2, 2), ["a", "b"])),
    ("1,?,3:a\n", ((1, 3, 1), ["a"])),
])
def test_load_ts_reads_cases_channels_and_missing_values(tmp_path, body, expected):
    path = tmp_path / "p.ts"
    path.write_text("# a comment\n" + HEADER + body)
    X, y = datasets.load_ts(path)
    assert X.shape == expected[0] and y.tolist() == expected[1]
    if "?" in body:
        assert np.isnan(X[0, 1, 0])
    if ":3,4:" in body:
        assert X[0, :, 1].tolist() == [3.0, 4.0]


def test_load_ts_gives_a_list_for_unequal_lengths_and_floats_for_targets(tmp_path):
    path = tmp_path / "p.ts"
    path.write_text("@targetLabel true\n@data\n1,2,3:0.5\n4:1.5\n")
    X, y = datasets.load_ts(path)
    assert [x.shape for x in X] == [(3, 1), (1, 1)] and y.tolist() == [0.5, 1.5]


@pytest.mark.parametrize("text, message", [
    (HEADER + "1,2:c\n", r"line 5: .*not among the declared"),
    (HEADER + "1,x:a\n", "line 5: a value is not a number"),
    (HEADER + "1,2:3:a\n", "line 5: the channels of a case have different lengths"),
    (HEADER + "1,2:a\n1,2:3,4:b\n", "line 6: 2 channel"),
    (HEADER + "1,2\n", "line 5: a case needs its values and a label"),
    ("@timeStamps true\n@classLabel true a\n@data\n(0,1):a\n", "time-stamped"),
    ("@classLabel maybe\n@data\n", "true or false"),
    ("@problemName p\n@data\n1,2:a\n", "neither @classLabel"),
    ("1,2:a\n", "line 1: expected a header line"),
    (HEADER, "no @data section with cases"),
])
def test_load_ts_names_what_is_wrong(tmp_path, text, message):
    path = tmp_path / "p.ts"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        datasets.load_ts(path)


def test_embedded_reber_strings_follow_the_grammar():
    X, y = datasets.make_embedded_reber(200, random_state=0)
    symbols = datasets.REBER_SYMBOLS
    # the symbols that may follow each one inside a Reber string (from the grammar's graph)
    edges = {"B": "TP", "T": "SXTV", "P": "TVXS", "S": "SXE", "X": "XSTV", "V": "PVE"}
    for x, t in zip(X, y):
        string = "".join(symbols[i] for i in np.append(x, t[-1]))
        np.testing.assert_array_equal(x[1:], t[:-1])  # y is X shifted by one step
        assert string[0] == "B" and string[-1] == "E" and string[2] == "B"
        assert string[1] == string[-2] and string[1] in "TP"  # the long-range symbol
        assert string[-3] == "E" and len(string) >= 9
        inner = string[2:-2]
        assert all(b in edges[a] for a, b in zip(inner, inner[1:]))
    assert {len(x) for x in X} != {len(X[0])}  # lengths vary
    again, _ = datasets.make_embedded_reber(200, random_state=0)
    assert all(np.array_equal(a, b) for a, b in zip(X, again))
