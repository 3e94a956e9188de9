"""What a built page would load from another host: the check that the site works offline.

conf.py runs :func:`external_loads` over every HTML and CSS file of the build when it
finishes, and a file that loads a script, a style sheet, a font or an image from another
host is reported as a warning (an error in the ``-W`` build). Links that a reader follows
(``<a href>``) are not loads and are allowed. Scripts are checked for where they are loaded
from, not for what they fetch once running.
"""

import re
from html.parser import HTMLParser
from pathlib import Path

# attributes through which a page loads something as it opens
_LOADING = {"script": ("src",), "img": ("src", "srcset"), "iframe": ("src",),
            "source": ("src", "srcset"), "video": ("src", "poster"), "audio": ("src",),
            "embed": ("src",), "object": ("data",)}
_LOADING_LINKS = {"stylesheet", "preload", "modulepreload", "icon", "manifest", "prefetch",
                  "apple-touch-icon"}
# url(...), quoted or not, and @import "..." (an @import url(...) is a url(...))
_CSS_URL = re.compile(r"""url\(\s*["']?([^"')\s]+)|@import\s+["']([^"']+)["']""")


def _css_urls(text):
    return [url or imported for url, imported in _CSS_URL.findall(text)]


def is_remote(url):
    """Whether ``url`` points at another host (http, https or scheme-relative)."""
    url = url.strip().lower()
    return url.startswith(("http://", "https://", "//"))


class _Loads(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attrs = {name: value or "" for name, value in attrs}
        urls = [attrs[name] for name in _LOADING.get(tag, ()) if name in attrs]
        if tag == "link" and _LOADING_LINKS & set(attrs.get("rel", "").lower().split()):
            urls.append(attrs.get("href", ""))
        urls += _css_urls(attrs.get("style", ""))
        for url in urls:
            for part in url.split(","):  # srcset: "a.png 1x, b.png 2x"
                candidate = part.strip().split(" ")[0]
                if is_remote(candidate):
                    self.found.append(f"<{tag}> {candidate}")
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.found += [f"<style> {url}" for url in _css_urls(data) if is_remote(url)]


def external_loads(text, kind="html"):
    """The remote URLs that ``text`` (an HTML page or a CSS file) loads, each with what
    loads it."""
    if kind == "css":
        return [f"css {url}" for url in _css_urls(text) if is_remote(url)]
    parser = _Loads()
    parser.feed(text)
    parser.close()
    return parser.found


def site_external_loads(outdir):
    """{file relative to ``outdir``: its remote loads} for every HTML and CSS file of a
    built site (files that load nothing remote are left out)."""
    outdir = Path(outdir)
    found = {}
    for path in sorted(outdir.rglob("*")):
        if path.suffix in (".html", ".css"):
            loads = external_loads(path.read_text(errors="replace"), path.suffix[1:])
            if loads:
                found[str(path.relative_to(outdir))] = loads
    return found
