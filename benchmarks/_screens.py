"""Print how a screened rule compares with the current one, paired by seed.

Used by the screening scripts stored next to their raw curves under `benchmarks/results/`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def print_paired(
    budget: int, mode: str, rows: Iterable[tuple[str, float, np.ndarray, np.ndarray]]
) -> None:
    """One line per problem after `budget` evaluations, and the count within 1.5x.

    Each row is `(problem, sequential median log10 regret, current runs' log10 regrets,
    screened runs' log10 regrets)`, the two arrays paired by seed. A line shows the `mode` /
    sequential ratio of median regrets for the current and the screened rule (10 to the power
    of the difference of median log10 regrets, as in benchmarks/README.md) and how many paired
    runs the screened rule ends lower / higher than the current one by more than 0.05.
    """
    print(f"after {budget}: {mode}/seq ratio, current -> screened (paired lower/higher)")
    within = [0, 0]
    n_problems = 0
    for problem, seq, now, new in rows:
        r_now, r_new = 10 ** (np.median(now) - seq), 10 ** (np.median(new) - seq)
        within[0] += r_now <= 1.5
        within[1] += r_new <= 1.5
        n_problems += 1
        diff = new - now
        print(
            f"  {problem:16s} {r_now:9.2f} -> {r_new:9.2f}  "
            f"({(diff < -0.05).sum()}/{(diff > 0.05).sum()} of {len(diff)})"
        )
    print(f"  within 1.5x: current {within[0]}, screened {within[1]} of {n_problems}")
