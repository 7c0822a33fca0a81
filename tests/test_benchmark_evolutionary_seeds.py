"""benchmarks/evolutionary_seeds.py: each cell over the main table's seeds and over the others."""

from __future__ import annotations

from typing import Any

from benchmarks.evolutionary_seeds import report


def _runs(values: list[float]) -> list[dict[str, Any]]:
    return [{"regret": {"100": v}} for v in values]


def test_the_page_splits_every_cell_at_the_main_tables_seeds():
    raw = {
        "meta": {
            "command": "python -m benchmarks.evolutionary_seeds --seeds 6 --split 2",
            "date": "d",
            "seeds": 6,
            "split": 2,
            "budgets": [100],
            "versions": {"cmaes": "0"},
            "machine": "test",
            "load": [1.0, 2.0],
            "wall_s": 3,
        },
        "so": {
            "p": {
                # ours worse on the first two seeds, better on the four others
                "ours_cmaes": _runs([1.0, 1.1, -1.0, -1.1, -1.2, -1.3]),
                "optuna_cmaes": _runs([0.0, 0.1, 0.0, 0.1, 0.2, 0.3]),
            }
        },
    }
    rows = [line for line in report(raw).splitlines() if line.startswith("| p |")]
    assert rows == [
        "| p | 100 | 0..1 | 1.05 [1.02, 1.08] (n=2) | 0.05 [0.03, 0.08] (n=2) | worse | 0.17 |",
        "| p | 100 | 2..5 | -1.15 [-1.23, -1.08] (n=4) | 0.15 [0.08, 0.23] (n=4) | better | 1.00 |",
    ]
    assert "load average 1.0 to 2.0" in report(raw)
