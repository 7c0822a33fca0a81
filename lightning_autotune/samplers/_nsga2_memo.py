"""What NSGA2Sampler computes per finished trial, kept between calls: a time saver only.

Every suggestion needs, over the whole history, each finished trial's scores and constraint
violation, the dominance between the feasible ones, and the set of configurations already
tried. A finished trial never changes, so when the history of a call extends the history of
the previous call (the same records, in the same order, then new ones) the memo computes
only the new trials' parts and appends them; the arrays it returns are then, value for value,
those computed from scratch. Any other history (another study, a trial finished out of order)
starts the memo over. Nothing in it is needed for correctness: a fresh memo gives the same
suggestions.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from lightning_autotune.constraints import OutcomeConstraint
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.samplers._nsga2_ops import dominance, dominance_between
from lightning_autotune.trial import Direction, TrialRecord, TrialState

__all__ = ["HistoryMemo", "config_key"]


class HistoryMemo:
    """The per-trial parts of NSGA-II's input, continued from the last call's history."""

    def __init__(self) -> None:
        self._setting: tuple[Any, ...] | None = None
        self._history: list[TrialRecord] = []
        self._known: set[Any] = set()
        self._records: list[TrialRecord] = []  # COMPLETE trials with finite values
        self._F = np.zeros((0, 0))  # their lower-is-better scores
        self._violation = np.zeros(0)  # their total violations
        self._dom = np.zeros((0, 0), dtype=bool)  # between the feasible ones, in order
        self._feasible: list[int] = []  # their positions in `_rows`

    def update(
        self,
        history: Sequence[TrialRecord],
        dirs: tuple[Direction, ...],
        constraints: tuple[OutcomeConstraint, ...],
    ) -> tuple[list[TrialRecord], np.ndarray, np.ndarray, np.ndarray, set[Any]]:
        """Bring the memo to `history`.

        Returns:
            The COMPLETE trials with finite values (in history order), their `n x m`
            lower-is-better scores, their `n` total violations, the dominance matrix of the
            feasible ones (in order), and the keys of every configuration in `history` (the
            memo's own set: copy it before adding to it).

        Raises:
            ConfigError: A trial has another number of values than there are directions.
        """
        setting = (dirs, tuple(c.text for c in constraints))
        start = len(self._history)
        if setting != self._setting or not _extends(history, self._history):
            self.__init__()  # type: ignore[misc]
            self._setting, start = setting, 0
        signs = np.array([d.sign for d in dirs], dtype=np.float64)
        before = len(self._feasible)
        rows, violations = [], []
        for record in history[start:]:
            self._known.add(config_key(record.params))
            if record.state is not TrialState.COMPLETE or record.values is None:
                continue
            if len(record.values) != len(dirs):
                raise ConfigError(
                    f"trial {record.number} has {len(record.values)} values but the study has "
                    f"{len(dirs)} directions"
                )
            row = np.array(record.values, dtype=np.float64) * signs
            if not np.isfinite(row).all():
                continue
            violation = float(sum(_violation(record, c) for c in constraints))
            if violation <= 0:
                self._feasible.append(len(self._records))
            self._records.append(record)
            rows.append(row)
            violations.append(violation)
        self._history = list(history)
        if start == 0:
            self._F = np.zeros((0, len(dirs)))
        if rows:
            self._F = np.vstack([self._F, np.array(rows)])
            self._violation = np.concatenate([self._violation, violations])
        if len(self._feasible) > before:
            self._dom = _extend(self._dom, self._F[self._feasible], before)
        return list(self._records), self._F, self._violation, self._dom, self._known


def _extends(history: Sequence[TrialRecord], seen: list[TrialRecord]) -> bool:
    """Whether `history` starts with the records `seen` (a record is immutable once finished)."""
    if len(history) < len(seen):
        return False
    return all(a is b or a == b for a, b in zip(seen, history, strict=False))


def _extend(dom: np.ndarray, G: np.ndarray, k: int) -> np.ndarray:
    """The dominance matrix of `G` from that of its first `k` rows (`dom`)."""
    if k == 0:
        return dominance(G)
    n = len(G)
    out = np.empty((n, n), dtype=bool)
    out[:k, :k] = dom
    out[:, k:] = dominance_between(G, G[k:])
    out[k:, :k] = dominance_between(G[k:], G[:k])
    return out


def _violation(record: TrialRecord, constraint: OutcomeConstraint) -> float:
    """How far the last reported value of the constraint's metric is out (inf: never reported)."""
    metrics = record.metrics
    if not metrics:
        return math.inf
    value = metrics[max(metrics)].get(constraint.metric)  # the last step holds it, usually
    if value is None:
        for step in sorted(metrics, reverse=True):
            value = metrics[step].get(constraint.metric)
            if value is not None:
                break
        else:
            return math.inf
    v = float(value)
    return math.inf if math.isnan(v) else max(0.0, constraint.violation(v))


def config_key(config: Any) -> Any:
    """A hashable key of a configuration (to refuse repeating one)."""
    try:
        return frozenset(config.items())
    except TypeError:  # an unhashable value
        return json.dumps(dict(config), sort_keys=True, default=str)
