"""The results files that the two case-study examples write, in one format.

`results.json` keeps the raw numbers; `results.md` is the table that docs/schedules.md includes.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any


def summary(values: list[float], fmt: str) -> str:
    """`mean ± standard deviation` of `values`, each formatted with `fmt`."""
    return f"{statistics.mean(values):{fmt}} ± {statistics.stdev(values):{fmt}}"


def write_results(
    out: Path,
    payload: dict[str, Any],
    rows: dict[str, tuple[list[float], list[float]]],
    *,
    metric_key: str,
    metric_label: str,
) -> None:
    """Write `out`/results.json and `out`/results.md for `rows` (name -> (metric, seconds))."""
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        **payload,
        "rows": {name: {metric_key: m, "seconds": t} for name, (m, t) in rows.items()},
    }
    (out / "results.json").write_text(json.dumps(payload, indent=2) + "\n")
    lines = [f"| configuration | {metric_label} | training time (s) |", "|---|---|---|"]
    for name, (values, secs) in rows.items():
        lines.append(f"| {name} | {summary(values, '.3f')} | {summary(secs, '.1f')} |")
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print(f"results written to {out}/results.json and {out}/results.md")
