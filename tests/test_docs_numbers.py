"""Every figure the results pages quote comes from a stored result that a `make bench-*` writes.

The prose of docs/results.md, the case-study section of docs/schedules.md and the README's
headline table quote numbers from the tables under benchmarks/results/. Each decimal number they
quote must be one of the numbers of the stored results of its section (the files the section
includes with `--8<--`, or every stored result where it includes none), at the precision quoted.
So a rerun that changes a stored table makes a stale quoted figure fail here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
RESULTS = ROOT / "benchmarks" / "results"
NUMBER = re.compile(r"(?<![\w.])-?\d+\.\d+(?![\d.])")
INCLUDE = re.compile(r'^--8<-- "(?P<path>[^":]+)(?::[^"]*)?"\s*$', flags=re.M)


def stored_numbers(path: Path) -> list[float]:
    """All numbers of a stored result: tokens of its text, and every float of a JSON file."""
    text = path.read_text()
    found = [float(n) for n in re.findall(r"-?\d+\.\d+|-?\d+", text)]
    if path.suffix == ".json":
        stack = [json.loads(text)]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, (int, float)) and not isinstance(item, bool):
                found.append(float(item))
    return found


def all_results() -> list[Path]:
    return sorted([*RESULTS.glob("*/results.md"), *RESULTS.glob("*/results.json")])


def quoted(text: str) -> list[str]:
    """The decimal numbers of `text` outside code blocks, code spans and include lines."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = INCLUDE.sub("", text)
    text = re.sub(r"`[^`]*`", "", text)
    return NUMBER.findall(text)


def sections() -> list[tuple[str, str]]:
    """(name, text) of every section whose figures are checked."""
    out = []
    results = (ROOT / "docs" / "results.md").read_text()
    for part in re.split(r"^(?=## )", results, flags=re.M):
        out.append((f"docs/results.md: {part.splitlines()[0]}", part))
    schedules = (ROOT / "docs" / "schedules.md").read_text()
    out.append(("docs/schedules.md: case studies", schedules.split("## The article's case")[1]))
    transfer = (ROOT / "docs" / "transfer.md").read_text()
    out.append(("docs/transfer.md: example", transfer.split("## Example: digits 0-4")[1]))
    knowledge = (ROOT / "docs" / "knowledge.md").read_text()
    out.append(("docs/knowledge.md: results", knowledge.split("## Results")[1]))
    evolutionary = (ROOT / "docs" / "evolutionary.md").read_text()
    out.append(("docs/evolutionary.md: when to pick", evolutionary.split("## When to pick")[1]))
    dashboard = (ROOT / "docs" / "dashboard.md").read_text()
    out.append(("docs/dashboard.md: scale", dashboard.split("## Scale")[1].split("\n## ")[0]))
    stages = (ROOT / "docs" / "stages.md").read_text()
    out.append(("docs/stages.md: measured", stages.split("## Measured")[1].split("## Limits")[0]))
    population = (ROOT / "docs" / "population.md").read_text()
    out.append(("docs/population.md: benchmark", population.split("## Benchmark")[1]))
    readme = (ROOT / "README.md").read_text()
    headline = readme.split("## Headline results")[1].split("\n## ")[0]
    out.append(("README.md: headline results", headline))
    return out


def matches(figure: str, numbers: list[float]) -> bool:
    decimals = len(figure.split(".")[1])
    value = float(figure)
    return any(abs(round(n, decimals) - value) < 10 ** -(decimals + 3) for n in numbers)


SECTIONS = sections()


def test_every_included_result_exists():
    for name, text in SECTIONS:
        for match in INCLUDE.finditer(text):
            assert (ROOT / match["path"]).is_file(), f"{name} includes missing {match['path']}"


def test_results_page_covers_every_stored_table():
    included = {m["path"] for _, text in SECTIONS for m in INCLUDE.finditer(text)}
    stored = {str(p.relative_to(ROOT)) for p in RESULTS.glob("*/results.md")}
    assert stored <= included, f"stored tables no page includes: {sorted(stored - included)}"


@pytest.mark.parametrize(("name", "text"), SECTIONS, ids=[n for n, _ in SECTIONS])
def test_quoted_figures_come_from_the_stored_results(name, text):
    files = [ROOT / m["path"] for m in INCLUDE.finditer(text)] or all_results()
    files += [f.with_suffix(".json") for f in files if f.with_suffix(".json").is_file()]
    numbers = [n for f in files for n in stored_numbers(f)]
    stale = [figure for figure in quoted(text) if not matches(figure, numbers)]
    assert not stale, f"{name} quotes figures no stored result holds: {stale}"


def test_a_figure_absent_from_the_results_is_caught():
    numbers = stored_numbers(RESULTS / "pruning" / "results.md")
    assert matches("3.70", numbers)
    assert not matches("3.71", numbers)
    assert quoted("ratio 3.71x, `code 9.99`, and 12 trials") == ["3.71"]
