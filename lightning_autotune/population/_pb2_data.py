"""PB2's data: how much each interval of each member improved, and under which hyperparameters."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from lightning_autotune._lineage import CopyReason, Lineage
from lightning_autotune.space import SearchSpace

__all__ = ["improvement_data"]


def improvement_data(
    space: SearchSpace,
    names: Sequence[str],
    population: Mapping[int, Lineage],
    interval: int,
) -> tuple[np.ndarray, np.ndarray]:
    """One row per member and interval: `(boundary, encoded hyperparameters)` -> improvement.

    The improvement of interval k (from boundary k-1 to k) is the value the weights had at its
    start minus the value at its end (lower is better, so positive is progress). A member that
    copied another at boundary k-1 started from the copied member's value there. Intervals with
    a NaN at either end are left out.

    Returns:
        `X`: `n x (1 + d)`, the boundary then the `d` encoded columns of `names`; `y`: `n`.
    """
    cols = [i for n in names for i in range(*space.column_span(n))]
    rows: list[np.ndarray] = []
    ys: list[float] = []
    for lineage in population.values():
        for result in lineage.results:
            k = result.boundary
            start_epoch = (k - 1) * interval
            segment = [s for s in lineage.segments if s.start_epoch <= start_epoch][-1]
            if k == 1:
                continue  # no value before the first interval to improve on
            if segment.start_epoch == start_epoch and segment.reason is not CopyReason.START:
                donor = population.get(segment.parent) if segment.parent is not None else None
                before = donor.result_at(k - 1) if donor is not None else None
            else:
                before = lineage.result_at(k - 1)
            if before is None or not math.isfinite(before.value) or not math.isfinite(result.value):
                continue
            encoded = space.encode([_complete(space, segment.params)])[0]
            rows.append(np.concatenate([[float(k)], encoded[cols]]))
            ys.append(before.value - result.value)
    if not rows:
        return np.zeros((0, 1 + len(cols))), np.zeros(0)
    return np.stack(rows), np.asarray(ys, dtype=float)


def _complete(space: SearchSpace, params: Mapping[str, object]) -> dict[str, object]:
    # Segments keep every param of the member; an older or partial record gets defaults.
    filler = space.sample(1, 0)[0]
    return {**filler, **dict(params)}
