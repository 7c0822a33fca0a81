"""What a read of a study hands back besides its trials: rows that could not be read.

A store written by hand, by a crashed tool or by a newer version can hold a row that does not
decode (parameters that are not JSON, an unknown state). Such a trial row is quarantined: every
read skips it and warns once per process, so the rest of the study stays usable, and
`lightning-autotune studies check` lists it.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass

from lightning_autotune.trial import TrialRecord

__all__ = ["MalformedRow", "StudyTrials", "warn_malformed"]


@dataclass(frozen=True)
class MalformedRow:
    """A stored row that does not decode.

    Attributes:
        study: The study's name (its id in brackets when the name itself is unreadable).
        column: The table and column that does not decode, e.g. 'trials.params'.
        problem: What is wrong with the value, in words.
        trial_id: The trial row's id; None for a study row.
        number: The trial's number; None for a study row, or when the number is what is wrong.
    """

    study: str
    column: str
    problem: str
    trial_id: int | None = None
    number: int | None = None

    def describe(self) -> str:
        """One line naming the study, the trial and the column."""
        if self.trial_id is None:
            return f"study {self.study!r}: column {self.column} {self.problem}"
        who = f"trial {self.number}" if self.number is not None else f"trial id {self.trial_id}"
        return f"study {self.study!r} {who}: column {self.column} {self.problem}"


@dataclass(frozen=True)
class StudyTrials:
    """One read of a study's trials.

    Attributes:
        trials: The trials that decode, by number.
        next_number: The number the next trial will get: above every row of the study,
            malformed ones included.
        malformed: The study's trial rows that do not decode (skipped from `trials`).
        live: The WAITING and RUNNING trials of `trials`, by number, when the read knows them
            apart (None: `unfinished` finds them).
    """

    trials: list[TrialRecord]
    next_number: int
    malformed: tuple[MalformedRow, ...] = ()
    live: tuple[TrialRecord, ...] | None = None

    def unfinished(self) -> tuple[TrialRecord, ...]:
        """The WAITING and RUNNING trials, by number; a store that read them apart spares a
        pass over every trial (10,000 in a large study) at each proposal."""
        if self.live is not None:
            return self.live
        return tuple(t for t in self.trials if not t.state.is_finished)


_warned: set[tuple[str, int | None, str, str]] = set()
_warned_lock = threading.Lock()


def warn_malformed(store: str, row: MalformedRow) -> None:
    """Warn that `row` is skipped, once per process for each store, row and column."""
    key = (store, row.trial_id, row.study, row.column)
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    warnings.warn(
        f"{row.describe()}; the {'trial' if row.trial_id is not None else 'study'} is "
        "skipped by every read (quarantined). Run "
        "`lightning-autotune studies check --storage URL` to list such rows, then repair or "
        "delete them",
        UserWarning,
        stacklevel=3,
    )
