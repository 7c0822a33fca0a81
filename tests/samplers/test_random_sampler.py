"""RandomSampler and SobolSampler: valid, seeded, conditional-aware proposals."""

from __future__ import annotations

from lightning_autotune.samplers import RandomSampler, Sampler, SobolSampler
from lightning_autotune.samplers._random import sobol_points
from lightning_autotune.space import Categorical, Conditional, Float, Int, SearchSpace
from lightning_autotune.trial import TrialRecord, TrialState

SPACE = SearchSpace(
    {
        "lr": Float(1e-5, 1e-1, log=True),
        "layers": Int(1, 6),
        "optimizer": Categorical(["adam", "sgd"]),
        "momentum": Float(0.5, 0.99, when={"optimizer": "sgd"}),
        "model": Categorical(["resnet", "vit"]),
        "depth": Conditional("model", {"resnet": [18, 34], "vit": [12]}),
    }
)


def _records(configs: list[dict], state: TrialState) -> list[TrialRecord]:
    return [
        TrialRecord(trial_id=i, number=i, state=state, params=c, values=(1.0,))
        for i, c in enumerate(configs)
    ]


def test_random_sampler_proposals_are_valid():
    configs = RandomSampler().suggest(SPACE, [], n=20, seed=0)
    assert len(configs) == 20
    for c in configs:
        assert SPACE.validate(c) == c
        assert ("momentum" in c) == (c["optimizer"] == "sgd")


def test_random_sampler_is_seeded():
    a = RandomSampler().suggest(SPACE, [], n=5, seed=1)
    assert a == RandomSampler().suggest(SPACE, [], n=5, seed=1)
    assert a != RandomSampler().suggest(SPACE, [], n=5, seed=2)


def test_sobol_sampler_continues_one_sequence():
    sampler = SobolSampler(seed=3)
    first = sampler.suggest(SPACE, [], n=4)
    assert first == sobol_points(SPACE, start=0, n=4, seed=3)
    # With 4 trials recorded (finished or pending), the next proposals are points 4 and 5.
    history = _records(first[:3], TrialState.COMPLETE)
    pending = _records(first[3:], TrialState.RUNNING)
    nxt = sampler.suggest(SPACE, history, pending=pending, n=2)
    assert nxt == sobol_points(SPACE, start=0, n=6, seed=3)[4:]
    for c in first + nxt:
        assert SPACE.validate(c) == c
    assert SobolSampler(seed=4).suggest(SPACE, [], n=4) != first


def test_sobol_sampler_ignores_the_per_call_seed():
    sampler = SobolSampler(seed=0)
    assert sampler.suggest(SPACE, [], n=2, seed=1) == sampler.suggest(SPACE, [], n=2, seed=2)


def test_samplers_are_samplers_with_reprs():
    assert isinstance(RandomSampler(), Sampler) and isinstance(SobolSampler(), Sampler)
    assert repr(RandomSampler()) == "RandomSampler()"
    assert repr(SobolSampler(seed=5)) == "SobolSampler(seed=5)"
