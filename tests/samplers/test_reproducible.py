"""A seed given to the sampler or to the study makes the whole sequence of proposals repeat.

Fifteen trials pass the initial design, so the model-based proposals are covered too; the global
torch generator is neither read nor moved by them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from lightning_autotune.samplers import (
    BoTorchSampler,
    MultiObjectiveBoTorchSampler,
    RandomSampler,
    Sampler,
    SobolSampler,
)
from lightning_autotune.study import create_study

SPACE: dict[str, Any] = {
    "x": {"type": "continuous", "min": -1.0, "max": 1.0},
    "y": {"type": "continuous", "min": 1e-3, "max": 1.0, "scale": "log"},
    "n": {"type": "integer", "min": 1, "max": 8},
}
N_TRIALS = 15


def _value(p: dict[str, Any]) -> float:
    return (p["x"] - 0.3) ** 2 + (p["y"] - 0.1) ** 2 + 0.01 * p["n"]


def _two_values(p: dict[str, Any]) -> tuple[float, float]:
    return _value(p), (p["x"] + 0.5) ** 2 + 0.02 * p["n"]


SAMPLERS: dict[str, Callable[[int | None], Sampler]] = {
    "botorch": lambda s: BoTorchSampler(
        n_initial_points=4, seed=s, raw_samples=128, num_restarts=2
    ),
    "multiobjective": lambda s: MultiObjectiveBoTorchSampler(
        n_initial_points=4, raw_samples=64, num_restarts=2, seed=s
    ),
    "random": lambda s: RandomSampler(seed=s),
    "sobol": lambda s: SobolSampler(seed=s),
}


def _run(name: str, sampler_seed: int | None, study_seed: int | None) -> list[dict[str, Any]]:
    two = name == "multiobjective"
    study = create_study(
        space=SPACE,
        directions=["minimize", "minimize"] if two else None,
        sampler=SAMPLERS[name](sampler_seed),
        seed=study_seed,
    )
    for _ in range(N_TRIALS):
        trial = study.ask()
        params = dict(trial.params)
        study.tell(trial, _two_values(params) if two else _value(params))
    return [dict(t.params) for t in study.trials]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_a_seeded_sampler_repeats_its_whole_sequence(name: str) -> None:
    torch.manual_seed(1)
    first = _run(name, 5, None)
    torch.manual_seed(2)  # the global generator's state does not matter...
    second = _run(name, 5, None)
    assert first == second
    assert _run(name, 6, None) != first


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_a_seeded_study_repeats_its_whole_sequence(name: str) -> None:
    first = _run(name, None, 5)
    assert _run(name, None, 5) == first
    assert _run(name, None, 6) != first


@pytest.mark.slow
def test_proposals_leave_the_global_generator_alone() -> None:
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    _run("botorch", 5, None)
    _run("multiobjective", 5, None)
    assert torch.equal(torch.rand(3), expected)
