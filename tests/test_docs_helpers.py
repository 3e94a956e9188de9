"""The documentation build's helpers: the offline check (docs/offline.py: what a page loads
from another host is found, and links a reader follows are not; the build runs it over every
page, where a remote load fails the ``-W`` build) and the performance page's tables
(docs/results_tables.py, from the files in benchmarks/results/)."""

import pytest

import docs_modules

RESULTS = docs_modules.DOCS.parent / "benchmarks" / "results"
offline, tables = docs_modules.load("offline"), docs_modules.load("results_tables")
inventories = docs_modules.load("inventories")

PAGE = """<!doctype html><html><head>
<script src="_static/local.js"></script>
<script src="https://cdn.example.org/mathjax/tex-chtml.js"></script>
<link rel="stylesheet" href="//fonts.example.org/css?family=Lato">
<link rel="stylesheet" href="_static/custom.css">
<link rel="canonical" href="https://example.org/numbarnn/">
<style>body { background: url("https://img.example.org/bg.png"); }</style>
</head><body>
<a href="https://numpy.org/doc/stable/">NumPy</a>
<img src="_images/figure.png" srcset="_images/a.png 1x, http://img.example.org/b.png 2x">
<div style="background-image: url(https://img.example.org/c.png)"></div>
</body></html>"""


def test_remote_scripts_styles_and_images_are_found_and_links_are_not():
    assert offline.external_loads(PAGE) == [
        "<script> https://cdn.example.org/mathjax/tex-chtml.js",
        "<link> //fonts.example.org/css?family=Lato",
        "<style> https://img.example.org/bg.png",
        "<img> http://img.example.org/b.png",
        "<div> https://img.example.org/c.png",
    ]


@pytest.mark.parametrize("css, found", [
    ('@import "https://fonts.example.org/x.css";', ["css https://fonts.example.org/x.css"]),
    ('@import url("https://fonts.example.org/y.css");', ["css https://fonts.example.org/y.css"]),
    ("@import url(//fonts.example.org/z.css) screen;", ["css //fonts.example.org/z.css"]),
    ('@import "local.css";', []),
    ("@font-face { src: url(../webfonts/fa.woff2) }", []),
    ("a { background: url('//img.example.org/x.svg') }", ["css //img.example.org/x.svg"]),
])
def test_style_sheets_are_checked_too(css, found):
    assert offline.external_loads(css, "css") == found


def test_a_site_is_checked_file_by_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "index.html").write_text('<a href="https://example.org">x</a>')
    (tmp_path / "sub" / "page.html").write_text(PAGE)
    (tmp_path / "style.css").write_text("p { color: red }")
    found = offline.site_external_loads(tmp_path)
    assert list(found) == ["sub/page.html"] and len(found["sub/page.html"]) == 5


def _run(**ratios):
    """A run with the predict ratio of each ``cell_size`` given (the train step's twice it)."""
    cases = []
    for key, r in ratios.items():
        cell, size = key.split("_")
        cases.append({"cell": cell, "size": size, "predict_speedup": r, "train_speedup": 2 * r})
    return {"date": "2026-12-04", "threads": 2, "machine": "x86_64", "cases": cases}


def test_the_ratio_summary_gives_the_span_of_each_operation_and_a_row_per_cell_and_operation():
    lines = tables.cpu_summary(_run(rnn_S=3.0, rnn_M=0.96, gru_S=8.4), "cpu-x.json")
    text = "\n".join(lines)
    assert ("PyTorch's time over numbarnn's (above 1: numbarnn is faster) is 0.96 to 8.40 for "
            "a prediction and 1.92 to 16.80 for a train step") in text
    assert "``benchmarks/results/cpu-x.json``" in text
    rows = text.split("   * - ")[1:]
    assert rows[0].split() == ["cell", "-", "operation", "-", "S", "-", "M"]
    assert rows[1].split() == ["RNN", "-", "predict", "-", "3.00", "-", "0.96"]
    assert rows[3].split() == ["GRU", "-", "predict", "-", "8.40", "-", "—"]  # not measured


def test_gpu_results_get_a_table_per_device_from_its_newest_run():
    assert "No GPU timings are recorded yet" in tables.gpu_summaries({})[0]
    run = {"device": "H100", "numba": "0.68", "cudnn": 91000, "torch": "2.13", "cases": [
        {"cell": "lstm", "size": "S", "forward_speedup": 0.5, "train_speedup": 1.5}]}
    older = {**run, "date": "2026-12-01", "cases": [{**run["cases"][0], "train_speedup": 9}]}
    other = {**run, "device": "A100", "date": "2026-12-02"}
    text = "\n".join(tables.gpu_summaries({"gpu-a.json": {**run, "date": "2026-12-03"},
                                           "gpu-b.json": older, "gpu-c.json": other}))
    assert text.index("On the A100") < text.index("On the H100 (numba 0.68, cuDNN 9.10.0")
    assert "1.50" in text and "9.00" not in text  # the H100's newest run only


def test_the_compile_table_is_read_from_the_recorded_report():
    name = "compile-time-2026-12-04-on-threads.txt"
    lines = tables.compile_table((RESULTS / name).read_text(), name)
    text = "\n".join(lines)
    for label in ("RNN", "LSTM", "GRU", "all three"):
        assert f"   * - {label}" in text
    with pytest.raises(ValueError, match="no table"):
        tables.compile_table("nothing measured", "compile-time-x.txt")


@pytest.mark.parametrize("project", sorted(inventories.INVENTORIES))
def test_the_inventories_load_and_point_at_the_projects_pages(project):
    inventory_file = pytest.importorskip("sphinx.util.inventory").InventoryFile
    data = inventories.inventory(project, inventories.INVENTORIES[project])
    base = inventories.URLS[project]
    loaded = inventory_file.loads(data, uri=base)
    entries = [(name, item) for kind in loaded.data.values() for name, item in kind.items()]
    assert len(entries) == len(inventories.INVENTORIES[project])
    for name, item in entries:
        uri = item.uri if hasattr(item, "uri") else item[2]
        assert uri.startswith(base) and "$" not in uri and "#" in uri, (name, uri)
