"""Every Python block of README.md and docs/*.md runs on its own, as a reader would copy it.

Each block runs in a fresh namespace in an empty folder, so a block that leans on a name defined
by an earlier block fails here. A block that cannot run in a test (it needs a PostgreSQL server
or a Ray cluster, say) carries `<!-- no-test: reason -->` on the line before its fence; those
are counted, so none is skipped without being declared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", flags=re.S | re.M)
NO_TEST = re.compile(r"<!--\s*no-test:\s*(?P<reason>[^>]*?)\s*-->\s*$")
# The blocks declared not runnable in tests; a change here is a deliberate, reviewed change.
# Ray + PostgreSQL in distributed.md; two staged plans in stages.md that train models.
EXPECTED_NO_TEST = 3


@dataclass(frozen=True)
class Block:
    """One fenced Python block: where it is, its code, and why it does not run (if it doesn't)."""

    page: Path
    index: int
    line: int
    code: str
    no_test: str | None

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}#{self.index}"


def blocks(page: Path) -> list[Block]:
    """The Python blocks of `page`, numbered from 0, with any no-test reason before the fence."""
    text = page.read_text()
    found = []
    for index, match in enumerate(FENCE.finditer(text)):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = NO_TEST.search(before)
        line = text.count("\n", 0, match.start()) + 1
        reason = marker.group("reason") if marker else None
        found.append(Block(page, index, line, match.group(1), reason))
    return found


ALL = [block for page in PAGES for block in blocks(page)]


def test_pages_have_blocks_and_declared_skips_are_counted():
    assert len(ALL) >= 10
    skipped = [b for b in ALL if b.no_test is not None]
    assert all(b.no_test for b in skipped), "a no-test marker needs a reason"
    assert len(skipped) == EXPECTED_NO_TEST, [f"{b.name}: {b.no_test}" for b in skipped]


@pytest.mark.slow
@pytest.mark.parametrize("block", ALL, ids=[b.name for b in ALL])
def test_block_runs_on_its_own(block: Block, tmp_path, monkeypatch):
    if block.no_test is not None:
        pytest.skip(f"declared not runnable in tests: {block.no_test}")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    where = f"{block.name} (line {block.line})"
    code = compile(block.code, where, "exec")
    try:
        exec(code, namespace)
    except Exception as err:  # the message says which block broke, and shows it
        raise AssertionError(f"{where} failed: {err!r}\n{block.code}") from err
