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
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from lightning_autotune.constraints import OutcomeConstraint
from lightning_autotune.exceptions import ConfigError
from lightning_autotune.samplers._nsga2_ops import dominance_between
from lightning_autotune.space import SearchSpace
from lightning_autotune.trial import Direction, TrialRecord, TrialState

__all__ = ["HistoryMemo", "SobolDesign", "config_key"]


class HistoryMemo:
    """The per-trial parts of NSGA-II's input, continued from the last call's history."""

    def __init__(self) -> None:
        self._setting: tuple[Any, ...] | None = None
        self._history: list[TrialRecord] = []
        self._known: set[Any] = set()
        self._records: list[TrialRecord] = []  # COMPLETE trials with finite values
        self._F = np.zeros((0, 0))  # their lower-is-better scores
        self._violation = np.zeros(0)  # their total violations
        # The dominance between the feasible ones, in order, is the top-left corner of a
        # buffer that doubles when full, so a new trial costs its own row and column only.
        self._dom_buffer = np.zeros((0, 0), dtype=bool)
        self._beaten = np.zeros(0, dtype=np.intp)  # column sums of that matrix
        self._feasible: list[int] = []  # their positions in `_records`
        self._G = np.zeros((0, 0))  # their rows of `_F`, in order

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
            new = self._F[self._feasible[before:]]
            self._G = new if before == 0 else np.vstack([self._G, new])
            self._grow(before)
        return list(self._records), self._F, self._violation, self.dominance, self._known

    @property
    def dominance(self) -> np.ndarray:
        """The dominance matrix of the feasible trials (a view of the memo's buffer)."""
        k = len(self._feasible)
        return self._dom_buffer[:k, :k]

    @property
    def beaten(self) -> np.ndarray:
        """How many feasible trials dominate each feasible trial: `dominance.sum(axis=0)`."""
        return self._beaten

    def _grow(self, k: int) -> None:
        """Add the rows and columns of the feasible trials after the first `k`."""
        G = self._G
        n = len(G)
        if n > len(self._dom_buffer):
            buffer = np.zeros((max(n, 2 * len(self._dom_buffer), 64),) * 2, dtype=bool)
            buffer[:k, :k] = self._dom_buffer[:k, :k]
            self._dom_buffer = buffer
        dom = self._dom_buffer
        dom[:n, k:n] = dominance_between(G, G[k:])
        dom[k:n, :k] = dominance_between(G[k:], G[:k])
        beaten = np.empty(n, dtype=np.intp)
        beaten[:k] = self._beaten[:k] + dom[k:n, :k].sum(axis=0)
        beaten[k:] = dom[:n, k:n].sum(axis=0)
        self._beaten = beaten


class SobolDesign:
    """The points of the initial design, drawn once for every trial of it.

    `SearchSpace.sample_sobol` builds and scrambles a Sobol engine at each call, which costs
    more than the rest of a suggestion. The scrambled sequence is a function of the seed, so
    its first `size` points are drawn once and each call decodes its own rows: the same
    configurations, bit for bit. Spaces with constraints or rules (whose design is the
    subsequence of feasible points) and calls past the first `size` points go to
    `sample_sobol` itself.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        # (space, seed, points), replaced whole: threads asking at once see one consistent set
        self._drawn: tuple[SearchSpace, int, np.ndarray] | None = None

    def configs(self, space: SearchSpace, seed: int, start: int, n: int) -> list[dict[str, Any]]:
        """`space.sample_sobol(n, seed=seed, start=start)`."""
        if space.constraints or space.rules or start + n > self._size or n < 1:
            return space.sample_sobol(n, seed=seed, start=start)
        drawn = self._drawn
        if drawn is None or drawn[0] is not space or drawn[1] != seed:
            import warnings

            from scipy.stats import qmc

            engine = qmc.Sobol(d=space.dim, scramble=True, seed=seed)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*balance properties.*")
                drawn = (space, seed, engine.random(self._size))
            self._drawn = drawn
        return space.decode(drawn[2][start : start + n])


def _extends(history: Sequence[TrialRecord], seen: list[TrialRecord]) -> bool:
    """Whether `history` starts with the records `seen` (a record is immutable once finished)."""
    if len(history) < len(seen):
        return False
    # The study hands back the very same record objects, so identity settles it at C speed.
    if all(map(operator.is_, seen, history)):
        return True
    return all(a is b or a == b for a, b in zip(seen, history, strict=False))


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
