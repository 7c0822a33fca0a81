"""The synthetic multi-fidelity problems of `benchmarks.multifidelity` (numpy only, so the peers'
environment can import them too)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks._functions import _H6_A, _H6_ALPHA, _H6_P
from lightning_autotune.space import Float, SearchSpace

STEPS = 9
LOW = 0.1


@dataclass(frozen=True)
class MFProblem:
    """A minimization problem with a fidelity `s` in [LOW, 1] (1: the target)."""

    name: str
    dim: int
    f: Callable[[np.ndarray, float], float]
    optimum: float

    def space(self) -> SearchSpace:
        return SearchSpace({f"x{i}": Float(0.0, 1.0) for i in range(self.dim)})

    def at(self, params: dict[str, Any], s: float) -> float:
        return self.f(np.array([params[f"x{i}"] for i in range(self.dim)]), s)


def branin_mf(x: np.ndarray, s: float) -> float:
    x1, x2 = 15 * x[0] - 5, 15 * x[1]
    b = 5.1 / (4 * math.pi**2) - 0.01 * (1 - s)
    c = 5 / math.pi - 0.1 * (1 - s)
    t = 1 / (8 * math.pi) + 0.05 * (1 - s)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def hartmann6_mf(x: np.ndarray, s: float) -> float:
    alpha = _H6_ALPHA.copy()
    alpha[0] -= 0.1 * (1 - s)
    return float(-np.sum(alpha * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


PROBLEMS = {
    "branin_mf": MFProblem("branin_mf", 2, branin_mf, 0.397887357729738),
    "hartmann6_mf": MFProblem("hartmann6_mf", 6, hartmann6_mf, -3.322368011391339),
}
