"""Greedy portfolios: a few configurations that together did well on several earlier tasks.

The candidates are the best few configurations of each task. How well a candidate would do on a
task is read off that task's own observations without a model: the quantile (0 best, 1 worst)
of the observation nearest to it in the encoded space. The portfolio is grown one candidate at a
time, each time adding the one that most lowers the mean over the tasks of the best quantile
the portfolio reaches there (Feurer et al., 2015; Wistuba et al., 2015), so it covers the tasks
instead of repeating the top configurations of one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lightning_autotune.samplers._transfer_map import SourceData

__all__ = ["greedy_portfolio", "portfolio_size"]

_PER_TASK = 3
"""Best configurations of each task that are candidates."""
_COVERED = 0.1
"""Mean best quantile over the tasks at which a portfolio covers them: each task, on average,
has one of the portfolio's configurations among its best tenth."""


def _quantiles(y: np.ndarray) -> np.ndarray:
    order = np.argsort(np.argsort(y, kind="stable"), kind="stable")
    return order / max(len(y) - 1, 1)


def portfolio_size(sources: Sequence[SourceData], most: int) -> int:
    """How many portfolio configurations to start from: the fewest that cover the tasks.

    The greedy portfolio grows until the mean over the tasks of the best quantile it reaches is
    at most `_COVERED`. Tasks that agree (related tasks, a confident knowledge base) are covered
    by one or two configurations, so the study starts from the model of them sooner; tasks that
    disagree get up to `most`.

    Args:
        sources: Earlier tasks' observations, mapped onto one space.
        most: Upper bound.

    Returns:
        Between 1 and `most` (0 when no task has an observation or `most` is 0).
    """
    _, reached = _greedy(sources, most, None)
    for k, level in enumerate(reached, start=1):
        if level <= _COVERED:
            return k
    return len(reached)


def greedy_portfolio(
    sources: Sequence[SourceData], n: int, weights: Sequence[float] | None = None
) -> list[dict[str, Any]]:
    """Up to `n` distinct configurations covering the tasks in `sources`.

    Args:
        sources: Earlier tasks' observations, mapped onto one space.
        n: Size of the portfolio.
        weights: Importance of each task (default: equal), e.g. its similarity to this one.

    Returns:
        Configurations of the target space, best first.
    """
    return _greedy(sources, n, weights)[0]


def _greedy(
    sources: Sequence[SourceData], n: int, weights: Sequence[float] | None
) -> tuple[list[dict[str, Any]], list[float]]:
    """The greedy portfolio and, after each of its configurations, the weighted mean best
    quantile over the tasks."""
    tasks = [s for s in sources if len(s.y)]
    if not tasks or n <= 0:
        return [], []
    w = (
        np.ones(len(tasks))
        if weights is None
        else np.asarray(
            [wt for wt, s in zip(weights, sources, strict=True) if len(s.y)], dtype=np.float64
        )
    )
    w = w / w.sum() if w.sum() > 0 else np.full(len(tasks), 1.0 / len(tasks))
    cands: list[tuple[np.ndarray, dict[str, Any]]] = []
    for s in tasks:
        for i in np.argsort(s.y, kind="stable")[:_PER_TASK]:
            if all(np.max(np.abs(c[0] - s.X[i])) > 1e-9 for c in cands):
                cands.append((s.X[i], s.configs[i]))
    # loss[c, t]: quantile on task t of the observation nearest to candidate c
    loss = np.empty((len(cands), len(tasks)))
    for t, s in enumerate(tasks):
        q = _quantiles(s.y)
        for c, (x, _) in enumerate(cands):
            loss[c, t] = q[int(np.argmin(np.sum((s.X - x) ** 2, axis=1)))]
    chosen: list[int] = []
    levels: list[float] = []
    reached = np.ones(len(tasks))
    for _ in range(min(n, len(cands))):
        gains = [
            np.inf if c in chosen else float(w @ np.minimum(reached, loss[c]))
            for c in range(len(cands))
        ]
        best = int(np.argmin(gains))
        chosen.append(best)
        reached = np.minimum(reached, loss[best])
        levels.append(float(w @ reached))
    return [dict(cands[c][1]) for c in chosen], levels
