"""The named rule that picks the acquisition of a point chosen while others are in flight."""

from __future__ import annotations

from typing import Any

import pytest

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.samplers import BatchPolicy, BoTorchSampler
from lightning_autotune.samplers._acquisition import DirectLogEI
from lightning_autotune.space import Float, SearchSpace
from lightning_autotune.trial import TrialRecord, TrialState

SPACE = SearchSpace({"x0": Float(0.0, 1.0), "x1": Float(0.0, 1.0)})


def _history(n: int) -> list[TrialRecord]:
    configs = SPACE.sample(n, 0)
    return [
        TrialRecord(i, i, TrialState.COMPLETE, c, values=((c["x0"] - 0.3) ** 2 + c["x1"],))
        for i, c in enumerate(configs)
    ]


def test_alternate_takes_the_believer_for_an_odd_number_in_flight() -> None:
    policy = BatchPolicy.ALTERNATE
    assert [policy.uses_believer(k) for k in (1, 2, 3, 4)] == [True, False, True, False]
    assert all(BatchPolicy.BELIEVER.uses_believer(k) for k in (1, 2, 3))
    assert not any(BatchPolicy.QLOGNEI.uses_believer(k) for k in (1, 2, 3))


def test_the_default_is_alternate_and_names_parse() -> None:
    assert BoTorchSampler().batch_policy is BatchPolicy.ALTERNATE
    assert BoTorchSampler(batch_policy="Believer").batch_policy is BatchPolicy.BELIEVER
    with pytest.raises(ConfigError, match=r"batch_policy must be one of .*got 'kb'"):
        BoTorchSampler(batch_policy="kb")


@pytest.mark.parametrize("policy", list(BatchPolicy))
def test_each_policy_picks_its_acquisition_and_proposes_a_batch(
    policy: BatchPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    sampler = BoTorchSampler(
        n_initial_points=4, batch_policy=policy, raw_samples=64, num_restarts=2
    )
    believer: list[bool] = []
    real = BoTorchSampler._acquisition_in_flight

    def spy(self: BoTorchSampler, *args: Any) -> Any:
        acqf = real(self, *args)
        believer.append(isinstance(acqf, DirectLogEI))
        return acqf

    monkeypatch.setattr(BoTorchSampler, "_acquisition_in_flight", spy)
    batch = sampler.suggest(SPACE, _history(8), n=4, seed=0)
    assert len({tuple(sorted(c.items())) for c in batch}) == 4
    # the batch's points 2, 3 and 4 have 1, 2 and 3 points in flight
    assert believer == [policy.uses_believer(k) for k in (1, 2, 3)]
