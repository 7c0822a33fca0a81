"""What to call a study's objectives on plot axes: the metric's name where the study knows it.

In order: the study's user attribute `objective_names` (one name per objective), its user
attribute `monitor` (one objective), the logged metric whose value every reported step equals
(what `AutoTuneCallback` records beside the objective), and last "objective" (or "objective i"
for several).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from lightning_autotune.trial import TrialRecord, TrialState

__all__ = ["OBJECTIVE_NAMES_ATTR", "objective_names"]

OBJECTIVE_NAMES_ATTR = "objective_names"
"""Study user attribute holding one name per objective, e.g. ['val_loss']."""

_MONITOR_ATTR = "monitor"
_INFER_FROM = 20  # trials looked at when inferring the metric (finished ones first)


def objective_names(
    n_objectives: int, trials: Sequence[TrialRecord], attrs: Mapping[str, Any] | None = None
) -> tuple[str, ...]:
    """One display name per objective.

    Args:
        n_objectives: How many objectives the study has.
        trials: Its trials (used to infer a single objective's metric name).
        attrs: The study's user attributes (None for bare records).

    Example:
        >>> objective_names(1, [], {"objective_names": ["val_loss"]})
        ('val_loss',)
        >>> objective_names(2, [])
        ('objective 0', 'objective 1')
    """
    attrs = attrs or {}
    stored = attrs.get(OBJECTIVE_NAMES_ATTR)
    if (
        isinstance(stored, (list, tuple))
        and len(stored) == n_objectives
        and all(isinstance(n, str) and n for n in stored)
    ):
        return tuple(stored)
    if n_objectives == 1:
        monitor = attrs.get(_MONITOR_ATTR)
        if isinstance(monitor, str) and monitor:
            return (monitor,)
        inferred = _reported_metric(trials)
        return (inferred or "objective",)
    return tuple(f"objective {i}" for i in range(n_objectives))


def _reported_metric(trials: Sequence[TrialRecord]) -> str | None:
    """The one logged metric equal to the reported objective at every step, if there is one."""
    chosen = sorted(trials, key=lambda t: t.state is not TrialState.COMPLETE)[:_INFER_FROM]
    candidates: set[str] | None = None
    for t in chosen:
        for step, value in t.intermediate.items():
            metrics = t.metrics.get(step)
            if not metrics:
                continue
            same = {k for k, v in metrics.items() if _equal(v, value)}
            candidates = same if candidates is None else candidates & same
            if not candidates:
                return None
    if candidates is None or len(candidates) != 1:
        return None
    return next(iter(candidates))


def _equal(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))
