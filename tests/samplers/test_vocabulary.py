"""Both BoTorch samplers name their settings alike; the old names still work, with a warning."""

from __future__ import annotations

import pytest

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.samplers import (
    BoTorchSampler,
    MultiObjectiveBoTorchSampler,
    RandomSampler,
    SobolSampler,
)

SHARED = {"n_initial_points": 7, "raw_samples": 64, "num_restarts": 3, "seed": 11}


@pytest.mark.parametrize("cls", [BoTorchSampler, MultiObjectiveBoTorchSampler])
def test_both_samplers_take_one_set_of_names(cls: type) -> None:
    sampler = cls(**SHARED)
    assert {k: getattr(sampler, k) for k in SHARED} == SHARED


@pytest.mark.parametrize(
    ("cls", "old", "new"),
    [
        (BoTorchSampler, "n_raw", "raw_samples"),
        (BoTorchSampler, "n_restarts", "num_restarts"),
        (MultiObjectiveBoTorchSampler, "n_startup_trials", "n_initial_points"),
        (MultiObjectiveBoTorchSampler, "sobol_seed", "seed"),
    ],
)
def test_old_names_are_deprecated_and_name_the_new_one(cls: type, old: str, new: str) -> None:
    with pytest.warns(DeprecationWarning, match=rf"\({old}=\.\.\.\) is deprecated; use {new}="):
        sampler = cls(**{old: 9})
    assert getattr(sampler, new) == 9
    with pytest.raises(ConfigError, match=rf"{old} is the deprecated name of {new}; give {new}"):
        cls(**{old: 9, new: 8})


def test_old_attribute_names_of_the_multiobjective_sampler_still_read() -> None:
    sampler = MultiObjectiveBoTorchSampler(n_initial_points=4, seed=2)
    with pytest.warns(DeprecationWarning, match=r"sobol_seed is deprecated; use \.seed"):
        assert sampler.sobol_seed == 2
    with pytest.warns(DeprecationWarning, match=r"n_startup_trials is deprecated"):
        assert sampler.n_startup_trials == 4


@pytest.mark.parametrize("cls", [BoTorchSampler, MultiObjectiveBoTorchSampler])
@pytest.mark.parametrize("field", ["raw_samples", "num_restarts", "n_initial_points"])
def test_sizes_are_checked_alike(cls: type, field: str) -> None:
    with pytest.raises(ConfigError, match=rf"{field} must be an integer >= 1, got 0"):
        cls(**{field: 0})


@pytest.mark.parametrize(
    "cls", [BoTorchSampler, MultiObjectiveBoTorchSampler, RandomSampler, SobolSampler]
)
@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_every_sampler_checks_its_seed(cls: type, bad: object) -> None:
    with pytest.raises(
        ConfigError, match=rf"{cls.__name__}: seed must be an integer >= 0, got {bad!r}; or None"
    ):
        cls(seed=bad)
