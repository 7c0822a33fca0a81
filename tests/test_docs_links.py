"""The README's and benchmarks/README.md's relative links point at files that exist.

The documentation pages under docs/ are checked by `mkdocs build --strict` (`make docs`); these
two pages are outside the site, so their links are checked here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
LINK = re.compile(r"\]\((?P<target>[^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("page", ["README.md", "benchmarks/README.md"])
def test_relative_links_resolve(page):
    path = ROOT / page
    targets = [m["target"] for m in LINK.finditer(path.read_text())]
    local = [t for t in targets if "://" not in t]
    assert local, f"{page} links to no page"
    missing = [t for t in local if not (path.parent / t).exists()]
    assert not missing, f"{page} links to missing files: {missing}"
