"""The families of related tasks of the knowledge-base benchmark (`benchmarks.knowledge`).

Synthetic: shifted, scaled and offset variants of Branin, Hartmann6 and Levy-4D on the unit
cube (the transfer-BO literature's families). Regret is that of the base function (the task's
own divided by its scale), so tasks of one family are comparable.

Real ('mlp'): the learning-curve tables of `benchmarks._tabular` (one small MLP over one shared
sample of configurations, on several offline classification data sets), each data set a task;
the objective is the final validation loss of the table configuration nearest to the suggestion,
and regret is that minus the table's best, floored at `TABLE_FLOOR` (the best row itself).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from benchmarks._functions import branin, hartmann6, levy
from lightning_autotune.space import Float, SearchSpace

__all__ = ["FAMILIES", "REAL", "TABLE_FLOOR", "BenchTask", "family_names", "family_tasks"]

REAL = "mlp"
"""Name of the real family (the tabulated MLP learning curves)."""
TABLE_FLOOR = 1e-4
"""Smallest regret reported on a table: reaching the table's best row."""


class BenchTask(Protocol):
    """What the benchmark needs of a task."""

    @property
    def name(self) -> str: ...

    @property
    def space(self) -> SearchSpace: ...

    def __call__(self, config: Mapping[str, Any]) -> float: ...

    def regret(self, value: float) -> float: ...


@dataclass(frozen=True)
class Family:
    """A base function on the unit cube with its known minimum."""

    name: str
    dim: int
    base: Callable[[np.ndarray], float]
    optimum: float
    shift: float  # largest shift of the inputs, keeping the minimizer inside the cube


def _branin(u: np.ndarray) -> float:
    return branin({"x0": -5.0 + 15.0 * u[0], "x1": 15.0 * u[1]})


def _hartmann(u: np.ndarray) -> float:
    return hartmann6({f"x{i}": u[i] for i in range(6)})


def _levy(u: np.ndarray) -> float:
    return levy({f"x{i}": -10.0 + 20.0 * u[i] for i in range(4)})


FAMILIES = {
    "branin": Family("branin", 2, _branin, 0.397887, 0.05),
    "hartmann6": Family("hartmann6", 6, _hartmann, -3.32237, 0.1),
    "levy4": Family("levy4", 4, _levy, 0.0, 0.1),
}


@dataclass(frozen=True)
class Task:
    """One synthetic task: the family's base function, shifted, scaled and offset."""

    family: Family
    index: int
    delta: np.ndarray
    scale: float
    offset: float

    @property
    def name(self) -> str:
        return f"{self.family.name}-{self.index}"

    @property
    def space(self) -> SearchSpace:
        return SearchSpace({f"x{i}": Float(0.0, 1.0) for i in range(self.family.dim)})

    def __call__(self, config: Mapping[str, Any]) -> float:
        u = np.array([config[f"x{i}"] for i in range(self.family.dim)]) + self.delta
        return self.scale * self.family.base(u) + self.offset

    def regret(self, value: float) -> float:
        """Regret of the base function (the task's own divided by its scale)."""
        return (value - (self.scale * self.family.optimum + self.offset)) / self.scale


def make_tasks(family: Family, n: int) -> list[Task]:
    """`n` tasks of `family`, the same for every run."""
    rng = np.random.default_rng(1000 + len(family.name))
    return [
        Task(
            family,
            i,
            rng.uniform(-family.shift, family.shift, family.dim),
            float(np.exp(rng.uniform(np.log(0.5), np.log(2.0)))),
            float(rng.uniform(-1.0, 1.0)),
        )
        for i in range(n)
    ]


@dataclass(frozen=True, eq=False)
class TableTask:
    """One data set of the learning-curve tables: final validation loss by lookup."""

    problem: Any  # benchmarks._tabular.TabularProblem

    @property
    def name(self) -> str:
        return f"{REAL}-{self.problem.table.name}"

    @property
    def space(self) -> SearchSpace:
        space: SearchSpace = self.problem.space
        return space

    def __call__(self, config: Mapping[str, Any]) -> float:
        return float(self.problem.evaluate(config))

    def regret(self, value: float) -> float:
        return max(float(self.problem.regret(value)), TABLE_FLOOR)


def _table_tasks() -> list[BenchTask]:
    from benchmarks._tabular import TabularProblem, load_table, table_names

    return [TableTask(TabularProblem(load_table(name))) for name in table_names()]


def family_names() -> list[str]:
    """The synthetic families, and the real one where its tables are present."""
    names = list(FAMILIES)
    try:
        from benchmarks._tabular import table_names

        if len(table_names()) >= 3:
            names.append(REAL)
    except (ImportError, OSError):  # the tables are not in this checkout
        pass
    return names


def family_tasks(name: str, n: int) -> list[BenchTask]:
    """The tasks of family `name` (`n` of a synthetic one; every data set of the real one).

    Raises:
        ValueError: Unknown family.
    """
    if name == REAL:
        return _table_tasks()
    if name not in FAMILIES:
        raise ValueError(
            f"family={name!r} is not a family of this benchmark; choose one of {[*FAMILIES, REAL]}"
        )
    return list(make_tasks(FAMILIES[name], n))
