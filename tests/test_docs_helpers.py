"""The documentation build's offline check (docs/offline.py): what a page loads from another
host is found, and links a reader follows are not. The build itself runs it over every page
(docs/conf.py, ``check_offline``), where a remote load fails the ``-W`` build."""

import importlib.util
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
spec = importlib.util.spec_from_file_location("offline", DOCS / "offline.py")
offline = importlib.util.module_from_spec(spec)
spec.loader.exec_module(offline)

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
