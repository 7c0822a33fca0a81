"""How a peer is driven through a budget: one at a time, in rounds of 4, or by 4 workers.

Light on imports (NumPy only), so the runner of the peers that live in their own environment
(`benchmarks._peer_runner`) drives them exactly as `benchmarks._peers` drives ours and Optuna's.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from benchmarks._functions import Problem

__all__ = ["WORKERS", "drive", "noisy"]

WORKERS = 4
"""Workers of the asynchronous mode: each asks for a new trial the moment its last one ends."""


def noisy(problem: Problem, seed: int) -> Callable[[Mapping[str, Any]], tuple[float, float]]:
    """Objective returning (observed, true) values; the noise stream depends on the seed only."""
    rng = np.random.default_rng(10_000 + seed)

    def f(config: Mapping[str, Any]) -> tuple[float, float]:
        true = problem.objective(config)
        noise = problem.noise_std * rng.standard_normal() if problem.noise_std else 0.0
        return true + noise, true

    return f


def _rounds(
    ask: Callable[[], Any], tell: Callable[[Any], float], budget: int, q: int
) -> list[float]:
    """Ask `q` trials (the earlier ones still running when the next is asked), then tell them.

    `tell` records a trial's result and returns its true value; q=1 is a sequential run.
    """
    trues: list[float] = []
    while len(trues) < budget:
        batch = [ask() for _ in range(min(q, budget - len(trues)))]
        trues += [tell(trial) for trial in batch]
    return trues


def _durations(seed: int) -> Callable[[], float]:
    """Random trial lengths (log-normal, median 1, about +-40%), one stream per seed."""
    rng = np.random.default_rng(20_000 + seed)
    return lambda: float(rng.lognormal(0.0, 0.4))


def _asynchronous(
    ask: Callable[[], Any], tell: Callable[[Any], float], budget: int, seed: int
) -> list[float]:
    """Run `WORKERS` simulated workers, each asking for a new trial the moment its last one ends.

    The others are still running when a worker asks; the returned true values are in the
    order the results arrived.
    """
    duration = _durations(seed)
    running: list[tuple[float, int, Any]] = []  # (end time, ask order, trial)
    asked = 0
    for _ in range(min(WORKERS, budget)):
        heapq.heappush(running, (duration(), asked, ask()))
        asked += 1
    trues: list[float] = []
    while running:
        now, _, trial = heapq.heappop(running)
        trues.append(tell(trial))
        if asked < budget:
            heapq.heappush(running, (now + duration(), asked, ask()))
            asked += 1
    return trues


def drive(
    ask: Callable[[], Any], tell: Callable[[Any], float], budget: int, seed: int, mode: str
) -> list[float]:
    """mode: "seq" (one at a time), "q4" (rounds of 4) or "async4" (4 workers refilled)."""
    if mode == "async4":
        return _asynchronous(ask, tell, budget, seed)
    if mode not in ("seq", "q4"):
        raise ValueError(f"mode must be 'seq', 'q4' or 'async4' (got {mode!r})")
    return _rounds(ask, tell, budget, 4 if mode == "q4" else 1)
