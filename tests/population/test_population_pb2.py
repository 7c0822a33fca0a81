"""PB2's data and explore step on lineages: which intervals count, when and against what."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from lightning_autotune.population import (
    PB2,
    BoundaryResult,
    CopyReason,
    Lineage,
    PopulationBasedTraining,
    Segment,
)
from lightning_autotune.population._pb2_data import IntervalRecord, improvement_data
from lightning_autotune.population._policy import decide
from lightning_autotune.space import SearchSpace

SPACE = SearchSpace.from_dict({"lr": {"type": "continuous", "min": 0.0, "max": 1.0}})


def _copied() -> dict[int, Lineage]:
    """Member 1 trained with lr 0.5, then copied member 0 (lr 0.1) at boundary 2 with lr 0.9."""
    donor = Lineage(
        0, (Segment(0, {"lr": 0.1}),), tuple(BoundaryResult(k, 1.0 - 0.1 * k) for k in (1, 2, 3))
    )
    reason = CopyReason.UNDERPERFORMING
    copier = Lineage(
        1,
        (Segment(0, {"lr": 0.1}), Segment(2, {"lr": 0.9}, 0, reason)),  # lr 0.5 is not on record
        (BoundaryResult(1, 0.95), BoundaryResult(2, 0.93), BoundaryResult(3, 0.6)),
        ((2, 0, reason),),
    )
    return {0: donor, 1: copier}


def test_a_member_s_intervals_before_its_copy_are_not_paired_with_the_copied_schedule() -> None:
    X, y = improvement_data(SPACE, ("lr",), _copied(), interval=1)
    rows = sorted(
        zip(X[:, 0].tolist(), X[:, 1].round(6).tolist(), y.round(6).tolist(), strict=True)
    )
    # donor: 0.9 -> 0.8 -> 0.7; copier after its copy: from the donor's 0.8 at boundary 2 to 0.6
    assert rows == [(2.0, 0.1, 0.1), (3.0, 0.1, 0.1), (3.0, 0.9, 0.2)]


def test_a_member_s_own_record_keeps_the_intervals_its_lineage_forgot() -> None:
    own = (IntervalRecord(2, {"lr": 0.5}, 0.95, 0.93), IntervalRecord(3, {"lr": 0.9}, 0.8, 0.6))
    assert IntervalRecord.decode(own[0].encode()) == own[0]
    X, y = improvement_data(SPACE, ("lr",), _copied(), interval=1, history={1: own})
    rows = sorted(
        zip(X[:, 0].tolist(), X[:, 1].round(6).tolist(), y.round(6).tolist(), strict=True)
    )
    assert rows == [(2.0, 0.1, 0.1), (2.0, 0.5, 0.02), (3.0, 0.1, 0.1), (3.0, 0.9, 0.2)]


def test_pb2_asks_for_the_coming_interval_with_the_other_members_pending(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, Any] = {}

    def spy(X: np.ndarray, y: np.ndarray, **kwargs: Any) -> np.ndarray:
        seen.update(kwargs)
        return np.array([0.42])

    monkeypatch.setattr("lightning_autotune.samplers._pb2.pb2_suggest", spy)
    pop = _copied()
    pop[2] = Lineage(2, (Segment(0, {"lr": 0.3}),), (BoundaryResult(3, 0.5),))
    params = PB2(seed=0).explore(SPACE, {"lr": 0.1}, pop, 3, np.random.default_rng(0), member=1)
    assert params == {"lr": pytest.approx(0.42)}
    assert seen["t_now"] == 4.0  # the new values train from boundary 3 to boundary 4
    assert sorted(seen["pending"][:, 0].round(6).tolist()) == [0.1, 0.3]  # members 0 and 2
    assert seen["beta"] is None


def test_the_bottom_quantile_is_rounded_up_as_in_ray_tune() -> None:
    # 5 members, quantile 0.25: ceil(1.25) = 2 copy (the second-worst too), capped at n // 2
    pop = {
        m: Lineage(m, (Segment(0, {"lr": 0.5}),), (BoundaryResult(1, float(m), None),))
        for m in range(5)
    }
    pop[0] = Lineage(0, (Segment(0, {"lr": 0.5}),), (BoundaryResult(1, 0.0, __file__),))
    pop[1] = Lineage(1, (Segment(0, {"lr": 0.5}),), (BoundaryResult(1, 1.0, __file__),))
    config = PopulationBasedTraining(quantile=0.25, resample_prob=0.0, perturbation=(1.0,))
    rng = np.random.default_rng(0)
    second_worst = decide(config, SPACE, pop[3], pop, 1, rng)
    assert second_worst is not None and second_worst.parent in (0, 1)
    assert decide(config, SPACE, pop[2], pop, 1, rng) is None
