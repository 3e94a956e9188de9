"""README's quick-start block runs as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_quick_start_runs():
    text = README.read_text()
    block = re.search(r"<!-- tested: tests/test_readme.py runs this block -->\n```python\n(.*?)```",
                      text, re.S).group(1)
    block = block.replace("max_iter=50", "max_iter=2")  # same code, a shorter fit
    namespace = {}
    exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["model"].predict(namespace["X"][:5]).shape == (5,)
