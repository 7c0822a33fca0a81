"""The study's split of a read into the sampler's history, continued from the last read."""

from __future__ import annotations

from dataclasses import replace

from lightning_autotune.study._faults import count_proposals
from lightning_autotune.study._history import SplitMemo
from lightning_autotune.trial import FailureKind, TrialRecord, TrialState


def _from_scratch(trials):
    history = [t for t in trials if t.state.is_finished and t.kind is not FailureKind.SETUP_ERROR]
    oom = [t for t in history if t.kind is FailureKind.OOM]
    return history, oom, count_proposals(trials)


def _trial(i: int, state: TrialState, kind: FailureKind | None = None, **kw) -> TrialRecord:
    values = (float(i),) if state is TrialState.COMPLETE else None
    return TrialRecord(i, i, state, {"x": i / 10}, values=values, kind=kind, **kw)


def test_a_continued_split_is_the_split_of_each_read():
    memo = SplitMemo()
    trials: list[TrialRecord] = []
    reads = []
    for i in range(30):
        if i % 7 == 3:
            trials.append(_trial(i, TrialState.FAILED, FailureKind.OOM))
        elif i % 11 == 5:
            trials.append(_trial(i, TrialState.FAILED, FailureKind.SETUP_ERROR))
        elif i % 9 == 8:
            trials.append(_trial(i, TrialState.COMPLETE, retry_of=i - 1))
        else:
            trials.append(_trial(i, TrialState.RUNNING))
        if i % 4 == 0:  # a running trial in the middle finishes late
            trials[i // 2] = replace(trials[i // 2], state=TrialState.COMPLETE, values=(0.5,))
        if i % 5 == 0:  # another trial is annotated: a new record of the same trial
            trials[i // 3] = replace(trials[i // 3], user_attrs={"note": i})
        reads.append(list(trials))
    reads.append(reads[10])  # an older read after newer ones
    reads.append([_trial(0, TrialState.PRUNED)])  # another study's read
    for read in reads:
        got = memo.split(read)
        assert (got.history, got.oom, got.proposals) == _from_scratch(read)
        for a, b in zip(got.history, _from_scratch(read)[0], strict=True):
            assert a is b
