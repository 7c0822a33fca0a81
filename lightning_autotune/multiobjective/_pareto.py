"""Pareto fronts and hypervolume over objective values (several objectives at once)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.trial import Direction, TrialRecord, TrialState

__all__ = ["hypervolume", "nondominated_mask", "pareto_front"]


def nondominated_mask(Y: np.ndarray) -> np.ndarray:
    """Which rows are not dominated by another row (every objective lower is better).

    Row `a` dominates row `b` when `a <= b` in every column and `a < b` in at least one.
    Identical rows do not dominate each other, so duplicates of a front point all stay.

    Args:
        Y: An `n x m` array of scores, lower is better; rows with NaN are never on the front.

    Returns:
        A boolean array of length `n`.

    Example:
        >>> nondominated_mask(np.array([[1.0, 2.0], [2.0, 1.0], [2.0, 2.0]])).tolist()
        [True, True, False]
    """
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim != 2:
        raise ConfigError(f"scores must be an n x m array, got shape {Y.shape}")
    valid = ~np.isnan(Y).any(axis=1)
    mask = valid.copy()
    for i in np.flatnonzero(valid):
        others = Y[valid]
        dominated = np.all(others <= Y[i], axis=1) & np.any(others < Y[i], axis=1)
        mask[i] = not dominated.any()
    return mask


def pareto_front(
    records: Sequence[TrialRecord], directions: Sequence[Direction | str]
) -> list[TrialRecord]:
    """The COMPLETE trials that no other COMPLETE trial dominates, by trial number.

    Args:
        records: Trials of a study (other states and trials without values are ignored).
        directions: One direction per objective ('minimize' / 'maximize' or `Direction`).

    Returns:
        The Pareto-optimal trials. With one objective: every trial tied for the best value.

    Raises:
        ConfigError: A trial has a different number of values than there are directions.
    """
    dirs = tuple(Direction.parse(d, "directions") for d in directions)
    done = [r for r in records if r.state is TrialState.COMPLETE and r.values is not None]
    for r in done:
        if len(r.values or ()) != len(dirs):
            raise ConfigError(
                f"trial {r.number} has {len(r.values or ())} values but the study has "
                f"{len(dirs)} directions; report one value per objective"
            )
    if not done:
        return []
    Y = np.array([r.scores(dirs) for r in done], dtype=np.float64)
    mask = nondominated_mask(Y)
    return sorted((r for r, keep in zip(done, mask, strict=True) if keep), key=lambda r: r.number)


def hypervolume(
    values: np.ndarray | Sequence[Sequence[float]],
    reference: Sequence[float],
    directions: Sequence[Direction | str] | None = None,
) -> float:
    """Volume of the region dominated by `values` and bounded by the `reference` point.

    Exact for any number of objectives: a sweep for two, recursive slicing along the last
    objective for more (fast for fronts of a few hundred points and up to about 4 objectives).

    Args:
        values: An `n x m` array of objective values (raw, in the given directions).
        reference: `m` values, each worse than every point of interest (above for minimized
            objectives, below for maximized ones). Points not strictly better than the reference
            in every objective add nothing.
        directions: One per objective (default: all minimized).

    Returns:
        The hypervolume (0.0 when no point beats the reference).

    Example:
        >>> hypervolume([[1.0, 2.0], [2.0, 1.0]], reference=[3.0, 3.0])
        3.0
    """
    Y = np.asarray(values, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    if Y.size == 0:
        return 0.0
    Y = np.atleast_2d(Y)
    if ref.ndim != 1 or Y.shape[1] != ref.shape[0]:
        raise ConfigError(
            f"values are n x {Y.shape[1]} but the reference point has shape {ref.shape}; give "
            "one reference value per objective"
        )
    if directions is not None:
        if len(directions) != ref.shape[0]:
            raise ConfigError(f"{len(directions)} directions for {ref.shape[0]} objectives")
        sign = np.array([Direction.parse(d, "directions").sign for d in directions])
        Y, ref = Y * sign, ref * sign
    Y = Y[~np.isnan(Y).any(axis=1)]
    Y = Y[np.less(Y, ref).all(axis=1)]
    if len(Y) == 0:
        return 0.0
    Y = Y[nondominated_mask(Y)]
    return float(_hv(Y, ref))


def _hv(Y: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume of minimization points that all beat `ref` strictly."""
    m = Y.shape[1]
    if m == 1:
        return float(ref[0] - Y[:, 0].min())
    if m == 2:
        order = np.argsort(Y[:, 0], kind="stable")
        total, best_y = 0.0, ref[1]
        for x, y in Y[order]:
            if y < best_y:
                total += (ref[0] - x) * (best_y - y)
                best_y = y
        return total
    order = np.argsort(Y[:, -1], kind="stable")
    Y = Y[order]
    total = 0.0
    for i in range(len(Y)):
        upper = Y[i + 1, -1] if i + 1 < len(Y) else ref[-1]
        depth = upper - Y[i, -1]
        if depth <= 0:
            continue
        slab = Y[: i + 1, :-1]
        total += _hv(slab[nondominated_mask(slab)], ref[:-1]) * depth
    return total
