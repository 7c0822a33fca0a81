"""Every Python example in README.md runs as written (in one namespace, in a temp folder)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"


@pytest.mark.slow
def test_readme_python_examples_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 3
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__readme__"}
    for i, block in enumerate(blocks):
        try:
            exec(compile(block, f"README block {i}", "exec"), namespace)
        except Exception as err:  # pragma: no cover - the message says which block broke
            raise AssertionError(f"README python block {i} failed: {err!r}\n{block}") from err
