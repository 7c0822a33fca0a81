"""Pair a screened refill rule's runs with the stored 60-seed runs of the current sampler.

Run from the repository root, e.g.
`PYTHONPATH=. python benchmarks/results/async4/refill_screens/compare.py raw_design.json.gz`.
Prints, after 20 and 50 evaluations, the async / sequential ratio of median regrets for the
current rule and the variant (10 to the power of the difference of median log10 regrets, as in
benchmarks/README.md; sequential runs and seeds are those of the stored baseline), and how many
paired runs the variant ends lower / higher than the current rule by more than 0.05 in log10
regret.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import numpy as np

from benchmarks._screens import print_paired
from benchmarks.bo import PROBLEMS, _log_regret

HERE = Path(__file__).parent
BASELINE = HERE.parent / "ours_60_seeds"


def _load(path: Path) -> dict:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        return json.load(f)["curves"]


def _log_regrets(curves: list[list[float]], budget: int, problem: str) -> np.ndarray:
    optimum = PROBLEMS[problem].optimum
    return np.array([_log_regret(c, optimum, budget) for c in curves])


def main(paths: list[str]) -> None:
    base = {**_load(BASELINE / "raw_A.json.gz"), **_load(BASELINE / "raw_B.json.gz")}
    variant: dict = {}
    for p in paths:
        variant.update(_load(HERE / p if (HERE / p).exists() else Path(p)))
    for budget in (20, 50):
        rows = []
        for problem, peers in variant.items():
            runs = peers["ours_async4"]
            n = len(runs)
            seq = np.median(_log_regrets(base[problem]["ours"][:n], budget, problem))
            now = _log_regrets(base[problem]["ours_async4"][:n], budget, problem)
            rows.append((problem, seq, now, _log_regrets(runs, budget, problem)))
        print_paired(budget, "async", rows)


if __name__ == "__main__":
    main(sys.argv[1:])
