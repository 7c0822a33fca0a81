"""The box a batch's later points are searched in: bounds on the encoded cube's columns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lightning_autotune.space import ColumnKind, SearchSpace

__all__ = ["Box", "box_columns"]


@dataclass(frozen=True)
class Box:
    """Per-column bounds, inside the unit cube, that the search for a candidate stays within.

    A box may belong to one choice of each always-active categorical parameter (`choices`):
    then it bounds only the points that make those choices, and a point that makes another
    is searched in the whole cube.
    """

    lower: np.ndarray
    upper: np.ndarray
    choices: tuple[tuple[int, int, int], ...] = ()
    """`(start, stop, k)`: the one-hot columns `start:stop` of a categorical parameter and the
    index `k` of the choice the box belongs to."""

    @classmethod
    def cube(cls, dim: int) -> Box:
        """The whole encoded cube: no restriction."""
        return cls(np.zeros(dim), np.ones(dim))

    @classmethod
    def around(cls, space: SearchSpace, center: np.ndarray, half_width: float) -> Box:
        """`center` +- `half_width` on the continuous columns of parameters that are always
        active, for points that make `center`'s choices of the always-active categorical
        parameters. Categorical, integer and conditional columns stay free, and a point that
        makes another choice is not bounded: what a continuous value means can depend on
        the choice (a learning rate under Adam or SGD)."""
        lower, upper = np.zeros(space.dim), np.ones(space.dim)
        cols = box_columns(space)
        lower[cols] = np.clip(center[cols] - half_width, 0.0, 1.0)
        upper[cols] = np.clip(center[cols] + half_width, 0.0, 1.0)
        choices = tuple(
            (start, stop, int(np.argmax(center[start:stop])))
            for start, stop in _choice_blocks(space)
        )
        return cls(lower, upper, choices)

    def holds(self, X: np.ndarray) -> np.ndarray:
        """Which of the `n x d` points the box bounds (those making its choices)."""
        inside = np.ones(len(X), dtype=bool)
        for start, stop, k in self.choices:
            inside &= np.argmax(X[:, start:stop], axis=1) == k
        return inside

    def clip(self, X: np.ndarray) -> np.ndarray:
        """The points with the box's choices moved into it; the others unchanged."""
        inside = self.holds(X)
        return np.where(inside[:, None], np.clip(X, self.lower, self.upper), X)

    def scale(self, U: np.ndarray) -> np.ndarray:
        """Points of the unit cube with the box's choices mapped into the box."""
        inside = self.holds(U)
        return np.where(inside[:, None], self.lower + (self.upper - self.lower) * U, U)

    def bounds(self, X: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of columns `cols` for each of the `n x d` points."""
        inside = self.holds(X)[:, None]
        lower = np.where(inside, self.lower[cols], 0.0)
        upper = np.where(inside, self.upper[cols], 1.0)
        return lower, upper


def box_columns(space: SearchSpace) -> np.ndarray:
    """Indices of the continuous columns of the parameters active in every configuration."""
    spans = {name: space.column_span(name) for name in space.names}
    return np.array(
        [
            i
            for name in space.names
            if not space[name].parents
            for i in range(*spans[name])
            if space.columns[i].kind is ColumnKind.CONTINUOUS
        ],
        dtype=np.int64,
    )


def _choice_blocks(space: SearchSpace) -> list[tuple[int, int]]:
    """The one-hot column ranges of the categorical parameters active in every configuration."""
    spans = {name: space.column_span(name) for name in space.names}
    return [
        spans[name]
        for name in space.names
        if not space[name].parents and space.columns[spans[name][0]].kind is ColumnKind.ONE_HOT
    ]
