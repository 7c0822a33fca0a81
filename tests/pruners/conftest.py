"""Hand-made trial histories for the pruner tests."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from lightning_autotune.trial import TrialRecord, TrialState


def make_record(
    number: int,
    curve: Mapping[int, float],
    state: TrialState = TrialState.COMPLETE,
    value: float | None = None,
) -> TrialRecord:
    """A trial with intermediate values `curve`; COMPLETE ones get their last value as final."""
    values = None
    if state is TrialState.COMPLETE:
        final = value if value is not None else curve[max(curve)]
        values = (final,)
    return TrialRecord(
        trial_id=number + 100,
        number=number,
        state=state,
        params={"x": number},
        values=values,
        intermediate=dict(curve),
    )


@pytest.fixture(scope="session")
def record():
    return make_record
