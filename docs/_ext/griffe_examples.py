"""Griffe extension: read a Google-style `Example:` section as `Examples:` (doctest code).

The package's docstrings head their doctests `Example:`, which griffe's Google parser reads as an
admonition of Markdown text, so `>>>` lines would render as prose. Renaming the heading where the
docstring is loaded lets the API reference show them as code without touching the sources.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_HEADING = re.compile(r"^(\s*)Example:\s*$", flags=re.M)


class ExampleSections(griffe.Extension):
    """Rename `Example:` headings to `Examples:` in every loaded docstring."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _HEADING.sub(r"\1Examples:", obj.docstring.value)
