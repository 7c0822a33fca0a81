"""What the sampler is handed from a read of the study, continued from the previous read.

Every proposal splits the study's trials into the sampler's history (the finished trials,
setup errors left out), the configurations that ran out of memory, and the count of
proposals so far: three passes over every trial, thousands of them in a long study. A finished
trial never changes, and a store hands back the same record object for it read after read,
so the split of the longest run of finished trials at the front of the last read is kept and
only the trials after it are split again. A read whose front is not those very records (a
trial annotated since, another store) is split from scratch: the result is always the split
of the read itself.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass

from lightning_autotune.study._faults import count_proposals
from lightning_autotune.trial import FailureKind, TrialRecord, TrialState

__all__ = ["HistorySplit", "SplitMemo"]

_FINISHED = frozenset({TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED})


@dataclass(frozen=True)
class HistorySplit:
    """One read's trials as the sampler needs them.

    Attributes:
        history: The finished trials, by number, without those ended by a setup error.
        oom: The trials of `history` that ran out of memory (kind OOM).
        proposals: How many of the trials count as proposals (`count_proposals`).
    """

    history: list[TrialRecord]
    oom: list[TrialRecord]
    proposals: int


def _split(trials: Sequence[TrialRecord]) -> HistorySplit:
    setup_error, oom_kind = FailureKind.SETUP_ERROR, FailureKind.OOM
    finished = _FINISHED
    history = [t for t in trials if t.state in finished and t.kind is not setup_error]
    return HistorySplit(
        history, [t for t in history if t.kind is oom_kind], count_proposals(trials)
    )


class SplitMemo:
    """The split of the finished front of the last read, continued by the next read."""

    def __init__(self) -> None:
        # One tuple, replaced whole: threads asking at once each see a consistent pair.
        self._state: tuple[list[TrialRecord], HistorySplit] = ([], _split(()))

    def split(self, trials: Sequence[TrialRecord]) -> HistorySplit:
        """The `HistorySplit` of `trials` (a read's trials, by number)."""
        front, done = self._state
        k = len(front)
        if len(trials) < k or not all(map(operator.is_, front, trials)):
            front, done, k = [], _split(()), 0
        end = k
        finished = _FINISHED
        while end < len(trials) and trials[end].state in finished:
            end += 1
        if end > k:
            more = _split(trials[k:end])
            done = HistorySplit(
                done.history + more.history, done.oom + more.oom, done.proposals + more.proposals
            )
            self._state = (list(trials[:end]), done)
        rest = _split(trials[end:])
        return HistorySplit(
            done.history + rest.history, done.oom + rest.oom, done.proposals + rest.proposals
        )
