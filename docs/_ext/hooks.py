"""MkDocs hook: publish the stored benchmark plots beside the results page.

The plots live with their tables under benchmarks/results/<name>/, outside docs/. Adding them to
the site's files as `benchmarks/<name>/<plot>.png` lets docs/results.md show them with a plain
image link that `mkdocs build --strict` checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

RESULTS = Path(__file__).parents[2] / "benchmarks" / "results"


def on_files(files: Files, config: Any, **kwargs: Any) -> Files:
    for plot in sorted(RESULTS.glob("*/*.png")):
        uri = f"benchmarks/{plot.parent.name}/{plot.name}"
        files.append(File.generated(config, uri, abs_src_path=str(plot)))
    return files
